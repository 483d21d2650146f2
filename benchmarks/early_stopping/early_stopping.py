"""Throughput with and without predictive early stopping, side by side in one run.

Tables in docs/benchmarks.md: "With and without predictive early stopping".

Runs the tiny GPT example through `arrl run` twice per seed — early stopping on and off, the same
proposer and seed — and reports the experiment time spent and the best val_bpb found. Usage:

    .venv/bin/python benchmarks/early_stopping/early_stopping.py --experiments 10 --budget 12 --seeds 0 1   (the tables; now --budget 60, see docs/benchmarks.md)
    .venv/bin/python benchmarks/early_stopping/early_stopping.py --experiments 10 --budget 30 --seeds 0
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ARRL = Path(sys.executable).with_name("arrl")


def run(seed: int, enabled: bool, experiments: int, budget: int, proposer: str, scratch: Path) -> dict:
    repo = scratch / f"seed{seed}-{'on' if enabled else 'off'}"
    repo.mkdir()
    for name in ("train.py", "corpus.txt"):
        shutil.copy(ROOT / "examples" / "tinygpt" / name, repo / name)
    (repo / "arrl.toml").write_text(
        f'script = "train.py"\nmetric = "val_bpb"\nbudget = {budget}\nseed = {seed}\n'
        f'[plugins]\nproposer = "{proposer}"\n[early_stopping]\nenabled = {str(enabled).lower()}\n')
    for command in (["init", "-q"], ["add", "-A"], ["-c", "user.name=b", "-c", "user.email=b@b", "commit", "-qm", "b"]):
        subprocess.run(["git", "-C", str(repo), *command], check=True)
    subprocess.run([str(ARRL), "run", "--max-experiments", str(experiments)], cwd=repo, check=True,
                   capture_output=True)
    journal = next((repo / ".arrl").glob("*/journal.jsonl"))
    records = [json.loads(line) for line in journal.read_text().splitlines()]
    ok = [float(r["value"]) for r in records if r["outcome"] == "ok"]
    return {"seconds": sum(r["wall_clock_seconds"] for r in records),
            "early_stopped": sum(r["outcome"] == "early_stopped" for r in records),
            "best": min(ok), "records": len(records)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--experiments", type=int, default=10)
    parser.add_argument("--budget", type=int, default=60)  # a cap: the tiny GPT trains 300 steps
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--proposer", default="random")
    args = parser.parse_args()
    print("| seed | early stopping | experiments | early-stopped | experiment seconds | best val_bpb |")
    print("| ---: | --- | ---: | ---: | ---: | ---: |")
    totals = {True: 0.0, False: 0.0}
    with tempfile.TemporaryDirectory() as scratch:
        for seed in args.seeds:
            for enabled in (False, True):
                result = run(seed, enabled, args.experiments, args.budget, args.proposer, Path(scratch))
                totals[enabled] += result["seconds"]
                print(f"| {seed} | {'on' if enabled else 'off'} | {result['records']} | {result['early_stopped']} "
                      f"| {result['seconds']:.1f} | {result['best']:.4f} |", flush=True)
    print(f"\nexperiment time with early stopping / without: {totals[True] / totals[False]:.2f}")


if __name__ == "__main__":
    main()
