"""Search quality per wall-clock hour at 1 and 2 workers, on held-out members of the simulated family.

Tables in docs/benchmarks.md: "Search quality per wall-clock hour at 1 and 2 workers".

The same members as the search benchmark (benchmarks/common/simfamily.py), through the real
`arrl run --workers N`, but every experiment is given a floor of wall time: the member's script
spreads its 30 curve points over ``--seconds`` (2 s by default) of sleep instead of 0.12 s. An
experiment then costs about the same wall time whatever else the machine runs, so the comparison
measures the search (what two workers proposing against the same last good version, and
learning from results out of order, do to the regret) and not how two CPU-bound experiments
share two busy cores. arrl's own work (proposing, git, journal) still runs on the real machine
and is in the wall clock.

Regret is as in the search benchmark: the true (noise-free) final loss of the best-observed
configuration minus the member's optimum. "After N experiments" counts records in the order
they were concluded (the journal's order), baseline first; "after T seconds" counts records
concluded within T seconds of the baseline's conclusion (timed from the run's ``--json`` event
stream): arrl's start-up and the baseline, which runs alone, are the same at 1 and 2 workers and
are left out; creating the second worker's worktree is in.

    nice -n 10 .venv/bin/python benchmarks/scaling/scaling_search.py run --seeds 0-9 --experiments 64 \\
        --proposers ppo random --workers 1 2 --jobs 4 --out benchmarks/results/scaling-search.jsonl
    .venv/bin/python benchmarks/scaling/scaling_search.py report --out benchmarks/results/scaling-search.jsonl
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
from measures import best_true_after, quartiles, seeds  # noqa: E402

ARRL = Path(sys.executable).with_name("arrl")
CHECKPOINTS = (16, 32, 64)
SEED_ARGUMENT = "int(os.environ.get('ARRL_SEED', '0')))"


def member_script(seed: int, seconds: float) -> str:
    """The member's train.py, its curve printed over ``seconds`` of wall time."""
    text = simfamily.script(seed)
    if SEED_ARGUMENT not in text:
        raise RuntimeError("simfamily.script() changed: cannot set the experiment's duration")
    return text.replace(SEED_ARGUMENT, f"{SEED_ARGUMENT[:-1]}, seconds={seconds!r})")


def run_one(proposer: str, seed: int, workers: int, experiments: int, seconds: float,
            scratch: Path) -> dict[str, Any]:
    repo = scratch / f"{proposer}-{seed}-w{workers}"
    repo.mkdir()
    (repo / "train.py").write_text(member_script(seed, seconds))
    shutil.copy(Path(simfamily.__file__), repo / "simfamily.py")
    # The budget is ten experiments' floor, so that the reward's wall-clock term weighs an
    # experiment about as in the search benchmark (0.4 s of 5 s there).
    budget = 10 * seconds
    (repo / "arrl.toml").write_text(
        f'script = "train.py"\nmetric = "val_loss"\nbudget = {budget}\nsilence_timeout = {budget}\n'
        f'seed = {seed}\nfailure_limit = 100000\n')
    for command in (["init", "-q"], ["add", "-A"], ["-c", "user.name=b", "-c", "user.email=b@b", "commit", "-qm", "b"]):
        subprocess.run(["git", "-C", str(repo), *command], check=True)
    load_before = os.getloadavg()[0]
    launched = time.time()
    result = subprocess.run([str(ARRL), "--plugin", f"proposer={proposer}", "run", "--json",
                             "--workers", str(workers), "--max-experiments", str(experiments + 1)],
                            cwd=repo, capture_output=True, text=True)
    wall = time.time() - launched
    if result.returncode != 0:
        raise RuntimeError(f"{proposer} seed {seed} x{workers}: {result.stderr[-2000:]}")
    finished_at: dict[int, float] = {}
    for line in result.stdout.splitlines():
        if line.startswith("{"):
            event = json.loads(line)
            if event.get("event") == "experiment_finished":
                finished_at[int(event["record"]["id"])] = float(event["at"]) - launched
    journal = next((repo / ".arrl").glob("*/journal.jsonl"))
    member = simfamily.member(seed)
    records = []
    for line in journal.read_text().splitlines():
        r = json.loads(line)
        config = r["config"]
        true = simfamily.true_final(config, member) if len(config) == 12 else math.inf
        records.append({"id": r["id"], "outcome": r["outcome"], "value": r["value"], "true": true,
                        "seconds": r["wall_clock_seconds"], "finished": finished_at.get(r["id"], math.inf)})
    shutil.rmtree(repo, ignore_errors=True)
    return {"proposer": proposer, "seed": seed, "workers": workers, "experiment_seconds": seconds,
            "wall": wall, "load": [load_before, os.getloadavg()[0]], "records": records}


