"""The search benchmark on real tasks: the shipped examples (digits, tinygpt) through `arrl run`.

Tables in docs/benchmarks.md: "Search on real tasks"; "Today's default PPO on the real tasks
(2026-11-26)"; "The first measurement (2026-11-25): the plain PPO".

Every experiment is the real thing: validation, the subprocess runner training the example with
torch under the budget, the early stopper, memory, the reward, git rollback; rejected and
duplicate proposals count as experiments. Each experiment gets one CPU thread
(`--cpus-per-worker 1`), so two runs side by side do not fight over the cores.

There is no known optimum on a real task: regret is the best validation value a run observed
(successful experiments only, the baseline included) minus the best value any proposer observed
on that task over every seed. It is in the metric's units (digits: val_loss, tinygpt: val_bpb)
and carries the tasks' run-to-run noise.

    nice -n 10 .venv/bin/python benchmarks/real_tasks/real_tasks.py run --tasks digits tinygpt --seeds 0-2 \
        --experiments 32 --budget 40 --tinygpt-steps 60 --proposers ppo random grid optuna --jobs 2 --out benchmarks/results/real-tasks.jsonl
    .venv/bin/python benchmarks/real_tasks/real_tasks.py report --out benchmarks/results/real-tasks.jsonl

`run` appends one line per (task, proposer, seed) as it finishes and skips those already in
``--out``, so an interrupted matrix continues where it stopped.
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
from measures import seeds  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
ARRL = Path(sys.executable).with_name("arrl")
EXAMPLES = ROOT / "examples"
CHECKPOINTS = (8, 16, 32)
# The metric each example reports (both are minimised).
METRICS = {"digits": "val_loss", "tinygpt": "val_bpb"}
OUTCOMES = ("ok", "early_stopped", "failed", "timed_out", "rejected", "duplicate")


def prepare(task: str, seed: int, budget: float, train_steps: int, repo: Path) -> None:
    """A fresh repository at ``repo`` holding the example, its settings for this benchmark committed."""
    shutil.copytree(EXAMPLES / task, repo, ignore=shutil.ignore_patterns("__pycache__", ".arrl", "arrl.toml"))
    if task == "tinygpt" and train_steps:
        # tinygpt trains a fixed number of steps (the budget is the ceiling, the same for every
        # proposer); fewer than its own 300 keep a 32-experiment run short.
        script = (repo / "train.py").read_text()
        line = next(line for line in script.splitlines() if line.startswith("TRAIN_STEPS = "))
        (repo / "train.py").write_text(script.replace(line, f"TRAIN_STEPS = {train_steps}"))
    # The same budget for every proposer; digits trains for a fixed number of epochs unless the
    # budget cuts it short.
    (repo / "arrl.toml").write_text(
        f'script = "train.py"\nmetric = "{METRICS[task]}"\ndirection = "minimize"\nbudget = {budget}\n'
        f'silence_timeout = {budget}\nseed = {seed}\nfailure_limit = 100000\n')
    for command in (["init", "-q"], ["add", "-A"], ["-c", "user.name=b", "-c", "user.email=b@b", "commit", "-qm", "b"]):
        subprocess.run(["git", "-C", str(repo), *command], check=True)


def collect(task: str, proposer: str, seed: int, budget: float, train_steps: int, repo: Path,
            seconds: float) -> dict[str, Any]:
    """The row for a finished run in ``repo``: every experiment's outcome and value."""
    journal = next((repo / ".arrl").glob("*/journal.jsonl"))
    records = []
    for line in journal.read_text().splitlines():
        r = json.loads(line)
        records.append({"outcome": r["outcome"], "value": r["value"], "seconds": r["wall_clock_seconds"],
                        "reward": r["reward"], "config": r["config"], "proposer": r.get("proposer", "")})
    return {"task": task, "proposer": proposer, "seed": seed, "budget": budget,
            "train_steps": train_steps if task == "tinygpt" else None, "seconds": seconds,
            "load": os.getloadavg(), "records": records}


