"""The composite reward never pays for a worse result (the property in its module docstring).

"Beats the best" and "worse result" are defined here from the loop's own rules, independently of
the reward's implementation: a run beats the best when the loop would keep it (it finished and
its value is strictly better); a run with no finite value is worse than one with a finite value;
two finite values compare in the metric's direction.
"""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from arrl.errors import ConfigError
from arrl.manager import Registry, build_options, make_plugin_manager
from arrl.plugins.composite_reward import CompositeOptions, CompositeReward
from arrl.records import Direction, ExperimentRecord, MetricPoint, Outcome
from arrl.roles import RewardContext

LEARNED_OUTCOMES = [o for o in Outcome if o is not Outcome.INTERRUPTED]


def _values() -> st.SearchStrategy[float]:
    return st.one_of(
        st.floats(allow_nan=True, allow_infinity=True),
        st.floats(-10, 10),  # near each other, where rounding would show
        st.sampled_from([0.0, -0.0, 1.0, 1e-300, -1e-300, 1e308, -1e308]),
    )


def _records() -> st.SearchStrategy[ExperimentRecord]:
    return st.builds(
        lambda outcome, value, curve: ExperimentRecord(
            id=1, parent_id=0, outcome=outcome, config={}, config_hash="c", program_hash="p",
            metric_name="loss", direction=Direction.MINIMIZE, value=value,
            curve=[MetricPoint("loss", v) for v in curve]),
        st.sampled_from(LEARNED_OUTCOMES), _values(), st.lists(_values(), max_size=6),
    )


def _options() -> st.SearchStrategy[CompositeOptions]:
    weight = st.floats(0, 3)
    return st.builds(
        lambda accuracy, efficiency, stability, bonus, improvement, extra, clip: CompositeOptions(
            accuracy_weight=accuracy, efficiency_weight=efficiency, stability_weight=stability,
            early_stop_bonus=bonus, improvement_bonus=improvement, log_clip=clip,
            timeout_penalty=-accuracy - extra[0], rejection_penalty=-accuracy - extra[1],
            crash_penalty=-accuracy - extra[2], duplicate_penalty=-accuracy - extra[3]),
        st.floats(0.01, 3), weight, weight, weight, st.floats(1e-3, 1), st.tuples(*[st.floats(0, 3)] * 4),
        st.floats(0.1, 10),
    ) | st.just(CompositeOptions()) | st.just(CompositeOptions(early_stop_bonus=0.0, efficiency_weight=0.0))


def _contexts() -> st.SearchStrategy[RewardContext]:
    return st.builds(RewardContext, st.one_of(st.none(), _values()), st.floats(1e-3, 1e6),
                     st.sampled_from(list(Direction)))


def _beats(record: ExperimentRecord, context: RewardContext) -> bool:
    return record.outcome is Outcome.OK and context.direction.better(record.value, context.best_value)


def _has_result(record: ExperimentRecord) -> bool:
    # A run with no effect ran to its end with its parent's value: a finite result, never kept.
    return record.outcome in (Outcome.OK, Outcome.NO_EFFECT, Outcome.EARLY_STOPPED) and math.isfinite(record.value)


def _worse(a: ExperimentRecord, b: ExperimentRecord, direction: Direction) -> bool:
    if not _has_result(a):
        return _has_result(b)
    return _has_result(b) and direction.better(b.value, a.value)


def _seconds() -> st.SearchStrategy[float]:
    return st.one_of(st.floats(0, 1e7), st.sampled_from([0.0, math.nan, math.inf]))


@settings(max_examples=3000, deadline=None)
@given(_records(), _records(), _seconds(), _seconds(), _contexts(), _options())
def test_a_run_that_beats_the_best_outscores_every_run_that_does_not(a, b, seconds_a, seconds_b, context,
                                                                     options) -> None:
    a.direction = b.direction = context.direction
    a.wall_clock_seconds, b.wall_clock_seconds = seconds_a, seconds_b
    reward = CompositeReward(options)
    score_a, score_b = reward.score(a, context), reward.score(b, context)
    assert math.isfinite(score_a) and math.isfinite(score_b)
    if _beats(a, context) and not _beats(b, context):
        assert score_a > score_b
    if _beats(b, context) and not _beats(a, context):
        assert score_b > score_a


@settings(max_examples=3000, deadline=None)
@given(_records(), _records(), _seconds(), _contexts(), _options())
def test_among_runs_that_do_not_beat_the_best_a_worse_result_never_scores_higher(a, b, seconds, context,
                                                                                 options) -> None:
    a.direction = b.direction = context.direction
    a.wall_clock_seconds = b.wall_clock_seconds = seconds
    if _beats(a, context) or _beats(b, context):
        return
    reward = CompositeReward(options)
    if _worse(a, b, context.direction):
        assert reward.score(a, context) <= reward.score(b, context)
    if _worse(b, a, context.direction):
        assert reward.score(b, context) <= reward.score(a, context)


def _record(outcome: Outcome, value: float, seconds: float) -> ExperimentRecord:
    return ExperimentRecord(id=1, parent_id=0, outcome=outcome, config={}, config_hash="c", program_hash="p",
                            metric_name="loss", direction=Direction.MINIMIZE, value=value,
                            wall_clock_seconds=seconds, curve=[MetricPoint("loss", value)] * 2)


def test_the_measured_inversion_is_gone() -> None:
    """The issue's case: a worse run stopped early outscored a kept improvement (+0.48 vs +0.29)."""
    reward = CompositeReward()
    context = RewardContext(best_value=2.0, budget_seconds=100.0, direction=Direction.MINIMIZE)
    kept = reward.score(_record(Outcome.OK, 1.99, 100.0), context)
    stopped_worse = reward.score(_record(Outcome.EARLY_STOPPED, 3.0, 10.0), context)
    assert kept > 0.1 > 0 > stopped_worse
    # The stopper's saving is credited: the same bad result run to the end costs more.
    assert reward.score(_record(Outcome.OK, 3.0, 100.0), context) < stopped_worse
    # And the design document's log ratio still scales improvements.
    assert reward.score(_record(Outcome.OK, 1.0, 100.0), context) > kept


def test_penalties_above_a_finite_result_are_refused_with_a_clear_error() -> None:
    registration = Registry(make_plugin_manager(entry_points=False)).get("reward", "composite")
    with pytest.raises(ConfigError, match="duplicate_penalty must be at most -accuracy_weight"):
        build_options(registration, {"duplicate_penalty": -0.5})
    assert build_options(registration, {"early_stop_bonus": 0.0}).early_stop_bonus == 0.0
