"""The experiment loop: the order of calls on the six roles, and nothing else.

Experiment 0 runs the unmodified script and sets the first best. Each later experiment:

    propose -> duplicate? (not run) -> validator chain (rejected: not run) -> snapshot commit
    -> run under the budget, streaming metrics to the early stopper -> record -> reward
    -> journal -> keep as last good, or restore the last good -> memory -> proposer learns

All state that matters is derived from the journal, so the loop can be killed at any moment and
continued: the workspace is restored to the last good version recorded there.
"""

from __future__ import annotations

import math
import threading
import time
from typing import Callable

import attrs

from .assembly import Components
from .config import Settings
from .early_stopping import TrendStopper
from .errors import ArrlError
from .faults import checkpoint
from .journal import RunDirectory, RunStatus, now_iso
from .metrics import final_value
from .noise import BASELINE, baseline_runs_done, noise_floor, within_noise
from .manager import PluginManager
from .records import (
    ExperimentRecord,
    MetricPoint,
    Observation,
    Outcome,
    Proposal,
    RunResult,
    ValidationResult,
)
from .roles import PluginContext, RewardContext, RunMonitor, RunRequest
from .schema import HISTORY_WINDOW, SchemaError, config_hash
from .script import Extraction, ScriptError, extract, program_hash, unified_diff

EXIT_OK, EXIT_PAUSED, EXIT_INTERRUPTED = 0, 3, 130


class _Monitor(RunMonitor):
    """Feeds metric points to the early stopper; fails fast on a non-finite loss."""

    def __init__(self, metric: str, stopper: TrendStopper, abort: threading.Event) -> None:
        self.metric = metric
        self.stopper = stopper
        self.abort = abort
        self.non_finite: MetricPoint | None = None
        self.stopped_early = False

    def on_metric(self, point: MetricPoint) -> bool:
        checkpoint("mid-experiment")
        if point.name != self.metric:
            return True
        if not math.isfinite(point.value):
            self.non_finite = point
            return False
        if self.stopper.should_stop(point.value):
            self.stopped_early = True
            return False
        return True

    def should_abort(self) -> bool:
        return self.abort.is_set()


@attrs.frozen
class LoopResult:
    status: RunStatus
    exit_code: int
    message: str


@attrs.define
class _State:
    """What the loop derives from the journal."""

    records: list[ExperimentRecord]
    last_good_id: int | None = None
    last_good_commit: str = ""
    best: float | None = None
    best_curve: list[float] = attrs.Factory(list)  # the best run's metric values, in order
    consecutive_failures: int = 0
    noise_floor: float | None = None  # arrl.noise: the metric's spread over baseline seeds