def command_run(args: argparse.Namespace) -> None:
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    done = set()
    if out.exists():
        for line in out.read_text().splitlines():
            row = json.loads(line)
            done.add((row["proposer"], row["seed"], row["workers"]))
    # 1 and 2 workers of one member and proposer are submitted together, so that they run at the
    # same time and share whatever load the machine has.
    work = [(p, s, w) for s in seeds(args.seeds) for p in args.proposers for w in args.workers
            if (p, s, w) not in done]
    with tempfile.TemporaryDirectory() as scratch, concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
        futures = [pool.submit(run_one, p, s, w, args.experiments, args.seconds, Path(scratch)) for p, s, w in work]
        for future in concurrent.futures.as_completed(futures):
            row = future.result()
            with out.open("a") as handle:
                handle.write(json.dumps(row) + "\n")
            n = len(row["records"]) - 1
            print(f"{row['proposer']} seed {row['seed']} x{row['workers']}: {n} experiments in {row['wall']:.0f} s, "
                  f"load {row['load'][0]:.1f}-{row['load'][1]:.1f}", flush=True)


# --- the report ------------------------------------------------------------------------------

def best_true_by(records: list[dict[str, Any]], seconds: float) -> float:
    """True final loss of the best-observed successful configuration concluded within ``seconds``
    of the baseline's conclusion (the baseline included)."""
    best_value, best_true = math.inf, math.inf
    for r in records:
        if since_baseline(records, r) <= seconds and r["outcome"] == "ok" and r["value"] < best_value:
            best_value, best_true = r["value"], r["true"]
    return best_true


def since_baseline(records: list[dict[str, Any]], record: dict[str, Any]) -> float:
    return record["finished"] - records[0]["finished"]


def cell(values: list[float]) -> str:
    q1, med, q3 = quartiles(values)
    return f"{med:.3f} [{q1:.3f}, {q3:.3f}]"


