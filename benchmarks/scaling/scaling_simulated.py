"""Many simulated workers: where does the one-at-a-time part of arrl become the bottleneck?

Tables in docs/benchmarks.md: "Simulated many-worker runs: where the bottleneck is".

Runs the real worker pool (`core/run/workers.py`) with the real proposer, validator, reward, journal,
memory and git rollback, but a simulated runner: an experiment sleeps for a fixed time instead of
training and reports a loss computed from its config. Proposing and concluding an experiment
(reward, journal fsync, keep or roll back, memory, the proposer's learning and save) happen one at
a time under the pool's lock; only the run in between is parallel. With N workers and experiments
of D seconds, the serial work per experiment s costs a share of about s x N / D of the wall clock,
so the benchmark runs several D and splits the serial time into its parts, timed by wrapping the
components' methods (nothing in arrl is changed):

    proposing   propose: the proposer's propose(); read: git show of the last good script;
                other: extracting the config, the observation, diffs, hashes
    learning    learn: proposer.learn (the PPO update every batch_size results is timed apart);
                save: proposer.save (the PPO writes its weights with torch.save)
    journal     the record's append (one write and an fsync)
    memory      memory.add
    rollback    checkout of the last good version after a result not kept; update-ref of a kept one
    reward      reward.score
    other       the event hooks (run.log), counting, bookkeeping

The unmodified script (experiment 0) returns at once, and the clock starts when every worker's
worktree exists, so the measured wall clock is the pool's steady state. Usage:

    nice -n 10 .venv/bin/python benchmarks/scaling/scaling_simulated.py --workers 32 --experiments 128 \\
        --seconds 1 10 30 60 --proposers ppo random --out benchmarks/results/scaling-simulated.jsonl
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import math
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import arrl
from arrl.config import settings_from
from arrl.journal import RunDirectory
from arrl.manager import make_plugin_manager
from arrl.records import converter
from arrl.run import workers as workers_module
from arrl.run.assembly import assemble_loop
from arrl.run.attempt import Attempt
from arrl.script import extract

SCRIPT = """
LEARNING_RATE = 0.01
DROPOUT = 0.1
WEIGHT_DECAY = 0.0001
BATCH_SIZE = 32
ACTIVATION = "relu"
print("arrl: val_loss=1.0")
"""


class SimulatedRunner(arrl.Runner):
    """Sleeps for the experiment's duration (a worker waiting on its experiment), then reports
    a loss with a known optimum, so that search quality is measurable too."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def run(self, request: arrl.RunRequest, monitor: arrl.RunMonitor) -> arrl.RunResult:
        started = time.monotonic()
        values = extract(request.script.read_text()).values
        loss = (math.log10(float(values["learning_rate"])) + 2.5) ** 2 + float(values["dropout_rate"])
        if request.experiment_id > 0:  # the baseline runs alone, before the pool: not measured
            time.sleep(self.seconds)
        point = arrl.MetricPoint("val_loss", loss, 0, time.monotonic() - started)
        monitor.on_metric(point)
        return arrl.RunResult(arrl.Outcome.OK, 0, time.monotonic() - started, (point,))


SECONDS = [1.0]


@arrl.hookimpl
def arrl_runners():
    import attrs

    @attrs.frozen
    class NoOptions:
        pass

    yield arrl.Registration(name="simulated", summary="sleeps instead of training (benchmark)",
                            factory=lambda options, context: SimulatedRunner(SECONDS[0]), options=NoOptions)


# --- timing ---------------------------------------------------------------------------------

class Timings:
    """Seconds and calls per named part, added to from any thread."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.seconds: dict[str, float] = {}
        self.calls: dict[str, int] = {}
        self.measuring = False  # off until every worker's worktree exists

    def add(self, name: str, seconds: float) -> None:
        if not self.measuring:
            return
        with self.lock:
            self.seconds[name] = self.seconds.get(name, 0.0) + seconds
            self.calls[name] = self.calls.get(name, 0) + 1


class TimedLock:
    """The pool's lock, counting how long it was held and how long workers waited for it."""

    def __init__(self, timings: Timings) -> None:
        self._lock = threading.Lock()
        self.timings = timings
        self.acquired = 0.0

    def __enter__(self) -> TimedLock:
        asked = time.perf_counter()
        self._lock.acquire()
        self.acquired = time.perf_counter()
        self.timings.add("lock wait", self.acquired - asked)
        return self

    def __exit__(self, *exc: object) -> None:
        held = time.perf_counter() - self.acquired
        self._lock.release()
        self.timings.add("lock held", held)


