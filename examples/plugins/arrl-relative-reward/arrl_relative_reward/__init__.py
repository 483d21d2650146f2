"""An example arrl reward: how much better than the best so far, relative to the best.

    reward = clip(scale * (best - value) / |best|, -1, 1)     (minimized metric; flipped when maximized)

so with the default ``scale = 10`` a 5 % improvement scores 0.5 and anything from 10 % up scores 1.
The baseline (no best yet) scores 0; a crash, a timeout or a rejection scores ``failure_penalty``;
a duplicate ``duplicate_penalty``; an experiment the user interrupted 0 (not the proposal's
fault). Unlike the built-in ``composite`` reward it ignores run time and curve stability: use it
when only the metric matters.

Select it with ``arrl --plugin reward=relative run`` or ``[plugins] reward = "relative"``, and set
its options in ``[options.reward]`` or with ``-o reward.scale=20``.
"""

from __future__ import annotations

import math

import attrs

import arrl
from arrl.records import Direction, Outcome


@attrs.frozen
class RelativeOptions:
    # attrs validators run when arrl structures the options, so a bad value is a clear error
    # naming the option before anything runs.
    scale: float = attrs.field(default=10.0, validator=attrs.validators.gt(0))
    failure_penalty: float = attrs.field(default=-1.0, validator=attrs.validators.le(0))
    duplicate_penalty: float = attrs.field(default=-0.5, validator=attrs.validators.le(0))


class RelativeReward(arrl.Reward):
    def __init__(self, options: RelativeOptions) -> None:
        self.options = options

    def score(self, record: arrl.ExperimentRecord, context: arrl.RewardContext) -> float:
        if record.outcome is Outcome.INTERRUPTED:
            return 0.0
        if record.outcome is Outcome.DUPLICATE:
            return self.options.duplicate_penalty
        if record.outcome not in (Outcome.OK, Outcome.EARLY_STOPPED) or not math.isfinite(record.value):
            return self.options.failure_penalty
        best = context.best_value
        if best is None or not math.isfinite(best):
            return 0.0  # the baseline: nothing to improve on yet
        gain = best - record.value if context.direction is Direction.MINIMIZE else record.value - best
        # The floor keeps a best of exactly 0 from dividing by zero; the reward must be finite.
        relative = gain / max(abs(best), 1e-12)
        return max(-1.0, min(1.0, self.options.scale * relative))


@arrl.hookimpl
def arrl_rewards():
    yield arrl.Registration(
        name="relative",
        summary="relative improvement over the best, clipped to [-1, 1] (example plugin)",
        factory=lambda options, context: RelativeReward(options),
        options=RelativeOptions,
    )
