"""MLflow tracking: every experiment of a run as an MLflow run, nested under one run per arrl run.

Turn it on in ``arrl.toml`` (``pip install 'arrl[mlflow]'``)::

    [tracking.mlflow]
    tracking_uri = "sqlite:///mlflow.db"   # default: MLflow's own (MLFLOW_TRACKING_URI, else ./mlruns)
    experiment = "arrl"                    # the MLflow experiment, created when missing

What each arrl experiment becomes:

- params: its script's configuration (the schema values, ``learning_rate`` ...);
- metrics: the metric's curve, one point per reported step, and ``final_<metric>``, ``reward``,
  ``wall_clock_seconds``;
- tags ``arrl.*``: outcome, whether it was kept, its edit, proposer, commit, parent experiment and
  failure reason; the MLflow status says FINISHED, FAILED (crash, timeout) or KILLED (interrupted);
- artifacts ``diff_parent.patch`` and ``diff_baseline.patch``: its change from the version it was
  made from, and from the unmodified script.

The arrl run's own MLflow run carries the run's settings as params, pauses and alerts as tags,
and ends with the run's status. The client API (:class:`mlflow.tracking.MlflowClient`) is used
rather than MLflow's fluent ``mlflow.start_run``: that keeps a process-wide active run, which
would clash with a training script or another tracker using MLflow in the same process.
"""

from __future__ import annotations

import datetime
import math
from typing import TYPE_CHECKING, Any

import attrs

import arrl
from arrl.journal import RunDirectory, RunStatus
from arrl.records import ExperimentRecord, Outcome
from arrl.tracking import missing_package, reports_errors

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

NAME = "mlflow"
# MLflow's limits on one param value and one tag value (the SQL store's column sizes).
_PARAM_LIMIT, _TAG_LIMIT = 6000, 5000
_STATUS = {Outcome.FAILED: "FAILED", Outcome.TIMED_OUT: "FAILED", Outcome.INTERRUPTED: "KILLED"}
_RUN_STATUS = {RunStatus.FINISHED: "FINISHED"}  # paused, interrupted or crashed: KILLED


@attrs.frozen
class MlflowOptions:
    tracking_uri: str = ""  # "" leaves the choice to MLflow (MLFLOW_TRACKING_URI, else ./mlruns)
    experiment: str = "arrl"
    # Where a newly created MLflow experiment keeps its artifacts ("": the store's default).
    artifact_location: str = ""


