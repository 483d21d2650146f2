"""The experiment loop: it starts a run, picks its scheduler, and ends the run.

Experiment 0 runs the unmodified script and sets the first best. Each experiment is an
:class:`~arrl.run.attempt.Attempt`, whose module holds the order of calls on the six roles:

    propose -> claim -> validate -> snapshot -> run (early stopping, evaluation)
    -> record -> reward -> journal -> keep or restore the last good -> memory -> proposer learns

The loop's start derives the run's state from the journal (:mod:`arrl.run.state`) and sets up
what every attempt works with (:mod:`arrl.run.workbench`); then a scheduler makes the attempts,
one at a time (:mod:`arrl.run.serial`) or, with ``--workers N``, on a pool of workers
(:mod:`arrl.run.workers`), until a stop condition, a pause or Ctrl-C (:mod:`arrl.run.ending`).

All state that matters is derived from the journal, so the loop can be killed at any moment and
continued: the workspace is restored to the last good version recorded there.

Every step is announced through the event hooks (:mod:`arrl.run.events`); the loop prints nothing
itself: ``run.log`` and any display are subscribers.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

from arrl.config import Settings
from arrl.errors import ArrlError
from arrl.journal import RunDirectory, RunStatus, memory_from_journal
from arrl.manager import PluginManager
from arrl.records import ExperimentRecord
from arrl.roles import PluginContext

from .components import Components
from .continuation import check_fingerprint
from .ending import EXIT_INTERRUPTED, EXIT_OK, EXIT_PAUSED, Ending
from .events import Event, LineWriter, Subscriber, plain_line, subscribed, summary
from .lanes import Lane, LoopResult
from .monitors import RunToEnd
from .resources import cpu_share, gpu_ids
from .serial import SerialScheduler
from .state import RunState
from .workbench import Workbench
from .workers import WorkerPool

# RunToEnd and the exit codes are imported from here by the results package and older code.
__all__ = ["EXIT_INTERRUPTED", "EXIT_OK", "EXIT_PAUSED", "ExperimentLoop", "RunToEnd"]


class ExperimentLoop:
    def __init__(
        self,
        settings: Settings,
        run: RunDirectory,
        components: Components,
        manager: PluginManager,
        context: PluginContext,
        report: Callable[[str], None] | None = None,
    ) -> None:
        self.settings = settings
        self.run_dir = run
        self.c = components
        self.manager = manager
        self.hooks = manager.hook
        self.context = context
        self.report = report
        self.abort = threading.Event()

    def _derive_state(self, records: list[ExperimentRecord], reset_failures: bool) -> RunState:
        """The state a start derives from ``records`` (:meth:`RunState.derive`)."""
        return RunState.derive(records, reset_failures)

    def close(self) -> None:
        """Release the components' connections; call once the loop has returned."""
        self.c.close()

    def _log(self, message: str) -> None:
        self.hooks.arrl_note(run_id=self.run_dir.run_id, message=message, at=time.time())

    def _subscribers(self) -> Iterator[Subscriber]:
        """The loop's own subscribers: run.log always; the plain lines of ``report`` if given."""
        yield LineWriter(path=self.run_dir.log_path, run_id=self.run_dir.run_id)
        if self.report is not None:
            yield _Lines(self.report)

    def run(self) -> LoopResult:
        """Run until a stop condition, a pause, Ctrl-C or an error; announce the end."""
        run_id = self.run_dir.run_id
        never_started = False
        try:
            with subscribed(self.manager, *self._subscribers()):
                try:
                    result = self._loop()
                except BaseException as error:
                    try:
                        ended = self.run_dir.end_after_error(error)
                        status, never_started = ended.value, self.run_dir.began_nothing(ended, error)
                    except (ArrlError, OSError):
                        status = "unknown"
                    self.hooks.arrl_run_finished(run_id=run_id, status=status,
                                                 message=str(error) or type(error).__name__,
                                                 exit_code=getattr(error, "exit_code", 1), at=time.time())
                    raise
                self.hooks.arrl_run_finished(run_id=run_id, status=result.status.value, message=result.message,
                                             exit_code=result.exit_code, at=time.time())
                if result.status is RunStatus.FINISHED:
                    self._let_go()  # after the event: a subscriber may still look at the workspace
                return result
        finally:
            if never_started:
                # It recorded nothing, and its error was said: keeping an empty run, a worktree
                # and refs per failed try would only clutter `arrl runs` and `git worktree list`.
                try:
                    self.c.rollback.discard()
                except Exception as error:  # the error that stopped the run is the one to report
                    self._log(f"could not remove the workspace of the run that did not start: {error}")
                self.run_dir.remove()

    def _let_go(self) -> None:
        """A finished run is not continued: its worktrees go (git worktree list stays the
        user's); its versions stay."""
        try:
            self.c.rollback.finish()
        except Exception as error:  # noqa: BLE001 - the run's result stands; say what is left
            self._log(f"could not remove the finished run's workspace: {error}")

    def _loop(self) -> LoopResult:
        """Start, then hand the run to its scheduler: the serial one, or a pool of workers."""
        state = self.start()
        ending = Ending(self.bench)
        if self.settings.workers > 1:
            return WorkerPool(self.bench, state, self.lane, ending).run()
        return SerialScheduler(self.bench, state, self.lane, ending).run()

    def start(self) -> RunState:
        """Everything before the first experiment: the state from the journal, stale processes
        removed (once, before any worker starts), the workspace at the last good version, the
        proposer and the memory restored."""
        run = self.run_dir
        run.repair()
        meta = run.load_meta()
        state = RunState.derive(run.records(), reset_failures=meta.status is RunStatus.PAUSED)
        # An experiment journaled just before a kill has no run.log line yet: the journal rules.
        run.complete_log([(r.id, r.finished_at or r.started_at, summary(r)) for r in state.records])
        check_fingerprint(run, self.c.names["runner"], self.c.runner.fingerprint())
        run.set_status(RunStatus.RUNNING)
        self.bench = bench = Workbench.open(self.settings, run, self.c, self.manager, self.context, self.abort)
        if not state.last_good_commit:
            state.last_good_commit = bench.baseline_commit
        # The journal, not the rollback's own bookkeeping, says what the last good version is.
        self.c.rollback.mark_good(state.last_good_commit)
        self.c.rollback.restore(state.last_good_commit)
        if bench.evaluate_path and not (bench.workspace / bench.evaluate_path).is_file():
            raise ArrlError(f"the evaluation script {bench.evaluate_path} is not among the repository's committed "
                            "files; commit it or unset `evaluate`")
        if run.proposer_state.exists():
            try:
                self.c.proposer.load(run.proposer_state)
            except Exception as error:  # a third-party proposer's state: any failure is the same news
                bench.note(f"the proposer's saved state cannot be read ({type(error).__name__}: {error}); it "
                           "starts afresh, and the journal keeps every result")
        self.hooks.arrl_run_started(run_id=run.run_id, metric=self.settings.metric,
                                    direction=self.settings.direction.value, budget_seconds=self.settings.budget,
                                    previous=list(state.records), at=time.time())
        self.c.memory.refill(*memory_from_journal(state.records))
        self.lane = Lane(self.c.rollback, self.c.runner, bench.workspace,
                         cpu_share(self.settings.workers, self.settings.cpus_per_worker),
                         next(iter(gpu_ids(self.settings.gpus)), None))
        return state


class _Lines(Subscriber):
    """The plain lines of one run passed to a callable (the loop's ``report`` argument)."""

    def __init__(self, report: Callable[[str], None]) -> None:
        self.report = report

    def handle(self, event: Event) -> None:
        line = plain_line(event)
        if line is not None:
            self.report(line)
