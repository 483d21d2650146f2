"""Experiments per hour at 1 worker x 2 threads against 2 workers x 1 thread, on work of fixed size.

Tables in docs/benchmarks.md: "Workers: experiments per hour at 1 and 2 workers".

Two workloads, each through the real `arrl run` (random proposer, the same seed, early stopping
off so that every experiment that runs does the same amount of work):

    digits   the digits MLP (2 x 128, batch 64) for a fixed number of epochs; the proposer edits
             only the learning rate, weight decay and dropout, which do not change the work
    sleep    a script that sleeps instead of computing: isolates arrl's own orchestration

Rates count experiments that ran (duplicates and rejections are not run) over the wall clock of
the whole `arrl run`, baseline included (it runs alone in both set-ups). Usage:

    nice -n 10 .venv/bin/python benchmarks/scaling/scaling.py --workloads sleep --experiments 21 --sleep 2 --rounds 2
    nice -n 10 .venv/bin/python benchmarks/scaling/scaling.py --workloads digits --experiments 9 --epochs 10 --rounds 2
    .venv/bin/python benchmarks/scaling/scaling.py --workloads digits --experiments 33 --epochs 20 --rounds 2 \
        --setups 1x2 2x1
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ARRL = Path(sys.executable).with_name("arrl")

DIGITS = """
import torch
import torch.nn as nn
import torch.nn.functional as F
from sklearn.datasets import load_digits

LEARNING_RATE = 0.001
WEIGHT_DECAY = 0.0001
DROPOUT = 0.1
EPOCHS = {epochs}

torch.manual_seed(0)
digits = load_digits()
x = torch.tensor(digits.data, dtype=torch.float32) / 16.0
y = torch.tensor(digits.target)
order = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))
x, y = x[order], y[order]
split = int(0.8 * len(x))
model = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Dropout(DROPOUT), nn.Linear(128, 128), nn.ReLU(),
                      nn.Dropout(DROPOUT), nn.Linear(128, 10))
optimizer = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE, weight_decay=WEIGHT_DECAY)
for epoch in range(EPOCHS):
    model.train()
    for batch in torch.randperm(split).split(64):
        loss = F.cross_entropy(model(x[:split][batch]), y[:split][batch])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    with torch.no_grad():
        print(f"arrl: step={{epoch}} val_loss={{F.cross_entropy(model(x[split:]), y[split:]).item():.4f}}", flush=True)
"""

SLEEP = """
import math, time
LEARNING_RATE = 0.001
WEIGHT_DECAY = 0.0001
DROPOUT = 0.1
for step in range(4):
    time.sleep({seconds} / 4)
    print(f"arrl: step={{step}} val_loss={{(math.log10(LEARNING_RATE) + 3) ** 2 + DROPOUT + WEIGHT_DECAY:.6f}}")
"""


def measure(script: str, workers: int, threads: int, experiments: int, scratch: Path, seed: int) -> dict:
    repo = scratch / f"w{workers}-t{threads}-{time.monotonic_ns()}"
    repo.mkdir()
    (repo / "train.py").write_text(script)
    (repo / "arrl.toml").write_text(
        f'script = "train.py"\nbudget = 300\nseed = {seed}\nfailure_limit = 100\n'
        '[plugins]\nproposer = "random"\n[early_stopping]\nenabled = false\n')
    for command in (["init", "-q"], ["add", "-A"], ["-c", "user.name=b", "-c", "user.email=b@b", "commit", "-qm", "b"]):
        subprocess.run(["git", "-C", str(repo), *command], check=True)
    load_before = os.getloadavg()[0]
    started = time.monotonic()
    subprocess.run([str(ARRL), "run", "--max-experiments", str(experiments), "--workers", str(workers),
                    "--cpus-per-worker", str(threads)], cwd=repo, check=True, capture_output=True)
    wall = time.monotonic() - started
    journal = next((repo / ".arrl").glob("*/journal.jsonl"))
    records = [json.loads(line) for line in journal.read_text().splitlines()]
    ran = [r for r in records if r["outcome"] not in ("duplicate", "rejected")]
    ok = [float(r["value"]) for r in records if r["outcome"] == "ok"]
    return {"wall": wall, "ran": len(ran), "per_hour": len(ran) / wall * 3600, "best": min(ok),
            "mean_experiment": sum(r["wall_clock_seconds"] for r in ran) / len(ran),
            "load": (load_before + os.getloadavg()[0]) / 2}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--experiments", type=int, default=13)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--sleep", type=float, default=2.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--workloads", nargs="+", default=["digits", "sleep"])
    parser.add_argument("--setups", nargs="+", default=["1x2", "2x1"], help="WORKERSxTHREADS, e.g. 1x1")
    args = parser.parse_args()
    chosen = [tuple(int(n) for n in setup.split("x")) for setup in args.setups]
    scripts = {"digits": DIGITS.format(epochs=args.epochs), "sleep": SLEEP.format(seconds=args.sleep)}
    print(f"cpus: {os.cpu_count()}, experiments per run: {args.experiments}\n")
    print("| workload | round | set-up | ran | wall s | mean experiment s | experiments/hour | load avg (1 min) |")
    print("| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: |")
    rates: dict[tuple[str, tuple[int, int]], list[float]] = {}
    with tempfile.TemporaryDirectory() as scratch:
        for workload in args.workloads:
            for round_ in range(args.rounds):
                # Alternate the order, so that a change in the machine's load favours neither.
                setups = chosen if round_ % 2 == 0 else chosen[::-1]
                for workers, threads in setups:
                    result = measure(scripts[workload], workers, threads, args.experiments, Path(scratch), seed=1)
                    rates.setdefault((workload, (workers, threads)), []).append(result["per_hour"])
                    print(f"| {workload} | {round_ + 1} | {workers} worker(s) x {threads} thread(s) | {result['ran']} "
                          f"| {result['wall']:.1f} | {result['mean_experiment']:.2f} | {result['per_hour']:.0f} "
                          f"| {result['load']:.1f} |", flush=True)
    print()
    for workload in args.workloads:
        mean = {setup: sum(rates[(workload, setup)]) / len(rates[(workload, setup)]) for setup in chosen}
        first = chosen[0]
        for setup in chosen[1:]:
            print(f"{workload}: {setup[0]} worker(s) x {setup[1]} thread(s) / {first[0]} worker(s) x {first[1]} "
                  f"thread(s) = {mean[setup] / mean[first]:.2f}x experiments per hour")


if __name__ == "__main__":
    main()