class MlflowTracker:
    def __init__(self, options: MlflowOptions, context: arrl.PluginContext) -> None:
        try:
            from mlflow.tracking import MlflowClient
        except ImportError:
            raise missing_package(NAME, "mlflow", "mlflow") from None
        self.client: MlflowClient = MlflowClient(tracking_uri=options.tracking_uri or None)
        self.run_dir = RunDirectory(context.run_dir)
        self.run_id = self.run_dir.run_id
        self.experiment_id = self._experiment(options)
        self.parent = self._parent_run()
        self.children: dict[int, str] = {}

    def _experiment(self, options: MlflowOptions) -> str:
        found = self.client.get_experiment_by_name(options.experiment)
        if found is not None:
            return str(found.experiment_id)
        return str(self.client.create_experiment(options.experiment,
                                                 artifact_location=options.artifact_location or None))

    def _find(self, **tags: str) -> str | None:
        """The MLflow run carrying these arrl tags, so that a continued arrl run (a new process)
        writes to the runs it already has instead of duplicating them."""
        query = " and ".join(f"tags.`{key}` = '{value}'" for key, value in tags.items())
        runs = self.client.search_runs([self.experiment_id], filter_string=query, max_results=1)
        return str(runs[0].info.run_id) if runs else None

    def _parent_run(self) -> str:
        existing = self._find(**{"arrl.run_id": self.run_id, "arrl.kind": "run"})
        if existing is not None:
            self.client.update_run(existing, status="RUNNING")
            return existing
        meta = self.run_dir.load_meta()
        run = self.client.create_run(self.experiment_id, run_name=f"arrl {self.run_id}",
                                     tags={"arrl.run_id": self.run_id, "arrl.kind": "run"})
        parent = str(run.info.run_id)
        params = _flat_params(meta.settings)
        if params:
            from mlflow.entities import Param

            self.client.log_batch(parent, params=[Param(k, v) for k, v in params.items()])
        return parent

    def _child(self, experiment_id: int) -> str:
        known = self.children.get(experiment_id)
        if known is not None:
            return known
        tags = {"arrl.run_id": self.run_id, "arrl.experiment_id": str(experiment_id)}
        child = self._find(**tags)
        if child is None:
            run = self.client.create_run(self.experiment_id, run_name=f"experiment {experiment_id}",
                                         tags={**tags, "arrl.kind": "experiment",
                                               "mlflow.parentRunId": self.parent})
            child = str(run.info.run_id)
        self.children[experiment_id] = child
        return child

    @arrl.hookimpl
    @reports_errors(NAME)
    def arrl_experiment_started(self, experiment_id: int, run_id: str) -> None:
        self.client.update_run(self._child(experiment_id), status="RUNNING")

    @arrl.hookimpl
    @reports_errors(NAME)
    def arrl_experiment_finished(self, record: ExperimentRecord, run_id: str) -> None:
        from mlflow.entities import Metric, Param, RunTag

        child = self._child(record.id)
        started = _epoch_ms(record.started_at)
        metrics = [
            Metric(record.metric_name, point.value, started + int(point.elapsed * 1000),
                   point.step if point.step is not None else index)
            for index, point in enumerate(record.curve)
            if math.isfinite(point.value)
        ]
        last_step = max((m.step for m in metrics), default=0)
        summary = {"wall_clock_seconds": record.wall_clock_seconds, "reward": record.reward,
                   f"final_{record.metric_name}": record.value}
        metrics += [Metric(key, value, started, last_step) for key, value in summary.items()
                    if value is not None and math.isfinite(value)]
        params = [Param(key, _clip(str(value), _PARAM_LIMIT)) for key, value in sorted(record.config.items())]
        tags = {
            "arrl.outcome": record.outcome.value,
            "arrl.kept": str(record.kept).lower(),
            "arrl.proposer": record.proposer,
            "arrl.commit": record.commit,
            "arrl.parent_id": "" if record.parent_id is None else str(record.parent_id),
            "arrl.edit": record.edit.description if record.edit else "",
            "arrl.failure_reason": record.failure_reason,
        }
        self.client.log_batch(child, metrics=metrics, params=params,
                              tags=[RunTag(k, _clip(v, _TAG_LIMIT)) for k, v in tags.items() if v])
        for name, diff in (("diff_parent.patch", record.diff_parent),
                           ("diff_baseline.patch", record.diff_baseline)):
            if diff:
                self.client.log_text(child, diff, name)
        self.client.set_terminated(child, status=_STATUS.get(record.outcome, "FINISHED"),
                                   end_time=_epoch_ms(record.finished_at) or None)
        self.children.pop(record.id, None)

    @arrl.hookimpl
    @reports_errors(NAME)
    def arrl_run_paused(self, run_id: str, reason: str) -> None:
        self.client.set_tag(self.parent, "arrl.paused", _clip(reason, _TAG_LIMIT))

    @arrl.hookimpl
    @reports_errors(NAME)
    def arrl_alert(self, run_id: str, level: str, message: str) -> None:
        self.client.set_tag(self.parent, "arrl.last_alert", _clip(f"[{level}] {message}", _TAG_LIMIT))

    def close(self) -> None:
        """End the arrl run's MLflow run with the status its journal now holds."""
        status = self.run_dir.load_meta().status
        self.client.set_terminated(self.parent, status=_RUN_STATUS.get(status, "KILLED"))


def _flat_params(settings: dict[str, Any], prefix: str = "") -> dict[str, str]:
    """The run's settings as MLflow params: nested tables flattened with dots, empty values left
    out (MLflow params are strings and cannot change once logged)."""
    params: dict[str, str] = {}
    for key, value in sorted(settings.items()):
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            params.update(_flat_params(value, f"{name}."))
        elif isinstance(value, list):
            params[name] = _clip(",".join(str(v) for v in value), _PARAM_LIMIT)
        elif value is not None and value != "":
            params[name] = _clip(str(value), _PARAM_LIMIT)
    return params


def _epoch_ms(iso: str) -> int:
    if not iso:
        return 0
    return int(datetime.datetime.fromisoformat(iso).timestamp() * 1000)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


@arrl.hookimpl
def arrl_trackers():
    yield arrl.Registration(
        name=NAME,
        summary="every experiment as an MLflow run: params, metric per step, outcome, diff",
        factory=lambda options, context: MlflowTracker(options, context),
        options=MlflowOptions,
    )
