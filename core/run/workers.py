"""A pool of workers on one machine: N experiments at once (``arrl run --workers N``).

Each worker has its own git worktree (its own rollback) and its own runner, a CPU share (its
thread variables, and the limit a container runner applies) and, with ``--gpus``, a GPU of its
own. The experiment itself is the loop's (:mod:`arrl.run.loop`): proposing and concluding an
experiment (reward, journal, keep-or-roll-back, memory, learning) happen one at a time under a
lock, so the journal has one writer and keep-if-better compares against the best known when a
result arrives; only the run in between happens on several workers at once. Workers are
threads: an experiment is a separate process (or container), so a worker spends its time
waiting for it.

Stale processes of an earlier arrl are removed once, by the loop's start, before any worker
starts. The unmodified script runs first, alone: until it has succeeded there is no best and no
last good version to propose against. Its noise-floor repeats then run on the workers.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

import attrs

from arrl.errors import ConfigError
from arrl.manager import Registry

from .components import build_one
from .lanes import Lane, LoopResult
from .resources import cpu_share, gpu_ids

if TYPE_CHECKING:
    from .loop import ExperimentLoop, _State


class WorkerPool:
    def __init__(self, loop: ExperimentLoop, state: _State) -> None:
        self.loop = loop
        self.state = state
        self.workers = loop.settings.workers
        self.lock = threading.Lock()
        self.next_id = max((r.id for r in state.records), default=-1) + 1
        self.in_flight = 0
        self.ending: LoopResult | None = None  # a verdict (paused, interrupted) ends the run
        self.stop = ""  # a stop condition was reached
        self.error: BaseException | None = None
        # Seconds spent in the one-at-a-time phases, to show when they become the bottleneck.
        self.serial_seconds = {"propose": 0.0, "conclude": 0.0}
        gpus = gpu_ids(loop.settings.gpus)
        if gpus and len(gpus) < self.workers:
            raise ConfigError(f"--workers {self.workers} needs a GPU each, but --gpus names {len(gpus)}: "
                              f"{', '.join(gpus)}")
        self.gpus: list[str | None] = list(gpus) if gpus else [None] * self.workers

    # -- lanes ------------------------------------------------------------------------------
    def _lanes(self) -> list[Lane]:
        """Worker 0 uses the loop's own workspace and runner; every other worker gets its own
        rollback (a worktree under <run>/workers/<k>/) and runner, built from the same settings."""
        loop = self.loop
        cpus = cpu_share(self.workers, loop.settings.cpus_per_worker)
        lanes = [attrs.evolve(loop.lane, cpus=cpus, gpu=self.gpus[0])]
        registry = Registry(loop.manager)
        for k in range(1, self.workers):
            directory: Path = loop.run_dir.path / "workers" / str(k)
            directory.mkdir(parents=True, exist_ok=True)
            context = attrs.evolve(loop.context, run_dir=directory)
            rollback = build_one(registry, loop.settings, context, "rollback")
            runner = build_one(registry, loop.settings, context, "runner")
            workspace = rollback.open(loop.run_dir.run_id)
            rollback.restore(self.state.last_good_commit)
            lanes.append(Lane(rollback, runner, workspace, cpus, self.gpus[k]))
        return lanes

    # -- running ----------------------------------------------------------------------------
    def run(self) -> LoopResult:
        loop, state = self.loop, self.state
        started = time.monotonic()
        # The baseline runs alone: until it has succeeded there is no version to propose against.
        # Its noise-floor repeats (arrl.run.noise) then run on the workers side by side, like
        # proposals (the loop gives each its own seed).
        while state.last_good_id is None:
            stop = loop._stop_reason(state, started)
            if stop:
                return loop._finished(state, stop)
            if loop.abort.is_set():
                return loop._interrupted()
            record = loop._experiment(state)
            verdict = loop._verdict(record, state)
            if verdict is not None:
                return verdict
        self.next_id = max((r.id for r in state.records), default=-1) + 1
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
            loop._log(f"{self.workers} workers for {wall:.1f} s: proposing {serial['propose']:.1f} s, "
                      f"concluding (reward, journal, rollback, learning) {serial['conclude']:.1f} s")
        if self.error is not None:
            raise self.error
        if self.ending is not None:
            return self.ending
        if loop.abort.is_set():
            return loop._interrupted()
        return loop._finished(state, self.stop or "all workers stopped")

    def _next_stop(self, started: float) -> str:
        """A stop condition, counting experiments still running so none starts past the limit."""
        limit = self.loop.settings.max_experiments
        if limit is not None and len(self.state.records) + self.in_flight >= limit:
            return f"reached --max-experiments {limit}"
        return self.loop._stop_reason(self.state, started)

    def _work(self, lane: Lane, started: float) -> None:
        loop, state = self.loop, self.state
        try:
            while True:
                with self.lock:
                    # A stop one worker saw holds for all: a plateau can end and begin again as
                    # results still running come in, and the run must end on the reason it gave.
                    if self.ending is not None or self.error is not None or self.stop or loop.abort.is_set():
                        return
                    stop = self._next_stop(started)
                    if stop:
                        self.stop = self.stop or stop
                        return
                    experiment_id, self.next_id = self.next_id, self.next_id + 1
                    began = time.perf_counter()
                    record, proposal, parent = loop._propose(state, experiment_id)
                    self.serial_seconds["propose"] += time.perf_counter() - began
                    self.in_flight += 1
                try:
                    commit = loop._attempt(record, proposal, parent, state, lane)
                except BaseException:
                    with self.lock:
                        self.in_flight -= 1
                    raise
                with self.lock:
                    # In the same hold as the record's append: between the two, another worker
                    # would count neither and start an experiment past --max-experiments.
                    self.in_flight -= 1
                    began = time.perf_counter()
                    loop._conclude(record, commit, state, lane, restore=False)
                    self.serial_seconds["conclude"] += time.perf_counter() - began
                    verdict = loop._verdict(record, state)
                    if verdict is not None and self.ending is None:
                        self.ending = verdict
                    good = state.last_good_commit
                # The checkout of the last good version touches only this lane's worktree, so it
                # runs outside the lock (it was the largest part of concluding at 32 workers).
                if commit and not record.kept:
                    lane.rollback.restore(good)
        except BaseException as error:  # noqa: BLE001 - handed to the main thread, re-raised there
            with self.lock:
                if self.error is None:
                    self.error = error
            loop.abort.set()  # the other workers end their runs, record them and stop
