"""The reward contract (arrl.roles.Reward and docs/writing-a-reward.md), one test body for every
registered reward (parametrized over the registry, as Optuna tests every sampler): finite for
every outcome and every hostile number, the same number for the same record and context, and a
kept improvement positive and above every run that left no result.

The composite reward's own ordering property is test_reward_properties.py's.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from hypothesis import given, settings

import arrl
from arrl.manager import Registry, build_options, make_plugin_manager
from arrl.records import Direction, ExperimentRecord, MetricPoint, Outcome
from arrl.roles import RewardContext
from arrl.testing import records, reward_contexts

REWARDS = Registry(make_plugin_manager()).names("reward")
NO_RESULT = (Outcome.FAILED, Outcome.TIMED_OUT, Outcome.REJECTED, Outcome.DUPLICATE)


def build(name: str, run_dir: Path) -> arrl.Reward:
    registration = Registry(make_plugin_manager()).get("reward", name)
    context = arrl.PluginContext(run_dir, run_dir, "train.py", "val_loss", Direction.MINIMIZE, 60, seed=0)
    return registration.factory(build_options(registration, {}), context)


def record(outcome: Outcome, value: float, direction: Direction, seconds: float = 30.0) -> ExperimentRecord:
    return ExperimentRecord(
        id=2, parent_id=1, outcome=outcome, config={}, config_hash="c", program_hash="p", metric_name="val_loss",
        direction=direction, value=value, wall_clock_seconds=seconds,
        curve=[MetricPoint("val_loss", v) for v in (value * 1.5, value * 1.2, value)])


@pytest.mark.parametrize("name", REWARDS)
def test_a_reward_is_finite_and_the_same_for_the_same_record(name: str, tmp_path: Path) -> None:
    reward = build(name, tmp_path)

    @settings(max_examples=300, deadline=None)
    @given(records(), reward_contexts())
    def check(experiment: ExperimentRecord, context: RewardContext) -> None:
        score = reward.score(experiment, context)
        assert isinstance(score, float) and math.isfinite(score), (experiment, context, score)
        assert reward.score(experiment, context) == score  # pure: the loop stores what it hands on

    check()


@pytest.mark.parametrize("direction", list(Direction))
@pytest.mark.parametrize("name", REWARDS)
def test_a_kept_improvement_is_positive_and_above_every_run_without_a_result(name: str, direction: Direction,
                                                                            tmp_path: Path) -> None:
    reward = build(name, tmp_path)
    context = RewardContext(best_value=2.0, budget_seconds=60.0, direction=direction)
    better = 1.5 if direction is Direction.MINIMIZE else 2.5
    kept = reward.score(record(Outcome.OK, better, direction), context)
    assert kept > 0, "better than before says so with a positive number"
    for outcome in NO_RESULT:
        for value in (better, math.nan):  # a crash's last value is no result, whatever it was
            assert reward.score(record(outcome, value, direction), context) < kept, outcome
    # The baseline, with nothing to improve on, and an interrupted run are scored too.
    for experiment, best in ((record(Outcome.OK, better, direction), None),
                             (record(Outcome.INTERRUPTED, math.nan, direction), 2.0)):
        assert math.isfinite(reward.score(experiment, RewardContext(best, 60.0, direction)))
