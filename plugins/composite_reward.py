"""The design document's composite reward, made honest: it never pays for a worse result.

The property (checked by ``tests/test_reward_properties.py`` over every outcome pair, every
wall clock and every valid option set):

1. A run that beats the best so far (it finished, and its value is strictly better: the run the
   loop keeps) outscores every run that does not, whatever either's outcome or wall clock.
2. Among runs that do not beat it, a worse result never scores above a better one at the same
   wall clock. A finished or early-stopped run with a finite value is better than one with no
   result (crash, divergence, timeout, rejection, duplicate); two finite results compare by value.
   A run with no effect (``no_effect``: its parent's curve exactly, arrl.run.effect) has its
   parent's finite value and is scored as one that did not improve on it: never above zero, and
   charged the budget it spent to learn that the move does nothing. (An extra penalty would rank
   it below worse results, against the rule above.)

(Interrupted runs score 0 and are outside the property: the user ended them, the loop never
teaches the proposer with them.)

The terms, with f = wall clock / budget clamped to [0, 1]:

    improvement: improvement_bonus + 0.7 * log(best / value) + 0.2 * (1 - f)
                 + 0.1 * exp(-std of the run's metric values)            (> 0)
    no improvement, finite value:
                 -0.7 * shortfall - (0.2 + early_stop_bonus) * f        (<= 0)
    no result:   penalty - (0.2 + early_stop_bonus) * f                  (<= -0.7 - ...)

``shortfall = d / (d + |best|)`` where ``d`` is how far the value is behind the best; it is 0 at
the best, grows with ``d`` and stays below 1, for every sign of either number. The design
document's log ratio is kept for improvements only (for a non-improving minimized loss it equals
``log(1 - shortfall)``, unbounded, and would rank crashes above bad finite results).

Why the early-stop bonus and the efficiency term look like this. The document adds +0.3 to an
early-stopped run and rewards unspent budget; with a worse result outscoring a kept improvement
(+0.48 against +0.29 was measured), a policy learns to propose bad edits that get stopped. Here
the budget a non-improving run spends costs ``efficiency_weight + early_stop_bonus`` per budget,
so the stopper's saving is credited in full (a run stopped at once is charged nothing, one run to
the end the whole ``0.2 + 0.3``) while the credit depends on the wall clock alone: at the same
wall clock it cannot lift a worse result above a better one, and since every non-improving score
is at most 0 it cannot lift a stopped edit above any improvement. Stability rewards only
improvements: a smooth worse curve must not beat a noisy better one.
"""

from __future__ import annotations

import math

import attrs

import arrl
from arrl.metrics import curve_std
from arrl.records import Direction, ExperimentRecord, Outcome

_non_negative = attrs.validators.ge(0.0)


@attrs.frozen
class CompositeOptions:
    accuracy_weight: float = attrs.field(default=0.7, validator=attrs.validators.gt(0.0))
    efficiency_weight: float = attrs.field(default=0.2, validator=_non_negative)
    stability_weight: float = attrs.field(default=0.1, validator=_non_negative)
    # Charged, with the efficiency weight, per budget a non-improving run spends; 0 turns it off.
    early_stop_bonus: float = attrs.field(default=0.3, validator=_non_negative)
    # Added to every improvement, so the smallest one still scores strictly above zero.
    improvement_bonus: float = attrs.field(default=0.1, validator=attrs.validators.gt(0.0))
    timeout_penalty: float = -2.0
    rejection_penalty: float = -1.0
    crash_penalty: float = -2.0
    duplicate_penalty: float = -1.0
    log_clip: float = attrs.field(default=5.0, validator=attrs.validators.gt(0.0))

    def __attrs_post_init__(self) -> None:
        # A penalty above -accuracy_weight would rank having no result above a finite one.
        for name in ("timeout_penalty", "rejection_penalty", "crash_penalty", "duplicate_penalty"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value <= -self.accuracy_weight):
                raise ValueError(
                    f"{name} must be at most -accuracy_weight ({-self.accuracy_weight:g}), got {value:g}: "
                    "a run with no result must never score above one with a finite result"
                )


class CompositeReward(arrl.Reward):
    def __init__(self, options: CompositeOptions = CompositeOptions()) -> None:
        self.options = options

    def score(self, record: ExperimentRecord, context: arrl.RewardContext) -> float:
        o = self.options
        if record.outcome is Outcome.INTERRUPTED:
            return 0.0  # the user's doing, not the proposal's; never learned from
        budget = context.budget_seconds
        fraction = min(max(record.wall_clock_seconds / budget, 0.0), 1.0) if budget > 0 else 1.0
        if not math.isfinite(fraction):
            fraction = 1.0
        spent = (o.efficiency_weight + o.early_stop_bonus) * fraction
        penalty = self._penalty(record)
        if penalty is not None:
            return penalty - spent
        if record.outcome is Outcome.OK and context.direction.better(record.value, context.best_value):
            std = curve_std(record.curve, record.metric_name)
            return float(
                o.improvement_bonus
                + o.accuracy_weight * max(self.log_ratio(record.value, context.best_value, context.direction), 0.0)
                + o.efficiency_weight * (1.0 - fraction)
                + o.stability_weight * math.exp(-std)
            )
        return float(-o.accuracy_weight * shortfall(record.value, context.best_value, context.direction) - spent)

    def _penalty(self, record: ExperimentRecord) -> float | None:
        """The penalty of a run with no result, or None when it has a finite one."""
        o = self.options
        if record.outcome is Outcome.REJECTED:
            return o.rejection_penalty
        if record.outcome is Outcome.TIMED_OUT:
            return o.timeout_penalty
        if record.outcome is Outcome.DUPLICATE:
            return o.duplicate_penalty
        if record.outcome is Outcome.FAILED or not math.isfinite(record.value):
            return o.crash_penalty
        return None

    def log_ratio(self, value: float, best: float | None, direction: Direction) -> float:
        """The design document's log(best / value) (flipped when maximizing), clipped."""
        if best is None or not math.isfinite(best):
            return 0.0
        better, worse = (best, value) if direction is Direction.MINIMIZE else (value, best)
        if better > 0 and worse > 0:
            ratio = math.log(better) - math.log(worse)  # a quotient could underflow to 0
        else:
            # Logs need positive numbers; a signed relative difference keeps the direction.
            ratio = (better - worse) / max(abs(best), 1e-12)
        return min(max(ratio, -self.options.log_clip), self.options.log_clip)


def shortfall(value: float, best: float | None, direction: Direction) -> float:
    """How far ``value`` is behind ``best``, in [0, 1): 0 at or above the best, rising with the gap."""
    if best is None or not math.isfinite(best):
        return 0.0
    behind = value - best if direction is Direction.MINIMIZE else best - value
    if behind <= 0:
        return 0.0
    if not math.isfinite(behind):
        return 1.0
    # behind / (behind + scale), written so that no intermediate sum can overflow.
    return 1.0 / (1.0 + max(abs(best), 1e-12) / behind)


@arrl.hookimpl
def arrl_rewards():
    yield arrl.Registration(
        name="composite",
        summary="improvements above every non-improvement; accuracy, efficiency, stability, penalties",
        factory=lambda options, context: CompositeReward(options),
        options=CompositeOptions,
    )
