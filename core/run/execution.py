"""Running one experiment in a lane: the request the runner gets (environment, seed, CPU share,
GPU), the monitor that streams its metric points to the early stopper and the ``arrl_metric``
events, the trusted evaluation of what it wrote, and the runner's result written onto its record.
"""

from __future__ import annotations

import time

import attrs

from arrl.errors import ArrlError
from arrl.metrics import final_value
from arrl.records import ExperimentRecord, Outcome, RunResult
from arrl.roles import RunRequest

from . import liveness
from .early_stopping import TrendStopper
from .effect import THREADS
from .evaluation import DISAGREEMENT, judge
from .lanes import Lane
from .monitors import MetricMonitor, RunToEnd
from .noise import BASELINE
from .resources import thread_env, threads_used
from .state import RunState
from .workbench import Workbench


def execute(bench: Workbench, record: ExperimentRecord, state: RunState, lane: Lane) -> None:
    """Run ``record``'s commit, checked out in ``lane``, under the budget; its outcome, value,
    curve and logs are written onto ``record``."""
    settings = bench.settings
    # The first run of the unmodified script shows what is live (arrl.run.liveness).
    # A run killed during the probe kept the trace but no probe: its next baseline traces again.
    traced = record.proposer == BASELINE and state.last_good_id is None and not bench.probed
    request = attrs.evolve(_request(bench, record, lane), trace="trace" if traced else "")
    # A run of the unmodified script measures the noise floor: it must run to its end.
    best = None if record.proposer == BASELINE else state.best
    stopper = TrendStopper(settings.early_stopping, best, settings.direction, state.best_curve)
    run_id = bench.run_dir.run_id
    hooks = bench.hooks
    monitor = MetricMonitor(settings.metric, stopper, bench.abort, on_point=lambda point: hooks.arrl_metric(
        run_id=run_id, experiment_id=record.id, point=point, at=time.time()))
    hooks.arrl_experiment_started(experiment_id=record.id, run_id=run_id, record=record,
                                  budget_seconds=settings.budget, at=time.time())
    try:
        result = lane.runner.run(request, monitor)
    except OSError as error:
        raise ArrlError(f"cannot run experiment {record.id}: {error.strerror or error} "
                        f"({error.filename or 'runner'}); nothing recorded before is lost") from None
    _apply_result(settings.metric, record, result, monitor)
    # A result is compared with its parent's only at the same thread count (arrl.run.effect).
    record.details[THREADS] = threads_used(request.env)
    if traced:
        liveness.learn(bench, record, lane, request)
    if bench.evaluate_path and record.outcome is Outcome.OK:
        _evaluate(bench, record, request, lane)
    if monitor.subscriber_error:
        hooks.arrl_alert(run_id=run_id, level="warning", at=time.time(), message=(
            f"a subscriber of arrl_metric failed ({monitor.subscriber_error}); the rest of "
            f"experiment {record.id}'s metric events were not sent"))


def _request(bench: Workbench, record: ExperimentRecord, lane: Lane) -> RunRequest:
    settings = bench.settings
    directory = bench.run_dir.experiment_dir(record.id)
    script = lane.workspace / bench.context.script_path
    output = directory / "output"
    seed = record.seed if record.seed is not None else settings.seed
    return RunRequest(
        run_id=bench.run_dir.run_id,
        experiment_id=record.id,
        script=script,
        workspace=lane.workspace,
        workdir=script.parent,
        output_dir=output,
        log_dir=directory,
        budget_seconds=settings.budget,
        seed=seed,
        silence_timeout=settings.silence_timeout,
        env={
            "ARRL_RUN_ID": bench.run_dir.run_id,
            "ARRL_EXPERIMENT_ID": str(record.id),
            "ARRL_BUDGET_SECONDS": f"{settings.budget:g}",
            "ARRL_OUTPUT_DIR": str(output),
            "ARRL_SEED": str(seed),
            "ARRL_METRIC": settings.metric,
            **thread_env(lane.cpus),
            **({"CUDA_VISIBLE_DEVICES": lane.gpu} if lane.gpu is not None else {}),
        },
        cpus=lane.cpus,
        args=tuple(settings.args),
    )


def _evaluate(bench: Workbench, record: ExperimentRecord, training: RunRequest, lane: Lane) -> None:
    """Run the trusted evaluation on what the experiment wrote; its metric is recorded."""
    # The experiment's commit, exactly: nothing the run wrote into the workspace survives.
    lane.rollback.restore(record.commit)
    script = lane.workspace / bench.evaluate_path
    request = attrs.evolve(training, script=script, workdir=script.parent, args=(), trace="",
                           log_dir=training.log_dir / "evaluate",
                           env={**training.env, "ARRL_EVALUATING": "1"})
    request.log_dir.mkdir(parents=True, exist_ok=True)
    try:
        result = lane.runner.run(request, RunToEnd(bench.abort))
    except OSError as error:
        raise ArrlError(f"cannot run the evaluation of experiment {record.id}: {error}") from None
    if result.outcome is Outcome.INTERRUPTED:
        record.outcome, record.failure_reason = Outcome.INTERRUPTED, "interrupted during the trusted evaluation"
        return
    verdict = judge(record, result, bench.settings.metric)
    record.outcome, record.value = verdict.outcome, verdict.value
    record.failure_reason = verdict.failure_reason or record.failure_reason
    record.details.update(verdict.details)
    if DISAGREEMENT in verdict.details:
        bench.hooks.arrl_alert(run_id=bench.run_dir.run_id, level="warning",
                               message=f"experiment {record.id}: {verdict.details[DISAGREEMENT]}", at=time.time())


def _apply_result(metric: str, record: ExperimentRecord, result: RunResult, monitor: MetricMonitor) -> None:
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
