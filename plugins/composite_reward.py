"""The design document's composite reward, with the cases it leaves open made explicit.

    0.7 * log(best / value)            accuracy: relative improvement, log-scaled
  + 0.2 * (1 - seconds / budget)       efficiency
  + 0.1 * exp(-std of the run's metric values)   stability
  + 0.3 if early-stopped while worse than the best
  timeout -2.0, rejection -1.0, crash -2.0 (the document leaves crashes undefined)

For a maximized metric the ratio flips (log(value / best)). The log term is clipped to
``[-log_clip, log_clip]`` and non-positive values fall back to a signed relative difference,
so every reward is finite.
"""

from __future__ import annotations

import math

import attrs

import arrl
from arrl.metrics import curve_std
from arrl.records import Direction, ExperimentRecord, Outcome


@attrs.frozen
class CompositeOptions:
    accuracy_weight: float = 0.7
    efficiency_weight: float = 0.2
    stability_weight: float = 0.1
    early_stop_bonus: float = 0.3
    timeout_penalty: float = -2.0
    rejection_penalty: float = -1.0
    crash_penalty: float = -2.0
    duplicate_penalty: float = -0.5
    log_clip: float = attrs.field(default=5.0, validator=attrs.validators.gt(0))


class CompositeReward(arrl.Reward):
    def __init__(self, options: CompositeOptions = CompositeOptions()) -> None:
        self.options = options

    def score(self, record: ExperimentRecord, context: arrl.RewardContext) -> float:
        o = self.options
        if record.outcome is Outcome.REJECTED:
            return o.rejection_penalty
        if record.outcome is Outcome.TIMED_OUT:
            return o.timeout_penalty
        if record.outcome is Outcome.DUPLICATE:
            return o.duplicate_penalty
        if record.outcome is Outcome.INTERRUPTED:
            return 0.0  # the user's doing, not the proposal's
        if record.outcome is Outcome.FAILED or not math.isfinite(record.value):
            return o.crash_penalty
        accuracy = self.log_ratio(record.value, context.best_value, context.direction)
        fraction = min(max(record.wall_clock_seconds / context.budget_seconds, 0.0), 1.0)
        std = curve_std(record.curve, record.metric_name)
        reward = (
            o.accuracy_weight * accuracy
            + o.efficiency_weight * (1.0 - fraction)
            + o.stability_weight * math.exp(-std)
        )
        if record.outcome is Outcome.EARLY_STOPPED and accuracy < 0:
            reward += o.early_stop_bonus
        return float(reward)

    def log_ratio(self, value: float, best: float | None, direction: Direction) -> float:
        if best is None or not math.isfinite(best):
            return 0.0
        better, worse = (best, value) if direction is Direction.MINIMIZE else (value, best)
        if better > 0 and worse > 0:
            ratio = math.log(better) - math.log(worse)  # a quotient could underflow to 0
        else:
            # Logs need positive numbers; a signed relative difference keeps the direction.
            ratio = (better - worse) / max(abs(best), 1e-12)
        return min(max(ratio, -self.options.log_clip), self.options.log_clip)


@arrl.hookimpl
def arrl_rewards():
    yield arrl.Registration(
        name="composite",
        summary="0.7 accuracy + 0.2 efficiency + 0.1 stability, early-stop bonus, penalties",
        factory=lambda options, context: CompositeReward(options),
        options=CompositeOptions,
    )
