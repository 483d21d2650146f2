"""The serial scheduler: one attempt after another in the loop's own lane, until a stop
condition, a verdict (paused, interrupted) or Ctrl-C ends the run.

The worker pool (:mod:`arrl.run.workers`) runs the unmodified script through it too, before its
workers start.
"""

from __future__ import annotations

import time

from .attempt import Attempt
from .ending import Ending
from .lanes import Lane, LoopResult
from .state import RunState
from .workbench import Workbench


class SerialScheduler:
    def __init__(self, bench: Workbench, state: RunState, lane: Lane, ending: Ending) -> None:
        self.bench = bench
        self.state = state
        self.lane = lane
        self.ending = ending

    def run(self) -> LoopResult:
        """Attempts until the run ends; how it ended."""
        started = time.monotonic()
        while True:
            result = self.step(started)
            if result is not None:
                return result

    def step(self, started: float) -> LoopResult | None:
        """One attempt, unless a stop condition or Ctrl-C comes first; how the run ended, or
        None while it goes on. ``started``: the monotonic time the scheduler began."""
        state, ending = self.state, self.ending
        stop = ending.stop_reason(state, started)
        if stop:
            return ending.finished(state, stop)
        if self.bench.abort.is_set():
            return ending.interrupted()
        attempt = Attempt(self.bench, state, state.next_id())
        attempt.propose()
        attempt.run(self.lane)
        record = attempt.conclude(self.lane)
        return ending.verdict(record, state)
