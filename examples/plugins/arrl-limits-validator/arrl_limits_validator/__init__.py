"""An example arrl validator: limits that only this project knows.

The schema says a batch size may go up to 512; your GPU says 64. Write that down once::

    [plugins]
    validator = ["ast", "limits"]        # a chain: the built-in checks, then these

    [options.validator.limits]
    rules = ["batch_size <= 64", "hidden_dim <= 256", "learning_rate >= 1e-5"]

and every proposal that moves a value past a limit is rejected before it runs, recorded with the
reason ``[limits] line 3: batch_size = 128 breaks the limit batch_size <= 64``.

It judges the change, not the starting point: a value the proposal leaves as the baseline has it
is never refused, even when the baseline itself is past a limit (refusing it would reject every
proposal, whatever it changes). Like every validator it reads the script and never runs it.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable

import attrs

import arrl
from arrl.schema import FIELD_NAMES
from arrl.script import ScriptError, extract

_RULE = re.compile(r"^\s*([a-z_]+)\s*(<=|>=|<|>)\s*(\S+)\s*$")
_COMPARE: dict[str, Callable[[float, float], bool]] = {
    "<=": operator.le, ">=": operator.ge, "<": operator.lt, ">": operator.gt}


@attrs.frozen
class Rule:
    field: str
    op: str
    limit: float

    def allows(self, value: float) -> bool:
        return _COMPARE[self.op](value, self.limit)

    def __str__(self) -> str:
        return f"{self.field} {self.op} {self.limit:g}"


def parse_rule(text: str) -> Rule:
    """``"batch_size <= 64"`` -> Rule; a ValueError that says what is wrong otherwise."""
    match = _RULE.match(text)
    if match is None:
        raise ValueError(f"rule {text!r} must read FIELD OP NUMBER, e.g. 'batch_size <= 64' (OP: <=, >=, <, >)")
    field, op, number = match.groups()
    if field not in FIELD_NAMES:
        raise ValueError(f"rule {text!r}: unknown field {field!r}; fields are: {', '.join(FIELD_NAMES)}")
    try:
        limit = float(number)
    except ValueError:
        raise ValueError(f"rule {text!r}: {number!r} is not a number") from None
    return Rule(field, op, limit)


def _rules(_: object, __: attrs.Attribute, value: list[str]) -> None:
    for text in value:
        parse_rule(text)  # raises: arrl turns it into a ConfigError naming this option


@attrs.frozen
class LimitsOptions:
    rules: list[str] = attrs.field(factory=list, validator=_rules)


class Limits(arrl.Validator):
    def __init__(self, options: LimitsOptions, context: arrl.PluginContext) -> None:
        self.rules = [parse_rule(text) for text in options.rules]
        self.script_path = context.script_path
        self.field_map = dict(context.field_map)

    def validate(self, proposed: str, baseline: str) -> arrl.ValidationResult:
        try:
            new = extract(proposed, self.script_path, self.field_map)
            old = extract(baseline, self.script_path, self.field_map)
        except (ScriptError, ValueError):
            # An unreadable script is the ast validator's to reject, with its own reason.
            return arrl.ValidationResult()
        issues = []
        for rule in self.rules:
            value = new.values.get(rule.field)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                continue  # the script does not expose this field as a number
            if value == old.values.get(rule.field) or rule.allows(value):
                continue
            site = new.sites.get(rule.field)
            issues.append(arrl.ValidationIssue(
                f"{rule.field} = {value!r} breaks the limit {rule}",
                line=site.line if site else None, validator="limits"))
        return arrl.ValidationResult(tuple(issues))


@arrl.hookimpl
def arrl_validators():
    yield arrl.Registration(
        name="limits",
        summary="refuse values past this project's limits, e.g. 'batch_size <= 64' (example plugin)",
        factory=lambda options, context: Limits(options, context),
        options=LimitsOptions,
    )
