"""The metric-line protocol between a training script and arrl.

A script reports metrics by printing lines of this form to stdout, at any time, as often as it
likes; it needs no arrl import, so it runs unchanged inside a container without arrl::

    arrl: step=100 val_loss=2.3141 train_loss=2.402

``arrl:`` starts the line; ``key=value`` pairs follow, separated by spaces. ``step`` (an integer)
is optional; every other key is a metric with a numeric value (``nan`` and ``inf`` are numbers
here, and fail the experiment). The experiment's result is the last value of the configured
metric. Any other output is ignored.
"""

from __future__ import annotations

import math

import attrs

from .records import MetricPoint

PREFIX = "arrl:"


@attrs.frozen
class ParsedLine:
    points: tuple[MetricPoint, ...] = ()
    error: str = ""


def parse_line(line: str, elapsed: float = 0.0) -> ParsedLine | None:
    """Metric points of one output line; None when the line is not a metric line."""
    text = line.strip()
    if not text.startswith(PREFIX):
        return None
    step: int | None = None
    pairs: list[tuple[str, str]] = []
    for token in text[len(PREFIX):].split():
        key, sep, value = token.partition("=")
        if not sep or not key:
            return ParsedLine(error=f"expected key=value, got {token!r} in {text!r}")
        pairs.append((key, value))
    points = []
    for key, value in pairs:
        if key == "step":
            try:
                step = int(value)
            except ValueError:
                return ParsedLine(error=f"step must be an integer, got {value!r} in {text!r}")
            continue
        try:
            number = float(value)
        except ValueError:
            return ParsedLine(error=f"{key} is not a number: {value!r} in {text!r}")
        points.append((key, number))
    return ParsedLine(tuple(MetricPoint(k, v, step, elapsed) for k, v in points))


def final_value(points: tuple[MetricPoint, ...] | list[MetricPoint], metric: str) -> float | None:
    values = [p.value for p in points if p.name == metric]
    return values[-1] if values else None


def curve_std(points: tuple[MetricPoint, ...] | list[MetricPoint], metric: str) -> float:
    """Population standard deviation of the metric's finite values (0 with fewer than two)."""
    values = [p.value for p in points if p.name == metric and math.isfinite(p.value)]
    if len(values) < 2:
        return 0.0
    # Scaled so that huge losses (a diverging run prints 1e154) cannot overflow the squares.
    scale = max(abs(v) for v in values) or 1.0
    scaled = [v / scale for v in values]
    mean = math.fsum(scaled) / len(scaled)
    return scale * math.sqrt(math.fsum((v - mean) ** 2 for v in scaled) / len(scaled))