def command_report(args: argparse.Namespace) -> None:
    rows = [json.loads(line) for out in args.out for line in Path(out).read_text().splitlines()]
    runs: dict[tuple[str, int], dict[int, list[dict[str, Any]]]] = {}
    walls: dict[tuple[str, int], list[float]] = {}  # the whole run's wall clock per experiment
    paces: dict[tuple[str, int], list[float]] = {}  # from the baseline's conclusion to the last
    loads: list[float] = []
    for row in rows:
        key = (row["proposer"], row["workers"])
        runs.setdefault(key, {})[row["seed"]] = row["records"]
        records = row["records"]
        walls.setdefault(key, []).append(row["wall"] / max(len(records) - 1, 1))
        paces.setdefault(key, []).append(since_baseline(records, records[-1]) / max(len(records) - 1, 1))
        loads += row["load"]
    all_seeds = sorted({s for by_seed in runs.values() for s in by_seed})
    optimum = {s: simfamily.optimum(simfamily.member(s))[0] for s in all_seeds}
    print(f"Held-out members {all_seeds[0]}-{all_seeds[-1]}; load average (1 min) at the runs' starts and ends "
          f"{min(loads):.1f} to {max(loads):.1f}.\n")

    print("| proposer | workers | seeds | " + " | ".join(f"regret @{c} median [IQR]" for c in CHECKPOINTS)
          + " | s per experiment: whole run / after the baseline (medians) |")
    print("|---|---:|---:|" + "---|" * len(CHECKPOINTS) + "---:|")
    regrets: dict[tuple[str, int, int], list[float]] = {}
    for (proposer, workers), by_seed in sorted(runs.items()):
        cells = []
        for c in CHECKPOINTS:
            values = [best_true_after(r, c) - optimum[s] for s, r in by_seed.items() if len(r) - 1 >= c]
            regrets[(proposer, workers, c)] = values
            cells.append(cell(values) if values else "-")
        print(f"| {proposer} | {workers} | {len(by_seed)} | " + " | ".join(cells)
              + f" | {statistics.median(walls[(proposer, workers)]):.2f} / "
              f"{statistics.median(paces[(proposer, workers)]):.2f} |")

    print("\nThe goal (the 2-worker median after N experiments within the 1-worker interquartile range):\n")
    print("| proposer | " + " | ".join(f"@{c}" for c in CHECKPOINTS) + " |")
    print("|---|" + "---|" * len(CHECKPOINTS))
    for proposer in sorted({p for p, _ in runs}):
        cells = []
        for c in CHECKPOINTS:
            one, two = regrets.get((proposer, 1, c)), regrets.get((proposer, 2, c))
            if not one or not two:
                cells.append("-")
                continue
            q1, _, q3 = quartiles(one)
            median = statistics.median(two)
            cells.append(f"{'yes' if q1 <= median <= q3 else 'no'} ({median:.3f} in [{q1:.3f}, {q3:.3f}])")
        print(f"| {proposer} | " + " | ".join(cells) + " |")

    times = args.times
    print("\nAt equal wall clock (seconds since the baseline concluded): regret median [IQR], "
          "and the median number of experiments concluded by then (runs that had already ended "
          "count with their final best):\n")
    print("| proposer | workers | " + " | ".join(f"regret @{t:g} s (experiments)" for t in times) + " |")
    print("|---|---:|" + "---|" * len(times))
    for (proposer, workers), by_seed in sorted(runs.items()):
        cells = []
        for t in times:
            values = [best_true_by(r, t) - optimum[s] for s, r in by_seed.items()]
            done = [sum(1 for x in r[1:] if since_baseline(r, x) <= t) for r in by_seed.values()]
            ended = sum(1 for r in by_seed.values() if max(since_baseline(r, x) for x in r) <= t)
            note = f", {ended} ended" if ended else ""
            cells.append(f"{cell(values)} ({statistics.median(done):.0f}{note})")
        print(f"| {proposer} | {workers} | " + " | ".join(cells) + " |")

    print("\nOutcomes (all seeds):\n")
    kinds = ["ok", "early_stopped", "failed", "timed_out", "rejected", "duplicate"]
    print("| proposer | workers | " + " | ".join(kinds) + " |")
    print("|---|---:|" + "---:|" * len(kinds))
    for (proposer, workers), by_seed in sorted(runs.items()):
        counts: dict[str, int] = {}
        for r in by_seed.values():
            for record in r[1:]:
                counts[record["outcome"]] = counts.get(record["outcome"], 0) + 1
        print(f"| {proposer} | {workers} | " + " | ".join(str(counts.get(k, 0)) for k in kinds) + " |")


def main() -> None:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run")
    run.add_argument("--seeds", default="0-9")
    run.add_argument("--experiments", type=int, default=64)
    run.add_argument("--proposers", nargs="+", default=["ppo", "random"])
    run.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    run.add_argument("--seconds", type=float, default=2.0, help="each experiment's floor of wall time")
    run.add_argument("--jobs", type=int, default=4, help="runs at once (they mostly sleep)")
    run.add_argument("--out", default="benchmarks/results/scaling-search.jsonl")
    report = sub.add_parser("report")
    report.add_argument("--out", nargs="+", default=["benchmarks/results/scaling-search.jsonl"])
    report.add_argument("--times", type=float, nargs="+", default=[30, 60, 90, 120])
    args = parser.parse_args()
    command_run(args) if args.command == "run" else command_report(args)


if __name__ == "__main__":
    main()
