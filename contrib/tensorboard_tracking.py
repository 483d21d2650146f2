"""TensorBoard scalars: each experiment's metric curve, and the run's progress experiment by experiment.

Turn it on in ``arrl.toml`` (``pip install 'arrl[tensorboard]'``), then ``tensorboard --logdir``
the folder::

    [tracking.tensorboard]
    log_dir = "runs"      # default: <run dir>/tensorboard; a relative path is taken from the repository root

Layout under ``log_dir``, one TensorBoard run per folder:

- ``<run id>/experiment-0003``: the scalar ``<metric>`` at every step the script reported, so the
  curves of all experiments overlay in one chart;
- ``<run id>``: per experiment (step = experiment id) ``arrl/<metric>`` (its final value, when
  it has one), ``arrl/best_<metric>``, ``arrl/reward`` and ``arrl/wall_clock_seconds``, and the
  run's pauses and alerts as text ``arrl/alerts``.

Written with PyTorch's ``SummaryWriter`` (arrl already depends on torch); the ``tensorboard``
package it writes through is the optional extra.
"""

from __future__ import annotations

import datetime
import math
from pathlib import Path
from typing import Any

import attrs

import arrl
from arrl.journal import RunDirectory
from arrl.records import ExperimentRecord, Outcome
from arrl.results.best import becomes_best
from arrl.tracking import missing_package, reports_errors

NAME = "tensorboard"


@attrs.frozen
class TensorBoardOptions:
    log_dir: str = ""  # "" = <run dir>/tensorboard; relative paths start at the repository root


class TensorBoardTracker:
    def __init__(self, options: TensorBoardOptions, context: arrl.PluginContext) -> None:
        try:
            import tensorboard  # noqa: F401  (torch's writer needs it; say so plainly when missing)
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            raise missing_package(NAME, "tensorboard", "tensorboard") from None
        self._writer_class = SummaryWriter
        run = RunDirectory(context.run_dir)
        root = Path(options.log_dir) if options.log_dir else context.run_dir / "tensorboard"
        if not root.is_absolute():
            root = context.repo_root / root
        self.log_dir = root / run.run_id
        self.summary = SummaryWriter(str(self.log_dir))
        self.direction = context.direction
        # The best so far, from what the journal held before this process started.
        self.best: float | None = None
        for record in run.records():
            self._fold(record)

    def _fold(self, record: ExperimentRecord) -> None:
        if becomes_best(record, self.best):
            self.best = record.value

    @arrl.hookimpl
    @reports_errors(NAME)
    def arrl_experiment_finished(self, record: ExperimentRecord, run_id: str) -> None:
        started = _epoch(record.started_at)
        if record.curve:
            curve = self._writer_class(str(self.log_dir / f"experiment-{record.id:04d}"))
            try:
                for index, point in enumerate(record.curve):
                    if math.isfinite(point.value):
                        curve.add_scalar(record.metric_name, point.value,
                                         point.step if point.step is not None else index,
                                         walltime=started + point.elapsed if started else None)
            finally:
                curve.close()
        self._fold(record)
        when = _epoch(record.finished_at) or None
        scalars: dict[str, Any] = {
            f"arrl/{record.metric_name}": record.value if record.outcome in (Outcome.OK, Outcome.NO_EFFECT) else None,
            f"arrl/best_{record.metric_name}": self.best,
            "arrl/reward": record.reward,
            "arrl/wall_clock_seconds": record.wall_clock_seconds,
        }
        for tag, value in scalars.items():
            if value is not None and math.isfinite(value):
                self.summary.add_scalar(tag, value, record.id, walltime=when)
        self.summary.flush()

    @arrl.hookimpl
    @reports_errors(NAME)
    def arrl_alert(self, run_id: str, level: str, message: str) -> None:
        # A pause also arrives as an alert, so alerts alone cover both without writing twice.
        self.summary.add_text("arrl/alerts", f"[{level}] {message}")
        self.summary.flush()

    def close(self) -> None:
        self.summary.close()


def _epoch(iso: str) -> float:
    return datetime.datetime.fromisoformat(iso).timestamp() if iso else 0.0


@arrl.hookimpl
def arrl_trackers():
    yield arrl.Registration(
        name=NAME,
        summary="TensorBoard scalars: each experiment's curve and the run's progress",
        factory=lambda options, context: TensorBoardTracker(options, context),
        options=TensorBoardOptions,
    )
