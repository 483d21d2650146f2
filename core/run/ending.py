"""How a run ends: its stop conditions, the verdict after each experiment (interrupted, a failed
unmodified script, paused after failures or duplicates), and the status, exit code and message
of each ending. Every scheduler ends a run through these.
"""

from __future__ import annotations

import time

from arrl.errors import ArrlError
from arrl.journal import RunStatus
from arrl.output import counted
from arrl.records import ExperimentRecord, Outcome
from arrl.results.best import best_record

from .lanes import LoopResult
from .noise import BASELINE
from .state import RunState
from .workbench import Workbench

EXIT_OK, EXIT_PAUSED, EXIT_INTERRUPTED = 0, 3, 130


class Ending:
    """The ends of one run, recorded in its run directory and announced through its hooks."""

    def __init__(self, bench: Workbench) -> None:
        self.bench = bench
        self.settings = bench.settings
        self.run_dir = bench.run_dir

    def stop_reason(self, state: RunState, started: float) -> str:
        """The stop condition the run has reached ("" for none); ``started`` is the monotonic
        time its scheduler began."""
        s = self.settings
        if s.max_experiments is not None and len(state.records) >= s.max_experiments:
            return f"reached --max-experiments {s.max_experiments}"
        if s.max_hours is not None and time.monotonic() - started >= s.max_hours * 3600:
            return f"reached --max-hours {s.max_hours:g}"
        if s.target is not None and state.best is not None and not s.direction.better(s.target, state.best):
            return f"reached the target {s.metric} {s.target:g} (best {state.best:g})"
        if s.plateau is not None and state.stalled >= s.plateau:
            return (f"reached --plateau {s.plateau}: no improvement on the best beyond the noise margin in the last "
                    f"{counted(state.stalled, 'experiment')}")
        return ""

    def verdict(self, record: ExperimentRecord, state: RunState) -> LoopResult | None:
        """Whether the run must end after ``record``: interrupted, failed baseline, or paused."""
        run, hooks = self.run_dir, self.bench.hooks
        if record.outcome is Outcome.INTERRUPTED:
            return self.interrupted()
        if record.proposer == BASELINE and state.last_good_id is None:
            message = (
                f"the unmodified script failed ({record.outcome.value}: "
                f"{record.failure_reason}); fix it, commit, and start again with `arrl run --new`"
            )
            run.set_status(RunStatus.FINISHED, message)
            hooks.arrl_alert(run_id=run.run_id, level="error", message=message, at=time.time())
            raise ArrlError(message)
        reason = self._pause_reason(record, state)
        if not reason:
            return None
        run.set_status(RunStatus.PAUSED, reason)
        hooks.arrl_run_paused(run_id=run.run_id, reason=reason, at=time.time())
        hooks.arrl_alert(run_id=run.run_id, level="error", message=f"run paused: {reason}", at=time.time())
        return LoopResult(
            RunStatus.PAUSED,
            EXIT_PAUSED,
            f"run {run.run_id} paused after {reason}. Look at `arrl history`, then "
            "continue it with `arrl run` (or `arrl resume`).",
        )

    def _pause_reason(self, record: ExperimentRecord, state: RunState) -> str:
        if state.consecutive_failures >= self.settings.failure_limit:
            count = state.consecutive_failures
            return (
                f"{count} consecutive failures (last: " if count > 1 else "a failure ("
            ) + f"{record.outcome.value}: {record.failure_reason})"
        if state.consecutive_duplicates >= self.settings.duplicate_limit:
            # Nothing new is being tried: an unattended run would fill its journal with
            # duplicates. A human should widen the space or pick another proposer.
            return (
                f"{state.consecutive_duplicates} consecutive duplicate proposals: the proposer keeps "
                "proposing programs this run already ran (widen the [space], or try another proposer)"
            )
        knobs = set(self.bench.space.names)
        if knobs and knobs <= set(state.inert):
            # Every knob the run may move changed nothing it measures: nothing is left to try.
            return (f"every knob is inert ({', '.join(sorted(knobs))}: moves had no effect); declare other knobs "
                    "in [space] (see `arrl inspect`)")
        return ""

    def finished(self, state: RunState, stop: str) -> LoopResult:
        self.run_dir.set_status(RunStatus.FINISHED, stop)
        return LoopResult(RunStatus.FINISHED, EXIT_OK, f"{stop}; {_best_line(state)}")

    def interrupted(self) -> LoopResult:
        self.run_dir.set_status(RunStatus.INTERRUPTED, "stopped by the user")
        return LoopResult(
            RunStatus.INTERRUPTED, EXIT_INTERRUPTED,
            f"run {self.run_dir.run_id} interrupted; `arrl run` continues it",
        )


def _best_line(state: RunState) -> str:
    top = best_record(state.records)
    if top is None:
        return "no successful experiment"
    if top.proposer == "baseline":
        # Its commit is the user's own: pointing there would suggest a change that is not one.
        return (f"best {top.metric_name}={top.value:.6g} is still the unmodified script "
                f"(experiment {top.id}); no edit beat it")
    return (f"best {top.metric_name}={top.value:.6g} from experiment {top.id} "
            f"(see `arrl show {top.id}`; `arrl apply best` puts it on your branch)")
