"""Predictive early stopping: end a run whose loss trend cannot reach the best result.

As the design document describes it: fit a line to the last ``window`` values of the metric,
project it ``window`` points ahead, and stop when the projection is worse than the best by more
than the margin. Nothing is stopped before ``min_points`` values, nor before there is a best.
"""

from __future__ import annotations

import math

import attrs

from .records import Direction


@attrs.frozen
class EarlyStoppingSettings:
    enabled: bool = True
    window: int = attrs.field(default=5, validator=attrs.validators.ge(2))
    margin: float = attrs.field(default=1.15, validator=attrs.validators.ge(1.0))
    min_points: int = attrs.field(default=10, validator=attrs.validators.ge(2))


def projected(values: list[float], window: int) -> float:
    """Least-squares line through the last ``window`` values, evaluated ``window`` points on."""
    recent = values[-window:]
    n = len(recent)
    mean_x = (n - 1) / 2
    mean_y = sum(recent) / n
    sxx = sum((x - mean_x) ** 2 for x in range(n))
    slope = sum((x - mean_x) * (y - mean_y) for x, y in enumerate(recent)) / sxx
    return mean_y + slope * (n - 1 + window - mean_x)


class TrendStopper:
    def __init__(self, settings: EarlyStoppingSettings, best: float | None, direction: Direction):
        self.settings = settings
        self.best = best
        self.direction = direction
        self.values: list[float] = []
        self.projection: float | None = None

    def threshold(self) -> float | None:
        if self.best is None or not math.isfinite(self.best):
            return None
        # Additive form of "best * margin" so that it also holds for negative metrics.
        slack = abs(self.best) * (self.settings.margin - 1.0)
        return self.best + slack if self.direction is Direction.MINIMIZE else self.best - slack

    def should_stop(self, value: float) -> bool:
        self.values.append(value)
        threshold = self.threshold()
        s = self.settings
        if not s.enabled or threshold is None or len(self.values) < max(s.min_points, s.window):
            return False
        self.projection = projected(self.values, s.window)
        if self.direction is Direction.MINIMIZE:
            return self.projection > threshold
        return self.projection < threshold
