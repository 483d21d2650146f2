"""The reward's contract: its formula, every outcome, both directions, and its options."""

from __future__ import annotations

import math

import arrl_relative_reward
import pytest
from arrl_relative_reward import RelativeOptions, RelativeReward

import arrl
from arrl.manager import Registry, build_options, make_plugin_manager
from arrl.records import Direction, Outcome


def _record(outcome: Outcome, value: float, direction: Direction = Direction.MINIMIZE) -> arrl.ExperimentRecord:
    return arrl.ExperimentRecord(id=1, parent_id=0, outcome=outcome, config={}, config_hash="",
                                 program_hash="", metric_name="val_loss", direction=direction, value=value)


def _context(best: float | None, direction: Direction = Direction.MINIMIZE) -> arrl.RewardContext:
    return arrl.RewardContext(best_value=best, budget_seconds=60, direction=direction)


def test_relative_improvement_scaled_and_clipped() -> None:
    reward = RelativeReward(RelativeOptions())
    assert reward.score(_record(Outcome.OK, 1.9), _context(2.0)) == pytest.approx(0.5)   # 5 % better
    assert reward.score(_record(Outcome.OK, 2.1), _context(2.0)) == pytest.approx(-0.5)  # 5 % worse
    assert reward.score(_record(Outcome.OK, 1.0), _context(2.0)) == 1.0                  # clipped
    assert reward.score(_record(Outcome.OK, 9.0), _context(2.0)) == -1.0


def test_maximized_metric_flips_the_sign() -> None:
    reward = RelativeReward(RelativeOptions(scale=1.0))
    record = _record(Outcome.OK, 0.9, Direction.MAXIMIZE)
    assert reward.score(record, _context(0.6, Direction.MAXIMIZE)) == pytest.approx(0.5)


def test_outcomes_without_a_usable_value() -> None:
    reward = RelativeReward(RelativeOptions(failure_penalty=-0.75, duplicate_penalty=-0.25))
    assert reward.score(_record(Outcome.OK, 2.0), _context(None)) == 0.0  # the baseline
    for outcome in (Outcome.FAILED, Outcome.TIMED_OUT, Outcome.REJECTED):
        assert reward.score(_record(outcome, math.inf), _context(2.0)) == -0.75
    assert reward.score(_record(Outcome.DUPLICATE, math.inf), _context(2.0)) == -0.25
    assert reward.score(_record(Outcome.INTERRUPTED, math.inf), _context(2.0)) == 0.0
    assert math.isfinite(reward.score(_record(Outcome.OK, 1.0), _context(0.0)))  # best of exactly 0


def test_registered_by_name_with_checked_options() -> None:
    manager = make_plugin_manager(entry_points=False)
    manager.register(arrl_relative_reward, name="relative-reward")
    registration = Registry(manager).get("reward", "relative")
    reward = registration.factory(build_options(registration, {"scale": 20}), None)
    assert reward.score(_record(Outcome.OK, 1.9), _context(2.0)) == 1.0
    with pytest.raises(arrl.ConfigError, match="scale"):
        build_options(registration, {"scale": -1})