@contextlib.contextmanager
def wrapped(cls: type, method: str, name: str, timings: Timings) -> Iterator[None]:
    """Times every call of ``cls.method`` as ``name`` while the block runs."""
    original: Callable[..., Any] = cls.__dict__[method]

    @functools.wraps(original)
    def timed(*args: Any, **kwargs: Any) -> Any:
        began = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            timings.add(name, time.perf_counter() - began)

    setattr(cls, method, timed)
    try:
        yield
    finally:
        setattr(cls, method, original)


def defining(obj: object, method: str) -> type:
    return next(cls for cls in type(obj).__mro__ if method in cls.__dict__)


def simulate(workers: int, experiments: int, proposer: str, seconds: float, scratch: Path) -> dict[str, Any]:
    SECONDS[0] = seconds
    repo = scratch / f"{proposer}-{workers}-{seconds:g}"
    repo.mkdir()
    (repo / "train.py").write_text(SCRIPT)
    for command in (["init", "-q"], ["add", "-A"], ["-c", "user.name=b", "-c", "user.email=b@b", "commit", "-qm", "b"]):
        subprocess.run(["git", "-C", str(repo), *command], check=True)
    settings = settings_from({"script": "train.py", "budget": max(60.0, 3 * seconds), "failure_limit": 1000,
                              "workers": workers, "max_experiments": experiments,
                              "plugins": {"runner": "simulated", "proposer": proposer},
                              "early_stopping": {"enabled": False}})
    manager = make_plugin_manager(entry_points=False)
    manager.register(sys.modules[__name__], name="simulated-runner")
    run = RunDirectory.create(repo / ".arrl", converter.unstructure(settings), repo)
    context = arrl.PluginContext(run_dir=run.path, repo_root=repo, script_path="train.py", metric="val_loss",
                                 direction=settings.direction, budget_seconds=settings.budget, seed=0)
    loop = assemble_loop(manager, settings, run, context, report=lambda line: None)
    timings = Timings()
    marks: dict[str, float] = {}
    pool_class = workers_module.WorkerPool
    original_init, original_lanes = pool_class.__init__, pool_class._lanes

    def init(pool: Any, *args: Any) -> None:
        original_init(pool, *args)
        pool.lock = TimedLock(timings)

    def lanes(pool: Any) -> Any:
        made = original_lanes(pool)
        marks["lanes"] = time.monotonic()
        timings.measuring = True
        return made

    proposer_object, rollback = loop.c.proposer, loop.c.rollback
    parts = [
        (defining(proposer_object, "propose"), "propose", "propose"),
        (defining(proposer_object, "learn"), "learn", "learn"),
        (defining(proposer_object, "save"), "save", "save"),
        (defining(rollback, "read"), "read", "read"),
        (defining(rollback, "restore"), "restore", "rollback"),
        (defining(rollback, "mark_good"), "mark_good", "rollback"),
        (defining(rollback, "snapshot"), "snapshot", "snapshot (parallel)"),
        (RunDirectory, "append", "journal"),
        (defining(loop.c.memory, "add"), "add", "memory"),
        (defining(loop.c.reward, "score"), "score", "reward"),
        (Attempt, "propose", "proposing"),
        (Attempt, "conclude", "concluding"),
    ]
    if hasattr(proposer_object, "update"):
        parts.append((defining(proposer_object, "update"), "update", "update"))
    pool_class.__init__, pool_class._lanes = init, lanes  # type: ignore[method-assign]
    started = time.monotonic()
    try:
        with contextlib.ExitStack() as stack:
            for cls, method, name in parts:
                stack.enter_context(wrapped(cls, method, name, timings))
            loop.run()
    finally:
        pool_class.__init__, pool_class._lanes = original_init, original_lanes  # type: ignore[method-assign]
        loop.close()
    ended = time.monotonic()
    records = run.records()
    ok = [r for r in records if r.outcome is arrl.Outcome.OK]
    ran = sum(1 for r in records[1:] if r.outcome not in (arrl.Outcome.DUPLICATE, arrl.Outcome.REJECTED))
    return {"proposer": proposer, "workers": workers, "experiment_seconds": seconds,
            "records": len(records) - 1, "ran": ran, "wall": ended - marks.get("lanes", started),
            "worktrees": marks.get("lanes", started) - started, "seconds": timings.seconds, "calls": timings.calls,
            "best": min(r.value for r in ok), "load": os.getloadavg()[0]}