class ExperimentLoop:
    def __init__(
        self,
        settings: Settings,
        run: RunDirectory,
        components: Components,
        manager: PluginManager,
        context: PluginContext,
        report: Callable[[str], None] = print,
    ) -> None:
        self.settings = settings
        self.run_dir = run
        self.c = components
        self.hooks = manager.hook
        self.context = context
        self.report = report
        self.abort = threading.Event()
        self.direction = settings.direction
        self.worst = settings.direction.worst

    # -- state ------------------------------------------------------------------------------
    def _derive_state(self, records: list[ExperimentRecord], reset_failures: bool) -> _State:
        state = _State(records=records)
        for record in records:
            if record.kept:
                state.last_good_id, state.last_good_commit = record.id, record.commit
            self._count(state, record)
        if reset_failures:
            state.consecutive_failures = 0
        return state

    def _count(self, state: _State, record: ExperimentRecord) -> None:
        """Fold one record into the best result, the noise floor and the consecutive-failure count."""
        refused = record.within_noise and self.settings.refuse_noise
        # The baseline's repeats ran with other seeds; proposals run with the first one's, and
        # are compared with it, like with like.
        repeat = record.proposer == BASELINE and state.best is not None
        if record.outcome is Outcome.OK and not (refused or repeat) and self.direction.better(record.value, state.best):
            state.best = record.value
            state.best_curve = [p.value for p in record.curve]
        if record.proposer == BASELINE:
            state.noise_floor = noise_floor(state.records)
        if record.outcome.is_failure:
            state.consecutive_failures += 1
        elif record.outcome not in (Outcome.DUPLICATE, Outcome.INTERRUPTED):
            state.consecutive_failures = 0

    def close(self) -> None:
        """Release the components' connections; call once the loop has returned."""
        self.c.close()

    def _log(self, message: str) -> None:
        with (self.run_dir.path / "run.log").open("a") as log:
            log.write(f"{now_iso()} {message}\n")

    # -- the loop ---------------------------------------------------------------------------
    def run(self) -> LoopResult:
        run = self.run_dir
        run.repair()
        meta = run.load_meta()
        state = self._derive_state(run.records(), reset_failures=meta.status is RunStatus.PAUSED)
        self._check_fingerprint()
        run.set_status(RunStatus.RUNNING)
        removed = self.c.runner.cleanup_stale(run.run_id)
        if removed:
            self._log(f"removed {removed} leftover process(es) of an earlier arrl process")
        self.workspace = self.c.rollback.open(run.run_id)
        self.baseline_commit, self.baseline_script = self.c.rollback.baseline()
        try:
            self._extract(self.baseline_script)
        except (ScriptError, SchemaError) as error:
            raise ArrlError(f"the training script cannot be read: {error}") from None
        if not state.last_good_commit:
            state.last_good_commit = self.baseline_commit
        # The journal, not the rollback's own bookkeeping, says what the last good version is.
        self.c.rollback.mark_good(state.last_good_commit)
        self.c.rollback.restore(state.last_good_commit)
        if run.proposer_state.exists():
            self.c.proposer.load(run.proposer_state)
        if len(self.c.memory) == 0:
            for record in state.records[-HISTORY_WINDOW * 4 :]:
                if record.outcome not in (Outcome.DUPLICATE, Outcome.INTERRUPTED):
                    self.c.memory.add(record.history_entry())
        started = time.monotonic()
        while True:
            stop = self._stop_reason(state, started)
            if stop:
                run.set_status(RunStatus.FINISHED, stop)
                return LoopResult(RunStatus.FINISHED, EXIT_OK, f"{stop}; {self._best_line(state)}")
            if self.abort.is_set():
                return self._interrupted()
            record = self._experiment(state)
            if record.outcome is Outcome.INTERRUPTED:
                return self._interrupted()
            if record.proposer == BASELINE and state.last_good_id is None:
                message = (
                    f"the unmodified script failed ({record.outcome.value}: "
                    f"{record.failure_reason}); fix it, commit, and start again with `arrl run --new`"
                )
                run.set_status(RunStatus.FINISHED, message)
                self.hooks.arrl_alert(run_id=run.run_id, level="error", message=message)
                raise ArrlError(message)
            if state.consecutive_failures >= self.settings.failure_limit:
                reason = (
                    f"{state.consecutive_failures} consecutive failures (last: "
                    f"{record.outcome.value}: {record.failure_reason})"
                )
                run.set_status(RunStatus.PAUSED, reason)
                self._log(f"paused: {reason}")
                self.hooks.arrl_run_paused(run_id=run.run_id, reason=reason)
                self.hooks.arrl_alert(run_id=run.run_id, level="error", message=f"run paused: {reason}")
                return LoopResult(
                    RunStatus.PAUSED,
                    EXIT_PAUSED,
                    f"run {run.run_id} paused after {reason}. Look at `arrl history`, then "
                    "continue it with `arrl run` (or `arrl resume`).",
                )

    def _best_line(self, state: _State) -> str:
        best = [r for r in state.records if r.outcome is Outcome.OK and r.value == state.best]
        if not best:
            return "no successful experiment"
        top = best[0]
        return (f"best {top.metric_name}={top.value:.6g} from experiment {top.id} "
                f"(see `git show {top.commit[:12]}`)")

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
        return ""

    # -- one experiment ---------------------------------------------------------------------
    def _experiment(self, state: _State) -> ExperimentRecord:
        experiment_id = state.records[-1].id + 1 if state.records else 0
        parent_script = self.c.rollback.read(state.last_good_commit)
        # Until the unmodified script has succeeded once (an interrupted first try does not
        # count) there is no best to improve on, so the baseline runs again.
        is_baseline = state.last_good_id is None
        # Then it runs again with other seeds, to measure the noise floor (arrl.noise).
        runs_done = baseline_runs_done(state.records)
        repeat = not is_baseline and runs_done < self.settings.baseline_runs
        unmodified = is_baseline or repeat
        if unmodified:
            proposal = Proposal(script=self.baseline_script, proposer=BASELINE)
        else:
            extraction = self._extract(parent_script)
            observation = Observation(
                script=parent_script,
                config=dict(extraction.values),
                editable=tuple(extraction.editable),
                choices=dict(extraction.choices),
                history=self.c.memory.window()[-HISTORY_WINDOW:],
                best_value=state.best,
                direction=self.direction,
                noise_floor=state.noise_floor,
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
            seed=self.settings.seed + (runs_done if repeat else 0),
        )
        commit = ""
        if not unmodified and self.c.memory.contains(record.program_hash):
            record.outcome = Outcome.DUPLICATE
            record.failure_reason = "the same program is already in the memory window"
        else:
            verdict = ValidationResult() if unmodified else self.c.validate(proposal.script, self.baseline_script)
            if not verdict.accepted:
                record.outcome, record.failure_reason = Outcome.REJECTED, str(verdict)
            else:
                if not unmodified:
                    commit, record.ref = self.c.rollback.snapshot(
                        proposal.script, experiment_id,
                        f"arrl {self.run_dir.run_id} experiment {experiment_id}: "
                        f"{proposal.edit.description if proposal.edit else 'proposal'}",
                        state.last_good_commit,
                    )
                else:
                    commit = self.baseline_commit
                record.commit = commit
                self._execute(record, state)
        record.finished_at = now_iso()
        record.reward = self.c.reward.score(
            record, RewardContext(state.best, self.settings.budget, self.direction)
        )
        if record.outcome is Outcome.OK and not unmodified:
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
            self.c.rollback.mark_good(record.commit)
        self._count(state, record)
        if commit and not record.kept:
            self.c.rollback.restore(state.last_good_commit)
        if record.outcome not in (Outcome.DUPLICATE, Outcome.INTERRUPTED):
            self.c.memory.add(record.history_entry())
        if not unmodified and record.outcome is not Outcome.INTERRUPTED:
            self.c.proposer.learn(record, record.reward)
            self.c.proposer.save(self.run_dir.proposer_state)
        self._log(_summary(record))
        self.report(_summary(record))
        self.hooks.arrl_experiment_finished(record=record, run_id=self.run_dir.run_id)
        return record

    def _extract(self, script: str) -> Extraction:
        return extract(script, self.context.script_path, self.context.field_map)

    def _execute(self, record: ExperimentRecord, state: _State) -> None:
        directory = self.run_dir.experiment_dir(record.id)
        script = self.workspace / self.context.script_path
        output = directory / "output"
        request = RunRequest(
            run_id=self.run_dir.run_id,
            experiment_id=record.id,
            script=script,
            workspace=self.workspace,
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
            },
        )
        # A run of the unmodified script measures the noise floor: it must run to its end.
        best = None if record.proposer == BASELINE else state.best
        stopper = TrendStopper(self.settings.early_stopping, best, self.direction, state.best_curve)
        monitor = _Monitor(self.settings.metric, stopper, self.abort)
        self.hooks.arrl_experiment_started(experiment_id=record.id, run_id=self.run_dir.run_id)
        try:
            result = self.c.runner.run(request, monitor)
        except OSError as error:
            raise ArrlError(f"cannot run experiment {record.id}: {error.strerror or error} "
                            f"({error.filename or 'runner'}); nothing recorded before is lost") from None
        self._apply_result(record, result, monitor)

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
            record.failure_reason = (
                f"metric {metric!r} was never reported; print a line `arrl: {metric}=<number>`"
                + (f" (unreadable metric lines: {hint})" if hint else "")
            )
            return
        record.value = value


def _summary(record: ExperimentRecord) -> str:
    value = f"{record.metric_name}={record.value:.6g}" if math.isfinite(record.value) else ""
    parts = [f"#{record.id}", record.outcome.value, value, f"{record.wall_clock_seconds:.1f}s"]
    if record.reward is not None:
        parts.append(f"reward={record.reward:+.3f}")
    if record.kept:
        parts.append("kept")
    if record.within_noise:
        parts.append("noise")
    if record.edit and record.edit.description:
        parts.append(f"[{record.edit.description}]")
    if record.failure_reason:
        parts.append(f"({record.failure_reason.splitlines()[0][:160]})")
    return " ".join(p for p in parts if p)
