"""What a runner asks while an experiment runs: whether to go on after each metric point, and
whether the user has stopped the run.

:class:`MetricMonitor` watches an experiment (early stopping, a non-finite loss, the
``arrl_metric`` events); :class:`RunToEnd` lets a run finish, for the trusted evaluation and for
a reproduction.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable

from arrl.records import MetricPoint
from arrl.roles import RunMonitor

from .early_stopping import TrendStopper
from .faults import checkpoint


class MetricMonitor(RunMonitor):
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


class RunToEnd(RunMonitor):
    """A monitor that never stops a run early, only on the user's Ctrl-C: for the trusted
    evaluation, and for a reproduction, which measures the whole run as the original did."""

    def __init__(self, abort: threading.Event) -> None:
        self.abort = abort

    def on_metric(self, point: MetricPoint) -> bool:
        return True

    def should_abort(self) -> bool:
        return self.abort.is_set()