# --- the report -----------------------------------------------------------------------------

def percent(part: float, whole: float) -> str:
    return f"{100 * part / whole:.1f} %"


def report(rows: list[dict[str, Any]]) -> None:
    print("Share of the pool's wall clock (from every worktree ready to the last result):\n")
    print("| proposer | workers | experiment s | records | ran | wall s | ideal s | lock held | proposing "
          "| learning (learn + save) | journal | rollback | memory + reward + other | learner + journal | "
          "workers waiting for the lock | load |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: "
          "| ---: |")
    for r in rows:
        s, wall = r["seconds"], r["wall"]
        get = s.get
        learning = get("learn", 0.0) + get("save", 0.0)
        concluding = get("concluding", 0.0)
        rest = concluding - learning - get("journal", 0.0) - get("rollback", 0.0)
        ideal = r["ran"] * r["experiment_seconds"] / r["workers"]
        print(f"| {r['proposer']} | {r['workers']} | {r['experiment_seconds']:g} | {r['records']} | {r['ran']} "
              f"| {wall:.1f} | {ideal:.1f} | {percent(get('lock held', 0.0), wall)} "
              f"| {percent(get('proposing', 0.0), wall)} | {percent(learning, wall)} "
              f"| {percent(get('journal', 0.0), wall)} | {percent(get('rollback', 0.0), wall)} "
              f"| {percent(rest, wall)} | **{percent(learning + get('journal', 0.0), wall)}** "
              f"| {percent(get('lock wait', 0.0), wall * r['workers'])} | {r['load']:.1f} |")
    print("\nMilliseconds of one-at-a-time work per experiment (total / records), by part:\n")
    names = ["propose", "read", "proposing", "learn", "update", "save", "journal", "rollback", "memory", "reward",
             "concluding", "snapshot (parallel)"]
    print("| proposer | experiment s | " + " | ".join(names) + " | PPO updates (ms each) |")
    print("| --- | ---: | " + " | ".join("---:" for _ in names) + " | ---: |")
    for r in rows:
        s, n = r["seconds"], max(r["records"], 1)
        cells = [f"{1000 * s.get(name, 0.0) / n:.1f}" for name in names]
        updates = r["calls"].get("update", 0)
        update_cell = f"{updates} ({1000 * s['update'] / updates:.0f})" if updates else "-"
        print(f"| {r['proposer']} | {r['experiment_seconds']:g} | " + " | ".join(cells) + f" | {update_cell} |")
    print("\nThe experiment duration at which a part stays below 5 % of wall time, from its time per experiment s "
          "at this run (workers x s / 0.05: the pool concludes about workers / D experiments a second):\n")
    print("| proposer | workers | measured at experiment s | learner + journal | all one-at-a-time work (lock held) |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for r in rows:
        s, n = r["seconds"], max(r["records"], 1)
        learner_journal = (s.get("learn", 0.0) + s.get("save", 0.0) + s.get("journal", 0.0)) / n
        held = s.get("lock held", 0.0) / n
        print(f"| {r['proposer']} | {r['workers']} | {r['experiment_seconds']:g} "
              f"| {r['workers'] * learner_journal / 0.05:.0f} s | {r['workers'] * held / 0.05:.0f} s |")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workers", type=int, nargs="+", default=[32])
    parser.add_argument("--experiments", type=int, default=128)
    parser.add_argument("--seconds", type=float, nargs="+", default=[1.0, 10.0, 30.0],
                        help="simulated experiment durations")
    parser.add_argument("--proposers", nargs="+", default=["ppo", "random"])
    parser.add_argument("--out", help="append each run's raw timings to this JSON-lines file")
    parser.add_argument("--report", nargs="+", help="only print the tables of these JSON-lines files")
    args = parser.parse_args()
    if args.report:
        report([json.loads(line) for path in args.report for line in Path(path).read_text().splitlines()])
        return
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        for proposer in args.proposers:
            for workers in args.workers:
                for seconds in args.seconds:
                    row = simulate(workers, args.experiments, proposer, seconds, Path(scratch))
                    rows.append(row)
                    print(f"{proposer} x{workers}, {seconds:g} s: {row['records']} records in {row['wall']:.1f} s "
                          f"(load {row['load']:.1f})", flush=True)
                    if args.out:
                        with open(args.out, "a") as handle:
                            handle.write(json.dumps(row) + "\n")
    print()
    report(rows)


if __name__ == "__main__":
    main()
