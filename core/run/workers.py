"""A pool of workers on one machine: N experiments at once (``arrl run --workers N``).

Each worker has its own git worktree (its own rollback) and its own runner, a CPU share (its
thread variables, and the limit a container runner applies) and, with ``--gpus``, a GPU of its
own. An experiment is an :class:`~arrl.run.attempt.Attempt`, as in the serial scheduler: its
proposing and concluding (reward, journal, keep-or-roll-back, memory, learning) happen one at a
time under a lock, so the journal has one writer and keep-if-better compares against the best
known when a result arrives; only its run in between happens on several workers at once. Workers
are threads: an experiment is a separate process (or container), so a worker spends its time
waiting for it.

Stale processes of an earlier arrl are removed once, by the loop's start, before any worker
starts. The unmodified script runs first, alone (through :mod:`arrl.run.serial`): until it has
succeeded there is no best and no last good version to propose against. Its noise-floor repeats
then run on the workers.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import attrs

from arrl.errors import ConfigError
from arrl.manager import Registry

from .attempt import Attempt
from .components import build_one
from .ending import Ending
from .lanes import Lane, LoopResult
from .resources import cpu_share, gpu_ids
from .serial import SerialScheduler
from .state import RunState
from .workbench import Workbench


class WorkerPool:
    """N workers, each a thread making attempts in a lane of its own, until the run ends."""

    def __init__(self, bench: Workbench, state: RunState, lane: Lane, ending: Ending) -> None:
        self.bench = bench
        self.state = state
        self.lane = lane  # the loop's own: worker 0's
        self.ending = ending
        self.workers = bench.settings.workers
        self.lock = threading.Lock()
        self.next_id = state.next_id()
        self.in_flight = 0
        self.verdict: LoopResult | None = None  # a verdict (paused, interrupted) ends the run
        self.stop = ""  # a stop condition was reached
        self.error: BaseException | None = None
        # Seconds spent in the one-at-a-time phases, to show when they become the bottleneck.
        self.serial_seconds = {"propose": 0.0, "conclude": 0.0}
        self.gpus = worker_gpus(self.workers, bench.settings.gpus)

    def _lanes(self) -> list[Lane]:
        """Every worker's lane, once the baseline has run (a method: benchmarks time it)."""
        return worker_lanes(self.bench, self.lane, self.gpus, self.state.last_good_commit)

    def run(self) -> LoopResult:
        state, ending = self.state, self.ending
        started = time.monotonic()
        # The baseline runs alone: until it has succeeded there is no version to propose against.
        # Its noise-floor repeats (arrl.run.noise) then run on the workers side by side, like
        # proposals (the attempt gives each its own seed).
        alone = SerialScheduler(self.bench, state, self.lane, ending)
        while state.last_good_id is None:
            result = alone.step(started)
            if result is not None:
                return result
        self.next_id = state.next_id()
        lanes = self._lanes()
        threads = [threading.Thread(target=self._work, args=(lane, started), name=f"arrl-worker-{k}", daemon=True)
                   for k, lane in enumerate(lanes)]
        try:
            for thread in threads:
                thread.start()
            for thread in threads:
                while thread.is_alive():
                    thread.join(0.2)  # short joins keep the main thread responsive to Ctrl-C
        finally:
            for lane in lanes[1:]:
                lane.runner.close()
            wall = time.monotonic() - started
            serial = self.serial_seconds
            self.bench.note(f"{self.workers} workers for {wall:.1f} s: proposing {serial['propose']:.1f} s, "
                            f"concluding (reward, journal, rollback, learning) {serial['conclude']:.1f} s")
        if self.error is not None:
            raise self.error
        if self.verdict is not None:
            return self.verdict
        if self.bench.abort.is_set():
            return ending.interrupted()
        return ending.finished(state, self.stop or "all workers stopped")

    def _next_stop(self, started: float) -> str:
        """A stop condition, counting experiments still running so none starts past the limit."""
        limit = self.bench.settings.max_experiments
        if limit is not None and len(self.state.records) + self.in_flight >= limit:
            return f"reached --max-experiments {limit}"
        return self.ending.stop_reason(self.state, started)

    def _next_attempt(self, started: float) -> Attempt | None:
        """The next attempt, proposed (under the lock), or None when this worker must stop."""
        # A stop one worker saw holds for all: a plateau can end and begin again as results
        # still running come in, and the run must end on the reason it gave.
        if self.verdict is not None or self.error is not None or self.stop or self.bench.abort.is_set():
            return None
        stop = self._next_stop(started)
        if stop:
            self.stop = self.stop or stop
            return None
        attempt = Attempt(self.bench, self.state, self.next_id)
        self.next_id += 1
        began = time.perf_counter()
        attempt.propose()
        self.serial_seconds["propose"] += time.perf_counter() - began
        self.in_flight += 1
        return attempt

    def _work(self, lane: Lane, started: float) -> None:
        try:
            while True:
                with self.lock:
                    attempt = self._next_attempt(started)
                if attempt is None:
                    return
                try:
                    attempt.run(lane)
                except BaseException:
                    with self.lock:
                        self.in_flight -= 1
                    raise
                with self.lock:
                    # In the same hold as the record's append: between the two, another worker
                    # would count neither and start an experiment past --max-experiments.
                    self.in_flight -= 1
                    began = time.perf_counter()
                    record = attempt.conclude(lane, restore=False)
                    self.serial_seconds["conclude"] += time.perf_counter() - began
                    verdict = self.ending.verdict(record, self.state)
                    if verdict is not None and self.verdict is None:
                        self.verdict = verdict
                    good = self.state.last_good_commit
                # The checkout of the last good version touches only this lane's worktree, so it
                # runs outside the lock (it was the largest part of concluding at 32 workers).
                if attempt.commit and not record.kept:
                    lane.rollback.restore(good)
        except BaseException as error:  # noqa: BLE001 - handed to the main thread, re-raised there
            with self.lock:
                if self.error is None:
                    self.error = error
            self.bench.abort.set()  # the other workers end their runs, record them and stop


def worker_gpus(workers: int, gpus_option: str) -> list[str | None]:
    """Each worker's GPU (None for all without ``--gpus``); a GPU each, or a ConfigError."""
    gpus = gpu_ids(gpus_option)
    if gpus and len(gpus) < workers:
        raise ConfigError(f"--workers {workers} needs a GPU each, but --gpus names {len(gpus)}: {', '.join(gpus)}")
    return list(gpus) if gpus else [None] * workers


def worker_lanes(bench: Workbench, first: Lane, gpus: list[str | None], last_good_commit: str) -> list[Lane]:
    """Worker 0 uses the loop's own workspace and runner (``first``); every other worker gets
    its own rollback (a worktree under <run>/workers/<k>/) and runner, built from the same
    settings and checked out at ``last_good_commit``. ``gpus``: one per worker, or more."""
    workers = bench.settings.workers
    cpus = cpu_share(workers, bench.settings.cpus_per_worker)
    lanes = [attrs.evolve(first, cpus=cpus, gpu=gpus[0])]
    registry = Registry(bench.manager)
    for k in range(1, workers):
        directory: Path = bench.run_dir.path / "workers" / str(k)
        directory.mkdir(parents=True, exist_ok=True)
        context = attrs.evolve(bench.context, run_dir=directory)
        rollback = build_one(registry, bench.settings, context, "rollback")
        runner = build_one(registry, bench.settings, context, "runner")
        workspace = rollback.open(bench.run_dir.run_id)
        rollback.restore(last_good_commit)
        lanes.append(Lane(rollback, runner, workspace, cpus, gpus[k]))
    return lanes
