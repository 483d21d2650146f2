"""The search benchmark: proposers on held-out members of the simulated family, through `arrl run`.

Tables in docs/benchmarks.md: "Search: proposers on held-out members of a simulated family";
"Today's default: the PPO with its opening and line search, 128 experiments, 30 held-out members";
"A second held-out set through the real loop: members 30-59 (2026-11-26)"; "The first measurement
(2026-11-25): the PPO before its opening and line search"; "Move-to-result attribution and a
meta-learned search strategy (observation version 3)"; "A line search and an opening for the PPO";
"Coupled moves (2026-11-26)".

Every experiment goes through arrl's real loop (validation, the subprocess runner, memory, the
reward, git rollback, early stopping); rejected and duplicate proposals count as experiments.
A member's script is a tiny pure-Python program (benchmarks/common/simfamily.py) that prints a noisy
learning curve in about 0.12 s, so many seeds fit on a small machine.

Regret is the true (noise-free) final loss of the best-observed configuration (the best value
the run saw, as a user would pick it) minus the member's optimum, in loss units.

    nice -n 10 .venv/bin/python benchmarks/search/search.py run --seeds 0-9 --experiments 128 \
        --proposers ppo random grid optuna --jobs 2 --out benchmarks/results/search.jsonl
    .venv/bin/python benchmarks/search/search.py report --out benchmarks/results/search.jsonl

A row is reported under its proposer's name (with its --option values), or under --label when
the run gave one: `run --proposers ppo --label "ppo (a change)"` measures a version of the PPO
beside the rows already in the file. Without labels, `report` keeps the last file's row of a
proposer and seed.

Held-out members are seeds 0-99; members 100-199 are the pre-training members, used here only
for the "best fixed configuration of the pre-training members" row (and for any prior).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "common"))  # simfamily, simloop, measures
import simfamily  # noqa: E402
from measures import CHECKPOINTS, PRETRAINING, best_true_after, quartiles, seeds  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
ARRL = Path(sys.executable).with_name("arrl")
def run_one(proposer: str, seed: int, experiments: int, scratch: Path, options: list[str]) -> dict[str, Any]:
    repo = scratch / f"{proposer}-{seed}"
    repo.mkdir()
    (repo / "train.py").write_text(simfamily.script(seed))
    shutil.copy(Path(simfamily.__file__), repo / "simfamily.py")
    (repo / "arrl.toml").write_text(
        f'script = "train.py"\nmetric = "val_loss"\nbudget = 5\nsilence_timeout = 5\nseed = {seed}\n'
        f'failure_limit = 100000\n')
    for command in (["init", "-q"], ["add", "-A"], ["-c", "user.name=b", "-c", "user.email=b@b", "commit", "-qm", "b"]):
        subprocess.run(["git", "-C", str(repo), *command], check=True)
    started = time.monotonic()
    flags = [f for option in options for f in ("-o", option)]
    result = subprocess.run([str(ARRL), "--plugin", f"proposer={proposer}", *flags, "run",
                             "--max-experiments", str(experiments + 1)], cwd=repo, capture_output=True, text=True)
    seconds = time.monotonic() - started
    if result.returncode != 0:
        raise RuntimeError(f"{proposer} seed {seed}: {result.stderr[-2000:]}")
    journal = next((repo / ".arrl").glob("*/journal.jsonl"))
    member = simfamily.member(seed)
    records = []
    for line in journal.read_text().splitlines():
        r = json.loads(line)
        config = r["config"]
        true = simfamily.true_final(config, member) if len(config) == 12 else math.inf
        records.append({"outcome": r["outcome"], "value": r["value"], "true": true,
                        "seconds": r["wall_clock_seconds"], "reward": r["reward"],
                        "points": len(r["curve"])})
    shutil.rmtree(repo, ignore_errors=True)
    return {"proposer": proposer, "seed": seed, "options": options, "seconds": seconds, "records": records}


def command_run(args: argparse.Namespace) -> None:
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    done = set()
    if out.exists():
        for line in out.read_text().splitlines():
            row = json.loads(line)
            done.add((row.get("label") or row["proposer"], row["seed"], tuple(row.get("options", []))))
    if args.label and len(args.proposers) != 1:
        raise SystemExit("--label names the rows of one proposer: give one --proposers")
    work = [(p, s) for s in seeds(args.seeds) for p in args.proposers
            if (args.label or p, s, tuple(args.option)) not in done]
    with tempfile.TemporaryDirectory() as scratch, concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
        futures = {pool.submit(run_one, p, s, args.experiments, Path(scratch), args.option): (p, s) for p, s in work}
        for future in concurrent.futures.as_completed(futures):
            row = future.result()
            if args.label:
                row["label"] = args.label
            with out.open("a") as handle:
                handle.write(json.dumps(row) + "\n")
            n = len(row["records"]) - 1
            print(f"{row.get('label') or row['proposer']} seed {row['seed']}: {n} experiments in {row['seconds']:.0f} s "
                  f"({row['seconds'] / max(n, 1):.2f} s each)", flush=True)


# --- the report ------------------------------------------------------------------------------

def best_fixed_config() -> dict[str, Any]:
    """The configuration with the lowest mean true loss over the pre-training members, among
    each pre-training member's optimum (what a prior that memorised one config would apply)."""
    members = [simfamily.member(s) for s in PRETRAINING]
    candidates = [simfamily.optimum(m)[1] for m in members]

    def mean_loss(config: dict[str, Any]) -> float:
        finals = [simfamily.true_final(config, m) for m in members]
        return sum(finals) / len(finals)

    return min(candidates, key=mean_loss)