def run_one(task: str, proposer: str, seed: int, experiments: int, budget: float, train_steps: int,
            scratch: Path) -> dict[str, Any]:
    """One `arrl run` of ``experiments`` experiments after the baseline, in a fresh repository."""
    repo = scratch / f"{task}-{proposer}-{seed}"
    prepare(task, seed, budget, train_steps, repo)
    started = time.monotonic()
    result = subprocess.run([str(ARRL), "--plugin", f"proposer={proposer}", "run", "--cpus-per-worker", "1",
                             "--max-experiments", str(experiments + 1)], cwd=repo, capture_output=True, text=True)
    seconds = time.monotonic() - started
    if result.returncode != 0:
        raise RuntimeError(f"{task} {proposer} seed {seed}: {result.stderr[-2000:]}")
    row = collect(task, proposer, seed, budget, train_steps, repo, seconds)
    shutil.rmtree(repo, ignore_errors=True)
    return row


def command_run(args: argparse.Namespace) -> None:
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    done = set()
    if out.exists():
        for line in out.read_text().splitlines():
            row = json.loads(line)
            done.add((row["task"], row["proposer"], row["seed"]))
    # Seed by seed, so a matrix cut short still compares every proposer on the seeds it finished.
    if args.label and len(args.proposers) != 1:
        raise SystemExit("--label names the rows of one proposer: give one --proposers")
    label = args.label
    work = [(t, p, s) for s in seeds(args.seeds) for t in args.tasks for p in args.proposers
            if (t, label or p, s) not in done]
    with tempfile.TemporaryDirectory() as scratch, concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
        futures = {pool.submit(run_one, t, p, s, args.experiments, args.budget[t], args.tinygpt_steps,
                               Path(scratch)): (t, p, s)
                   for t, p, s in work}
        for future in concurrent.futures.as_completed(futures):
            try:
                row = future.result()
            except RuntimeError as error:
                print(error, flush=True)
                continue
            if label:
                row["proposer"] = label
            with out.open("a") as handle:
                handle.write(json.dumps(row) + "\n")
            n = len(row["records"]) - 1
            print(f"{row['task']} {row['proposer']} seed {row['seed']}: {n} experiments in {row['seconds']:.0f} s "
                  f"({row['seconds'] / max(n, 1):.1f} s each), load {row['load'][0]:.1f}", flush=True)


# --- the report ------------------------------------------------------------------------------

def _repeat(records: list[dict[str, Any]], index: int) -> bool:
    """A noise-floor repeat: a run of the unmodified script after the first. The loop never
    makes one the best (its value is another seed's luck), and neither does the report."""
    return index > 0 and records[index].get("proposer") == "baseline"


def best_after(records: list[dict[str, Any]], count: int) -> float:
    """The best value of a successful experiment among the baseline and the ``count`` after it,
    the noise floor's repeats left out."""
    values = [r["value"] for i, r in enumerate(records[: count + 1])
              if r["outcome"] == "ok" and r["value"] is not None and not _repeat(records, i)]
    return min(values, default=math.inf)


def spread(values: list[float]) -> str:
    return f"{statistics.median(values):.4f} [{min(values):.4f}, {max(values):.4f}]"


