"""The experiment loop: the order of calls on the six roles, and nothing else.

Experiment 0 runs the unmodified script and sets the first best. Each later experiment:

    propose -> claim the program (lost: a duplicate, not run) -> validator chain (rejected: not
    run) -> snapshot commit
    -> run under the budget, streaming metrics to the early stopper -> record -> reward
    -> journal -> keep as last good, or restore the last good -> memory -> proposer learns

All state that matters is derived from the journal, so the loop can be killed at any moment and
continued: the workspace is restored to the last good version recorded there.

Every step is announced through the event hooks (:mod:`arrl.run.events`); the loop prints nothing
itself: ``run.log`` and any display are subscribers.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterator

import attrs

from arrl.config import Settings
from arrl.errors import ArrlError
from arrl.journal import RunDirectory, RunStatus, memory_from_journal, now_iso
from arrl.manager import PluginManager
from arrl.metrics import final_value
from arrl.output import counted
from arrl.records import (
    ExperimentRecord,
    MetricPoint,
    Observation,
    Outcome,
    Proposal,
    RunResult,
    ValidationResult,
)
from arrl.results.best import becomes_best, best_record
from arrl.roles import PluginContext, RewardContext, RunMonitor, RunRequest
from arrl.schema import HISTORY_WINDOW, SchemaError, config_hash
from arrl.script.reader import Extraction, ScriptError, extract, program_hash, unified_diff
from arrl.script.space import build_space

from .components import Components
from .early_stopping import TrendStopper
from .evaluation import DISAGREEMENT, evaluation_script, judge
from .events import Event, LineWriter, Subscriber, plain_line, subscribed, summary
from .faults import checkpoint
from .lanes import Lane, LoopResult
from .noise import BASELINE, baseline_runs_done, describe_floor, noise_floor, within_noise
from .resources import cpu_share, gpu_ids, thread_env

EXIT_OK, EXIT_PAUSED, EXIT_INTERRUPTED = 0, 3, 130


class _Monitor(RunMonitor):
    """Feeds metric points to the early stopper; fails fast on a non-finite loss."""

    def __init__(self, metric: str, stopper: TrendStopper, abort: threading.Event,
                 on_point: Callable[[MetricPoint], None] = lambda point: None) -> None:
        self.metric = metric
        self.stopper = stopper
        self.abort = abort
        self.on_point = on_point
        self.subscriber_error = ""  # the first exception of an arrl_metric subscriber
        self.non_finite: MetricPoint | None = None
        self.stopped_early = False

    def on_metric(self, point: MetricPoint) -> bool:
        checkpoint("mid-experiment")
        if not self.subscriber_error:
            try:
                self.on_point(point)
            except Exception as error:  # in the runner's thread, it would stop draining the output
                self.subscriber_error = f"{type(error).__name__}: {error}"
        if point.name != self.metric:
            return True
        if not math.isfinite(point.value):
            # The first one: a script that ends by itself may print more before the stop lands.
            self.non_finite = self.non_finite or point
            return False
        if self.stopper.should_stop(point.value):
            self.stopped_early = True
            return False
        return True

    def should_abort(self) -> bool:
        return self.abort.is_set()


@attrs.define
class _State:
    """What the loop derives from the journal."""

    records: list[ExperimentRecord]
    last_good_id: int | None = None
    last_good_commit: str = ""
    best: float | None = None
    best_curve: list[float] = attrs.Factory(list)  # the best run's metric values, in order
    consecutive_failures: int = 0
    consecutive_duplicates: int = 0  # proposals of programs this run already ran, in a row
    running: dict[int, str] = attrs.Factory(dict)  # experiment id -> config hash, proposed, not concluded
    # Runs of the unmodified script proposed and not concluded: experiment id -> seed. With
    # several workers the noise-floor repeats run side by side, each with a seed of its own.
    running_baselines: dict[int, int] = attrs.Factory(dict)
    noise_floor: float | None = None  # arrl.run.noise: the metric's spread over baseline seeds
    # Experiments since the best last moved by more than the noise margin (`plateau`): proposals
    # of every outcome count, the unmodified script's repeats and interrupted ones do not.
    stalled: int = 0


def _free_repeat_seed(state: _State, seed: int) -> int:
    """The first seed after the run's ``seed`` that no ended or running run of the unmodified
    script has used: each repeat measures the floor with a seed of its own, also when repeats run
    side by side on several workers or an interrupted one is run again."""
    used = {r.seed for r in state.records if r.proposer == BASELINE and r.outcome is not Outcome.INTERRUPTED}
    used |= set(state.running_baselines.values())
    candidate = seed + 1
    while candidate in used:
        candidate += 1
    return candidate


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
        self.direction = settings.direction
        self.worst = settings.direction.worst
        self._last_read: tuple[str, str] = ("", "")  # (commit, script): see _read

    # -- state ------------------------------------------------------------------------------
    def _derive_state(self, records: list[ExperimentRecord], reset_failures: bool) -> _State:
        state = _State(records=records)
        for record in records:
            if record.kept:
                state.last_good_id, state.last_good_commit = record.id, record.commit
            self._count(state, record)
        if reset_failures:
            # A paused run continues after a fix: its plateau restarts too, or failures that
            # paused it would end it before it ran anything.
            state.consecutive_failures = state.consecutive_duplicates = state.stalled = 0
        return state

    def _count(self, state: _State, record: ExperimentRecord) -> None:
        """Fold one record into the best result, the noise floor and the consecutive-failure count."""
        improved = becomes_best(record, state.best)
        if improved:
            state.best = record.value
            if DISAGREEMENT not in record.details:  # a curve its trusted value contradicts is no model
                state.best_curve = [p.value for p in record.curve]
        if improved and not record.within_noise:
            state.stalled = 0
        elif record.proposer != BASELINE and record.outcome is not Outcome.INTERRUPTED:
            state.stalled += 1
        if record.proposer == BASELINE:
            state.noise_floor = noise_floor(state.records)
        if record.outcome.is_failure:
            state.consecutive_failures += 1
        elif record.outcome not in (Outcome.DUPLICATE, Outcome.INTERRUPTED):
            state.consecutive_failures = 0
        if record.outcome is Outcome.DUPLICATE:
            state.consecutive_duplicates += 1
        elif record.outcome is not Outcome.INTERRUPTED:
            state.consecutive_duplicates = 0

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

    # -- the loop ---------------------------------------------------------------------------
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
        state = self.start()
        if self.settings.workers > 1:
            from .workers import WorkerPool

            return WorkerPool(self, state).run()
        started = time.monotonic()
        while True:
            stop = self._stop_reason(state, started)
            if stop:
                return self._finished(state, stop)
            if self.abort.is_set():
                return self._interrupted()
            record = self._experiment(state)
            verdict = self._verdict(record, state)
            if verdict is not None:
                return verdict

    def start(self) -> _State:
        """Everything before the first experiment: the state from the journal, stale processes
        removed (once, before any worker starts), the workspace at the last good version, the
        proposer and the memory restored."""
        run = self.run_dir
        run.repair()
        meta = run.load_meta()
        state = self._derive_state(run.records(), reset_failures=meta.status is RunStatus.PAUSED)
        # An experiment journaled just before a kill has no run.log line yet: the journal rules.
        run.complete_log([(r.id, r.finished_at or r.started_at, summary(r)) for r in state.records])
        self._check_fingerprint()
        run.set_status(RunStatus.RUNNING)
        removed = self.c.runner.cleanup_stale(run.run_id)
        if removed:
            self._log(f"removed {removed} leftover process(es) of an earlier arrl process")
        self.workspace = self.c.rollback.open(run.run_id)
        self.baseline_commit, self.baseline_script = self.c.rollback.baseline()
        try:
            baseline = self._extract(self.baseline_script)
        except (ScriptError, SchemaError) as error:
            raise ArrlError(f"the training script cannot be read: {error}") from None
        # The space is the baseline's: its values are always inside, and every proposal is
        # judged against it (arrl.script.space).
        self.space = build_space(baseline.values, self.context.space, tuple(baseline.editable), strict=True)
        self.evaluate_path = evaluation_script(self.settings.evaluate, self.context.script_path) \
            if self.settings.evaluate else ""
        if not state.last_good_commit:
            state.last_good_commit = self.baseline_commit
        # The journal, not the rollback's own bookkeeping, says what the last good version is.
        self.c.rollback.mark_good(state.last_good_commit)
        self.c.rollback.restore(state.last_good_commit)
        if self.evaluate_path and not (self.workspace / self.evaluate_path).is_file():
            raise ArrlError(f"the evaluation script {self.evaluate_path} is not among the repository's committed "
                            "files; commit it or unset `evaluate`")
        if run.proposer_state.exists():
            self.c.proposer.load(run.proposer_state)
        self.hooks.arrl_run_started(run_id=run.run_id, metric=self.settings.metric, direction=self.direction.value,
                                    budget_seconds=self.settings.budget, previous=list(state.records),
                                    at=time.time())
        self.c.memory.refill(*memory_from_journal(state.records))
        self.lane = Lane(self.c.rollback, self.c.runner, self.workspace,
                         cpu_share(self.settings.workers, self.settings.cpus_per_worker),
                         next(iter(gpu_ids(self.settings.gpus)), None))
        return state

    def _finished(self, state: _State, stop: str) -> LoopResult:
        self.run_dir.set_status(RunStatus.FINISHED, stop)
        return LoopResult(RunStatus.FINISHED, EXIT_OK, f"{stop}; {self._best_line(state)}")

    def _verdict(self, record: ExperimentRecord, state: _State) -> LoopResult | None:
        """Whether the run must end after ``record``: interrupted, failed baseline, or paused."""
        run = self.run_dir
        if record.outcome is Outcome.INTERRUPTED:
            return self._interrupted()
        if record.proposer == BASELINE and state.last_good_id is None:
            message = (
                f"the unmodified script failed ({record.outcome.value}: "
                f"{record.failure_reason}); fix it, commit, and start again with `arrl run --new`"
            )
            run.set_status(RunStatus.FINISHED, message)
            self.hooks.arrl_alert(run_id=run.run_id, level="error", message=message, at=time.time())
            raise ArrlError(message)
        reason = ""
        if state.consecutive_failures >= self.settings.failure_limit:
            count = state.consecutive_failures
            reason = (
                f"{count} consecutive failures (last: " if count > 1 else "a failure ("
            ) + f"{record.outcome.value}: {record.failure_reason})"
        elif state.consecutive_duplicates >= self.settings.duplicate_limit:
            # Nothing new is being tried: an unattended run would fill its journal with
            # duplicates. A human should widen the space or pick another proposer.
            reason = (
                f"{state.consecutive_duplicates} consecutive duplicate proposals: the proposer keeps "
                "proposing programs this run already ran (widen the [space], or try another proposer)"
            )
        if reason:
            run.set_status(RunStatus.PAUSED, reason)
            self.hooks.arrl_run_paused(run_id=run.run_id, reason=reason, at=time.time())
            self.hooks.arrl_alert(run_id=run.run_id, level="error", message=f"run paused: {reason}",
                                  at=time.time())
            return LoopResult(
                RunStatus.PAUSED,
                EXIT_PAUSED,
                f"run {run.run_id} paused after {reason}. Look at `arrl history`, then "
                "continue it with `arrl run` (or `arrl resume`).",
            )
        return None

    def _best_line(self, state: _State) -> str:
        top = best_record(state.records)
        if top is None:
            return "no successful experiment"
        if top.proposer == "baseline":
            # Its commit is the user's own: pointing there would suggest a change that is not one.
            return (f"best {top.metric_name}={top.value:.6g} is still the unmodified script "
                    f"(experiment {top.id}); no edit beat it")
        return (f"best {top.metric_name}={top.value:.6g} from experiment {top.id} "
                f"(see `arrl show {top.id}`; `arrl apply best` puts it on your branch)")

    def _check_fingerprint(self) -> None:
        """Refuse to mix experiments run in different environments into one run: their
        results would not be comparable (the design document's advice to pin digests)."""
        current = {"runner": self.c.names["runner"], **self.c.runner.fingerprint()}
        meta = self.run_dir.load_meta()
        if not meta.fingerprint:
            meta.fingerprint = current
            self.run_dir.save_meta(meta)
            return
        differs = sorted(k for k in set(meta.fingerprint) | set(current) if meta.fingerprint.get(k) != current.get(k))
        if differs:
            detail = "; ".join(f"{k}: run has {meta.fingerprint.get(k, '-')!r}, now {current.get(k, '-')!r}" for k in differs)
            raise ArrlError(
                f"run {meta.run_id} was recorded in another environment ({detail}); results would not be "
                "comparable. Start a new run with `arrl run --new`, or restore that environment.")

    def _interrupted(self) -> LoopResult:
        self.run_dir.set_status(RunStatus.INTERRUPTED, "stopped by the user")
        return LoopResult(
            RunStatus.INTERRUPTED, EXIT_INTERRUPTED,
            f"run {self.run_dir.run_id} interrupted; `arrl run` continues it",
        )

    def _stop_reason(self, state: _State, started: float) -> str:
        s = self.settings
        if s.max_experiments is not None and len(state.records) >= s.max_experiments:
            return f"reached --max-experiments {s.max_experiments}"
        if s.max_hours is not None and time.monotonic() - started >= s.max_hours * 3600:
            return f"reached --max-hours {s.max_hours:g}"
        if s.target is not None and state.best is not None and not self.direction.better(s.target, state.best):
            return f"reached the target {s.metric} {s.target:g} (best {state.best:g})"
        if s.plateau is not None and state.stalled >= s.plateau:
            return (f"reached --plateau {s.plateau}: no improvement on the best beyond the noise margin in the last "
                    f"{counted(state.stalled, 'experiment')}")
        return ""

    # -- one experiment ---------------------------------------------------------------------
    def _experiment(self, state: _State) -> ExperimentRecord:
        experiment_id = max((r.id for r in state.records), default=-1) + 1
        record, proposal, parent_commit = self._propose(state, experiment_id)
        commit = self._attempt(record, proposal, parent_commit, state, self.lane)
        return self._conclude(record, commit, state, self.lane)

    # The three phases of an experiment, so that a worker pool (arrl.run.workers) runs the middle
    # one on several workers at once while proposing and concluding stay one at a time.
    def _propose(self, state: _State, experiment_id: int) -> tuple[ExperimentRecord, Proposal, str]:
        """The next proposal and its record (not yet run), made against the last good version."""
        parent_commit = state.last_good_commit
        parent_script = self._read(parent_commit)
        # Until the unmodified script has succeeded once (an interrupted first try does not
        # count) there is no best to improve on, so the baseline runs again.
        is_baseline = state.last_good_id is None
        # Then it runs again with other seeds, to measure the noise floor (arrl.run.noise); repeats
        # already running on other workers count, so no more than baseline_runs are started.
        runs_started = baseline_runs_done(state.records) + len(state.running_baselines)
        repeat = not is_baseline and runs_started < self.settings.baseline_runs
        if is_baseline or repeat:
            proposal = Proposal(script=self.baseline_script, proposer=BASELINE)
        else:
            extraction = self._extract(parent_script)
            observation = Observation(
                script=parent_script,
                config=dict(extraction.values),
                editable=tuple(n for n in extraction.editable if n in self.space),
                choices=dict(extraction.choices),
                space=self.space,
                history=self.c.memory.window()[-HISTORY_WINDOW:],
                best_value=state.best,
                direction=self.direction,
                noise_floor=state.noise_floor,
                tried=frozenset({r.config_hash for r in state.records if r.outcome is not Outcome.INTERRUPTED}
                                | set(state.running.values())),
            )
            try:
                proposal = self.c.proposer.propose(observation)
            except ArrlError:
                raise
            except Exception as error:
                raise ArrlError(
                    f"proposer {self.c.names['proposer']!r} failed: {type(error).__name__}: {error}"
                ) from error
        path = self.context.script_path
        try:
            config = dict(self._extract(proposal.script).values)
        except (ScriptError, SchemaError):
            config = {}  # unreadable: the validator chain says why
        record = ExperimentRecord(
            id=experiment_id,
            parent_id=state.last_good_id,
            outcome=Outcome.OK,
            config=config,
            config_hash=config_hash(config),
            program_hash=program_hash(proposal.script),
            metric_name=self.settings.metric,
            direction=self.direction,
            value=self.worst,
            proposer=proposal.proposer or self.c.names["proposer"],
            edit=proposal.edit,
            diff_parent=unified_diff(parent_script, proposal.script, path),
            diff_baseline=unified_diff(self.baseline_script, proposal.script, path),
            started_at=now_iso(),
            proposal_id=proposal.id,
            seed=_free_repeat_seed(state, self.settings.seed) if repeat else self.settings.seed,
        )
        state.running[record.id] = record.config_hash
        if is_baseline or repeat:
            state.running_baselines[record.id] = record.seed if record.seed is not None else self.settings.seed
        self.hooks.arrl_experiment_proposed(record=record, run_id=self.run_dir.run_id, at=time.time())
        return record, proposal, parent_commit

    def _attempt(self, record: ExperimentRecord, proposal: Proposal, parent_commit: str, state: _State,
                 lane: Lane) -> str:
        """Claim, validate, snapshot and run ``proposal`` in ``lane``; return its commit ("" when
        it did not run)."""
        is_baseline = proposal.proposer == "baseline"
        experiment_id = record.id
        run_id = self.run_dir.run_id
        commit = ""
        # The baseline is claimed too (so no proposal repeats it) but runs whatever the claim says.
        if not self.c.memory.claim(record.program_hash) and not is_baseline:
            record.outcome = Outcome.DUPLICATE
            record.failure_reason = "the same program was already run (or is running) in this run"
            self.hooks.arrl_proposal_rejected(record=record, run_id=run_id, reason=record.failure_reason,
                                              at=time.time())
        else:
            verdict = ValidationResult() if is_baseline else self.c.validate(proposal.script, self.baseline_script)
            if not verdict.accepted:
                record.outcome, record.failure_reason = Outcome.REJECTED, str(verdict)
                self.hooks.arrl_proposal_rejected(record=record, run_id=run_id, reason=record.failure_reason,
                                                  at=time.time())
            else:
                if not is_baseline:
                    commit, record.ref = lane.rollback.snapshot(
                        proposal.script, experiment_id,
                        f"arrl {self.run_dir.run_id} experiment {experiment_id}: "
                        f"{proposal.edit.description if proposal.edit else 'proposal'}",
                        parent_commit,
                    )
                else:
                    commit = self.baseline_commit
                    record.ref = lane.rollback.keep(commit, experiment_id)
                record.commit = commit
                self._execute(record, state, lane)
                if record.outcome is Outcome.INTERRUPTED:
                    self.c.memory.release(record.program_hash)  # no result: it may run again
        return commit

    def _conclude(self, record: ExperimentRecord, commit: str, state: _State, lane: Lane,
                  restore: bool = True) -> ExperimentRecord:
        """Score, journal, keep or roll back, remember and learn. A result is kept only when it
        beats the best known now, so a late result never overwrites a better one."""
        state.running.pop(record.id, None)
        state.running_baselines.pop(record.id, None)
        is_baseline = record.proposer == "baseline"
        record.finished_at = now_iso()
        record.reward = self.c.reward.score(
            record, RewardContext(state.best, self.settings.budget, self.direction)
        )
        repeat = is_baseline and state.last_good_id is not None
        if record.outcome is Outcome.OK and not is_baseline:
            record.within_noise = within_noise(record.value, state.best, state.noise_floor, self.direction)
        refused = record.within_noise and self.settings.refuse_noise
        if record.outcome is Outcome.OK and not repeat and not refused and (
            self.settings.keep == "any" or self.direction.better(record.value, state.best)
        ):
            record.kept = True
        checkpoint("journal-append")
        self.run_dir.append(record)  # the point of no return: from here the record exists
        checkpoint("journal-appended")
        state.records.append(record)
        if record.kept:
            state.last_good_id, state.last_good_commit = record.id, record.commit
            lane.rollback.mark_good(record.commit)
        self._count(state, record)
        # A worker pool restores its own worktree after the one-at-a-time phase (restore=False):
        # only this lane uses it, and the checkout was the largest part of concluding.
        if restore and commit and not record.kept:
            lane.rollback.restore(state.last_good_commit)
        if record.outcome not in (Outcome.DUPLICATE, Outcome.INTERRUPTED):
            self.c.memory.add(record.history_entry())
        if not is_baseline and record.outcome is not Outcome.INTERRUPTED:
            self.c.proposer.learn(record, record.reward)
            self.c.proposer.save(self.run_dir.proposer_state)
        self.hooks.arrl_experiment_finished(record=record, run_id=self.run_dir.run_id, at=time.time())
        # After the last repeat's own line, which the floor is computed from.
        if is_baseline and self.settings.baseline_runs > 1 and record.outcome is not Outcome.INTERRUPTED \
                and baseline_runs_done(state.records) == self.settings.baseline_runs:
            self._log(describe_floor(state.records, self.settings.metric))
        return record

    def _read(self, commit: str) -> str:
        """The script at ``commit``. A commit never changes, so the last one read is kept: every
        proposal reads the last good version, and asking git each time cost 10-15 ms of the
        one-at-a-time phase (benchmarks/scaling/scaling_simulated.py)."""
        if self._last_read[0] != commit or not commit:
            self._last_read = (commit, self.c.rollback.read(commit))
        return self._last_read[1]

    def _extract(self, script: str) -> Extraction:
        path = self.context.script_path
        return extract(script, path, self.context.field_map, self.context.space.knobs,
                       (self.context.repo_root / path).parent)

    def _execute(self, record: ExperimentRecord, state: _State, lane: Lane) -> None:
        directory = self.run_dir.experiment_dir(record.id)
        script = lane.workspace / self.context.script_path
        output = directory / "output"
        request = RunRequest(
            run_id=self.run_dir.run_id,
            experiment_id=record.id,
            script=script,
            workspace=lane.workspace,
            workdir=script.parent,
            output_dir=output,
            log_dir=directory,
            budget_seconds=self.settings.budget,
            seed=record.seed if record.seed is not None else self.settings.seed,
            silence_timeout=self.settings.silence_timeout,
            env={
                "ARRL_RUN_ID": self.run_dir.run_id,
                "ARRL_EXPERIMENT_ID": str(record.id),
                "ARRL_BUDGET_SECONDS": f"{self.settings.budget:g}",
                "ARRL_OUTPUT_DIR": str(output),
                "ARRL_SEED": str(record.seed if record.seed is not None else self.settings.seed),
                "ARRL_METRIC": self.settings.metric,
                **thread_env(lane.cpus),
                **({"CUDA_VISIBLE_DEVICES": lane.gpu} if lane.gpu is not None else {}),
            },
            cpus=lane.cpus,
        )
        # A run of the unmodified script measures the noise floor: it must run to its end.
        best = None if record.proposer == BASELINE else state.best
        stopper = TrendStopper(self.settings.early_stopping, best, self.direction, state.best_curve)
        run_id = self.run_dir.run_id
        monitor = _Monitor(self.settings.metric, stopper, self.abort, on_point=lambda point: self.hooks.arrl_metric(
            run_id=run_id, experiment_id=record.id, point=point, at=time.time()))
        self.hooks.arrl_experiment_started(experiment_id=record.id, run_id=run_id, record=record,
                                           budget_seconds=self.settings.budget, at=time.time())
        try:
            result = lane.runner.run(request, monitor)
        except OSError as error:
            raise ArrlError(f"cannot run experiment {record.id}: {error.strerror or error} "
                            f"({error.filename or 'runner'}); nothing recorded before is lost") from None
        self._apply_result(record, result, monitor)
        if self.evaluate_path and record.outcome is Outcome.OK:
            self._evaluate(record, request, lane)
        if monitor.subscriber_error:
            self.hooks.arrl_alert(run_id=run_id, level="warning", at=time.time(), message=(
                f"a subscriber of arrl_metric failed ({monitor.subscriber_error}); the rest of "
                f"experiment {record.id}'s metric events were not sent"))

    def _evaluate(self, record: ExperimentRecord, training: RunRequest, lane: Lane) -> None:
        """Run the trusted evaluation on what the experiment wrote; its metric is recorded."""
        # The experiment's commit, exactly: nothing the run wrote into the workspace survives.
        lane.rollback.restore(record.commit)
        script = lane.workspace / self.evaluate_path
        request = attrs.evolve(training, script=script, workdir=script.parent,
                               log_dir=training.log_dir / "evaluate",
                               env={**training.env, "ARRL_EVALUATING": "1"})
        request.log_dir.mkdir(parents=True, exist_ok=True)
        try:
            result = lane.runner.run(request, RunToEnd(self.abort))
        except OSError as error:
            raise ArrlError(f"cannot run the evaluation of experiment {record.id}: {error}") from None
        if result.outcome is Outcome.INTERRUPTED:
            record.outcome, record.failure_reason = Outcome.INTERRUPTED, "interrupted during the trusted evaluation"
            return
        verdict = judge(record, result, self.settings.metric)
        record.outcome, record.value = verdict.outcome, verdict.value
        record.failure_reason = verdict.failure_reason or record.failure_reason
        record.details.update(verdict.details)
        if DISAGREEMENT in verdict.details:
            self.hooks.arrl_alert(run_id=self.run_dir.run_id, level="warning",
                                  message=f"experiment {record.id}: {verdict.details[DISAGREEMENT]}", at=time.time())

    def _apply_result(self, record: ExperimentRecord, result: RunResult, monitor: _Monitor) -> None:
        metric = self.settings.metric
        record.outcome = result.outcome
        record.exit_code = result.exit_code
        record.wall_clock_seconds = result.wall_clock_seconds
        record.curve = [p for p in result.metrics if p.name == metric]
        record.failure_reason = result.failure_reason
        record.stdout_path, record.stderr_path = result.stdout_path, result.stderr_path
        record.details = dict(result.details)
        if monitor.non_finite is not None and record.outcome is not Outcome.INTERRUPTED:
            point = monitor.non_finite
            at = f" at step {point.step}" if point.step is not None else ""
            record.outcome, record.failure_reason = Outcome.FAILED, f"{metric} became {point.value}{at}"
            return
        if record.outcome not in (Outcome.OK, Outcome.EARLY_STOPPED):
            return
        value = final_value(result.metrics, metric)
        if value is None:
            record.outcome = Outcome.FAILED
            hint = result.details.get("metric_errors", "")
            # A typo or another metric (val_acc for val_loss) is the usual cause: name what came.
            others = sorted({p.name for p in result.metrics if p.name != metric})
            record.failure_reason = (
                f"metric {metric!r} was never reported; print a line `arrl: {metric}=<number>`"
                + (f" (the script reported {', '.join(others)}; set `metric` to one of them?)" if others else "")
                + (f" (unreadable metric lines: {hint})" if hint else "")
            )
            return
        record.value = value


class RunToEnd(RunMonitor):
    """A monitor that never stops a run early, only on the user's Ctrl-C: for the trusted
    evaluation, and for a reproduction, which measures the whole run as the original did."""

    def __init__(self, abort: threading.Event) -> None:
        self.abort = abort

    def on_metric(self, point: MetricPoint) -> bool:
        return True

    def should_abort(self) -> bool:
        return self.abort.is_set()


class _Lines(Subscriber):
    """The plain lines of one run passed to a callable (the loop's ``report`` argument)."""

    def __init__(self, report: Callable[[str], None]) -> None:
        self.report = report

    def handle(self, event: Event) -> None:
        line = plain_line(event)
        if line is not None:
            self.report(line)