def command_report(args: argparse.Namespace) -> None:
    rows = [json.loads(line) for out in args.out for line in Path(out).read_text().splitlines()]
    by_proposer: dict[str, dict[int, list[dict[str, Any]]]] = {}
    seconds: dict[str, list[float]] = {}
    for row in rows:
        label = row.get("label") or row["proposer"] + ("" if not row.get("options") else f" ({', '.join(row['options'])})")
        by_proposer.setdefault(label, {})[row["seed"]] = row["records"]
        seconds.setdefault(label, []).append(row["seconds"] / max(len(row["records"]) - 1, 1))
    all_seeds = sorted({s for runs in by_proposer.values() for s in runs})
    optimum = {s: simfamily.optimum(simfamily.member(s))[0] for s in all_seeds}
    baseline = {s: simfamily.true_final(simfamily.BASELINE, simfamily.member(s)) - optimum[s] for s in all_seeds}
    grid_best = {s: best_true_after(runs, 10**9) for s, runs in by_proposer.get("grid", {}).items()}

    print(f"Held-out members {all_seeds[0]}-{all_seeds[-1]}; median baseline regret "
          f"{statistics.median(baseline.values()):.3f}.\n")
    header = "| proposer | seeds | " + " | ".join(f"regret @{c} median [IQR]" for c in CHECKPOINTS)
    print(header + " | experiments to reach the grid's best: median (reached/seeds) | s per experiment |")
    print("|---|---:|" + "---|" * len(CHECKPOINTS) + "---|---:|")
    for label, runs in sorted(by_proposer.items()):
        cells = []
        for c in CHECKPOINTS:
            regrets = [best_true_after(r, c) - optimum[s] for s, r in runs.items() if len(r) - 1 >= c]
            if regrets:
                q1, med, q3 = quartiles(regrets)
                cells.append(f"{med:.3f} [{q1:.3f}, {q3:.3f}]")
            else:
                cells.append("-")
        needed = []
        for s, r in runs.items():
            if s not in grid_best:
                continue
            reach = next((c for c in range(len(r)) if best_true_after(r, c) <= grid_best[s] + 1e-12), None)
            needed.append(reach)
        reached = [n for n in needed if n is not None]
        reach_cell = (f"{statistics.median(reached):.0f} ({len(reached)}/{len(needed)})" if reached else
                      f"- (0/{len(needed)})")
        print(f"| {label} | {len(runs)} | " + " | ".join(cells) + f" | {reach_cell} | "
              f"{statistics.median(seconds[label]):.2f} |")
    fixed = best_fixed_config()
    fixed_regrets = []
    for s in all_seeds:
        m = simfamily.member(s)
        # A fixed configuration is one experiment; the baseline was run too, keep the better.
        fixed_regrets.append(min(simfamily.true_final(fixed, m), simfamily.true_final(simfamily.BASELINE, m))
                             - optimum[s])
    q1, med, q3 = quartiles(fixed_regrets)
    print(f"| best fixed config of pre-training members {PRETRAINING.start}-{PRETRAINING.stop - 1} "
          f"(1 experiment) | {len(all_seeds)} | " + " | ".join([f"{med:.3f} [{q1:.3f}, {q3:.3f}]"] * len(CHECKPOINTS))
          + " | - | - |")
    outcomes: dict[str, dict[str, int]] = {}
    for label, runs in by_proposer.items():
        counts: dict[str, int] = {}
        for r in runs.values():
            for record in r[1:]:
                counts[record["outcome"]] = counts.get(record["outcome"], 0) + 1
        outcomes[label] = counts
    print("\nOutcomes of the proposals (all seeds):\n")
    kinds = ["ok", "early_stopped", "failed", "timed_out", "rejected", "duplicate"]
    print("| proposer | " + " | ".join(kinds) + " |")
    print("|---|" + "---:|" * len(kinds))
    for label, counts in sorted(outcomes.items()):
        print(f"| {label} | " + " | ".join(str(counts.get(k, 0)) for k in kinds) + " |")


def main() -> None:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run")
    run.add_argument("--seeds", default="0-9")
    run.add_argument("--experiments", type=int, default=128)
    run.add_argument("--proposers", nargs="+", default=["ppo", "random", "grid", "optuna"])
    run.add_argument("--option", action="append", default=[], help="-o for arrl, e.g. proposer.entropy=0.05")
    run.add_argument("--jobs", type=int, default=max(1, (os.cpu_count() or 2) // 2))
    run.add_argument("--out", default="benchmarks/results/search.jsonl")
    run.add_argument("--label", default="",
                     help="the report's name for these rows (one proposer), to set a version beside another")
    report = sub.add_parser("report")
    report.add_argument("--out", nargs="+", default=["benchmarks/results/search.jsonl"])
    args = parser.parse_args()
    command_run(args) if args.command == "run" else command_report(args)


if __name__ == "__main__":
    main()
