"""The validator's contract: rules, what it refuses and what it lets through, and its options."""

from __future__ import annotations

from pathlib import Path

import arrl_limits_validator
import pytest
from arrl_limits_validator import Limits, LimitsOptions, parse_rule

import arrl
from arrl.manager import Registry, build_options, make_plugin_manager

BASELINE = """\
LEARNING_RATE = 0.01
BATCH_SIZE = 32
DROPOUT = 0.1
"""


def _limits(*rules: str) -> Limits:
    context = arrl.PluginContext(Path("."), Path("."), "train.py", "val_loss", arrl.Direction.MINIMIZE, 60, 0)
    return Limits(LimitsOptions(list(rules)), context)


def test_a_change_past_a_limit_is_refused_with_its_line() -> None:
    result = _limits("batch_size <= 64").validate(BASELINE.replace("32", "128"), BASELINE)
    assert not result.accepted
    (issue,) = result.issues
    assert (issue.validator, issue.line) == ("limits", 2)
    assert issue.message == "batch_size = 128 breaks the limit batch_size <= 64"


def test_changes_within_limits_and_untouched_values_pass() -> None:
    limits = _limits("batch_size <= 64", "learning_rate >= 1e-3")
    assert limits.validate(BASELINE.replace("32", "64"), BASELINE).accepted
    assert limits.validate(BASELINE.replace("0.01", "0.005"), BASELINE).accepted
    assert not limits.validate(BASELINE.replace("0.01", "0.0001"), BASELINE).accepted
    # A baseline already past a limit is where the user started: leaving it alone is fine.
    over = BASELINE.replace("32", "256")
    assert _limits("batch_size <= 64").validate(over.replace("0.1", "0.2"), over).accepted


def test_rules_are_checked_when_the_options_are_read() -> None:
    assert str(parse_rule(" dropout_rate<0.5 ")) == "dropout_rate < 0.5"
    with pytest.raises(ValueError, match="must read FIELD OP NUMBER"):
        parse_rule("batch_size = 64")
    with pytest.raises(ValueError, match="unknown field 'batchsize'"):
        parse_rule("batchsize <= 64")
    manager = make_plugin_manager(entry_points=False)
    manager.register(arrl_limits_validator, name="limits-validator")
    registration = Registry(manager).get("validator", "limits")
    with pytest.raises(arrl.ConfigError, match="must read FIELD OP NUMBER"):
        build_options(registration, {"rules": ["batch_size == 64"]})
    assert build_options(registration, {"rules": ["batch_size <= 64"]}).rules == ["batch_size <= 64"]