def command_report(args: argparse.Namespace) -> None:
    rows = [json.loads(line) for out in args.out for line in Path(out).read_text().splitlines()]
    for task in sorted({row["task"] for row in rows}):
        runs = [row for row in rows if row["task"] == task]
        best = min(best_after(row["records"], 10**9) for row in runs)
        baseline = statistics.median(row["records"][0]["value"] for row in runs
                                     if row["records"] and row["records"][0]["outcome"] == "ok")
        budgets = sorted({row["budget"] for row in runs})
        print(f"\n{task} ({METRICS[task]}, budget {', '.join(f'{b:g}' for b in budgets)} s): best any proposer "
              f"found {best:.4f}; median baseline {baseline:.4f} (regret {baseline - best:.4f}).\n")
        print("| proposer | seeds | " + " | ".join(f"regret @{c} median [min, max]" for c in CHECKPOINTS)
              + f" | gain over its own baseline @{CHECKPOINTS[-1]} median [min, max] | s per experiment |")
        print("|---|---:|" + "---|" * (len(CHECKPOINTS) + 1) + "---:|")
        by_proposer: dict[str, list[dict[str, Any]]] = {}
        for row in runs:
            by_proposer.setdefault(row["proposer"], []).append(row)
        for proposer, group in sorted(by_proposer.items()):
            cells = []
            for c in CHECKPOINTS:
                regrets = [best_after(row["records"], c) - best for row in group if len(row["records"]) - 1 >= c]
                cells.append(spread(regrets) if regrets else "-")
            # The seeds differ in more than the proposer (the script's own seed, the load a
            # wall-clock-budgeted run trained under): each run against its own baseline too.
            gains = [row["records"][0]["value"] - best_after(row["records"], CHECKPOINTS[-1]) for row in group
                     if row["records"][0]["outcome"] == "ok"]
            cells.append(spread(gains) if gains else "-")
            per_experiment = statistics.median(row["seconds"] / max(len(row["records"]) - 1, 1) for row in group)
            print(f"| {proposer} | {len(group)} | " + " | ".join(cells) + f" | {per_experiment:.1f} |")
        print("\nOutcomes of the proposals (all seeds, the baseline and its repeats excluded):\n")
        print("| proposer | " + " | ".join(OUTCOMES) + " |")
        print("|---|" + "---:|" * len(OUTCOMES))
        for proposer, group in sorted(by_proposer.items()):
            counts: dict[str, int] = {}
            for row in group:
                for i, record in enumerate(row["records"][1:], start=1):
                    if not _repeat(row["records"], i):
                        counts[record["outcome"]] = counts.get(record["outcome"], 0) + 1
            print(f"| {proposer} | " + " | ".join(str(counts.get(k, 0)) for k in OUTCOMES) + " |")
    loads = [row["load"][0] for row in rows]
    print(f"\nLoad average (1 min) when each run ended: median {statistics.median(loads):.1f}, "
          f"range {min(loads):.1f}-{max(loads):.1f}.")


def budgets(text: str) -> dict[str, float]:
    """``digits=10,tinygpt=8``, or one number for every task."""
    if "=" not in text:
        return {task: float(text) for task in METRICS}
    pairs = dict(part.split("=", 1) for part in text.split(","))
    return {task: float(value) for task, value in pairs.items()}


def main() -> None:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run")
    run.add_argument("--tasks", nargs="+", choices=list(METRICS), default=list(METRICS))
    run.add_argument("--seeds", default="0-2")
    run.add_argument("--experiments", type=int, default=32)
    run.add_argument("--budget", type=budgets, default=budgets("digits=40,tinygpt=40"),
                     help="seconds per experiment: one number, or task=seconds,... (default %(default)s)")
    run.add_argument("--tinygpt-steps", type=int, default=60,
                     help="tinygpt's training steps (0: the script's own, 300)")
    run.add_argument("--proposers", nargs="+", default=["ppo", "random", "grid", "optuna"])
    run.add_argument("--jobs", type=int, default=2)
    run.add_argument("--label", default="",
                     help="the name its rows carry in the results (one proposer; default: its name), "
                          "to measure a version of it beside another")
    run.add_argument("--out", default="benchmarks/results/real-tasks.jsonl")
    report = sub.add_parser("report")
    report.add_argument("--out", nargs="+", default=["benchmarks/results/real-tasks.jsonl"])
    args = parser.parse_args()
    command_run(args) if args.command == "run" else command_report(args)


if __name__ == "__main__":
    main()
