"""The action space every proposer shares: moves over schema fields that stay in bounds.

A move changes one field: an ordinal field steps up or down (integers by one, log-scaled reals
by a factor, choices to the neighbouring value); a categorical field switches to another value.
An edit is one or more moves. Every edit produced here satisfies :func:`arrl.schema.check_config`
on the whole resulting config, including "attention_heads divides hidden_dim".
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Union

import attrs

from arrl.records import Edit
from arrl.schema import FIELDS_BY_NAME, Field, SchemaError, Value, check_config, check_heads, field_names

if TYPE_CHECKING:
    from .space import Space

# Every function takes an optional ``space``: the run's domains (grown around the baseline,
# with knobs). Without one, the design document's fields are the domains.
Domains = Union["Space", Mapping[str, Field], None]


def field_domains(space: Domains) -> Mapping[str, Field]:
    if space is None:
        return FIELDS_BY_NAME
    by_name = getattr(space, "by_name", None)
    return by_name if by_name is not None else space  # type: ignore[return-value]


def _ordered(names: Sequence[str], domains: Mapping[str, Field]) -> tuple[str, ...]:
    wanted = set(names)
    if domains is FIELDS_BY_NAME:
        return field_names(names)
    return tuple(n for n in domains if n in wanted)

# Multiplicative step of a log-scaled real (learning rate, gradient clip).
LOG_STEP = 2.0
# Additive step of a linear real, as a fraction of its range (dropout, weight decay); a value
# smaller than one step doubles or halves instead.
LINEAR_STEP = 0.1


@attrs.frozen
class Move:
    field: str
    direction: str  # "up", "down" (ordinal fields) or "switch" (categorical fields)
    target: Value | None = None  # the value to switch to, for "switch"


def moves(
    config: Mapping[str, Value],
    editable: Sequence[str] | None = None,
    choices: Mapping[str, Sequence[Value]] | None = None,
    space: Domains = None,
) -> list[Move]:
    """Every single-field move available from ``config``.

    Only ``editable`` fields move (default: all of ``config``; fields a script lacks are never
    proposed), and a categorical field only to the values in ``choices`` when the script
    restricts them (an optimizer written as code can become lion only if the script has one).
    """
    domains = field_domains(space)
    available: list[Move] = []
    for name in _ordered(list(editable if editable is not None else config), domains):
        if name not in config:
            continue
        field = domains[name]
        if field.kind == "bool":
            available.append(Move(name, "switch", not config[name]))
        elif field.ordinal:
            available += [Move(name, "up"), Move(name, "down")]
        else:
            allowed = (choices or {}).get(name, field.choices)
            available += [Move(name, "switch", c) for c in allowed if c != config[name]]
    return available


def step(field_name: str, value: Value, direction: str, space: Domains = None) -> Value:
    """The neighbouring value of an ordinal field, clamped to its bounds."""
    field = field_domains(space)[field_name].grown(value)
    sign = 1 if direction == "up" else -1
    if field.kind == "choice":
        index = field.choices.index(value) + sign
        return field.choices[min(max(index, 0), len(field.choices) - 1)]
    assert field.low is not None and field.high is not None
    if field.kind == "int":
        if field_name == "attention_heads" or field.log:  # heads move by doubling: they must divide widths
            count = int(value) * 2 if sign > 0 else max(int(value) // 2, 1)
        else:
            count = int(value) + sign * field.int_step
        return int(min(max(count, field.low), field.high))
    if field.log:
        real = float(value) * (LOG_STEP if sign > 0 else 1 / LOG_STEP)
    else:
        unit = LINEAR_STEP * (field.high - field.low)
        above = float(value) - field.low
        if 0 < above < unit * (1 - 1e-9):  # (1e-9: 0.01 is one step of 0.1 x 0.1, not under it)
            # A value under one step (AdamW's weight decay of 5e-4 in a 0-0.1 range): a step of
            # 0.01 would multiply it by 20 or zero it; a user's scale is kept by doubling or halving.
            real = field.low + above * (LOG_STEP if sign > 0 else 1 / LOG_STEP)
        else:
            real = float(value) + sign * unit
    # Round first: rounding must not leave the bounds; + 0.0 turns -0.0 into 0.0 (another program's hash).
    return min(max(round(real, 12), field.low), field.high) + 0.0


def apply_move(config: Mapping[str, Value], move: Move, space: Domains = None) -> dict[str, Value]:
    new = dict(config)
    if move.direction == "switch":
        new[move.field] = move.target  # type: ignore[assignment]
    else:
        new[move.field] = step(move.field, config[move.field], move.direction, space)
    return _repair(new, move.field, config)


def _repair(config: dict[str, Value], moved: str, before: Mapping[str, Value]) -> dict[str, Value]:
    # Keep "heads divide width": after a width change, move heads to the nearest divisor.
    # A baseline that breaks it already (its own business) is left alone unless heads or width move.
    heads, width = config.get("attention_heads"), config.get("hidden_dim")
    if moved not in ("attention_heads", "hidden_dim"):
        return config
    if isinstance(heads, int) and isinstance(width, int) and heads > 0 and width % heads:
        if moved == "attention_heads":
            raise SchemaError(f"attention_heads: {heads} does not divide hidden_dim {width}")
        divisors = [d for d in range(1, width + 1) if width % d == 0 and d <= heads]
        config["attention_heads"] = max(divisors)
    return config


def random_edit(
    config: Mapping[str, Value],
    rng: random.Random,
    max_moves: int = 2,
    editable: Sequence[str] | None = None,
    choices: Mapping[str, Sequence[Value]] | None = None,
    space: Domains = None,
) -> Edit:
    """A valid edit of one to ``max_moves`` moves that changes at least one value."""
    domains = field_domains(space)
    if not moves(config, editable, choices, space):
        raise SchemaError("no field can be moved: the script exposes no editable schema value")
    while True:  # two moves can cancel out (up, then down): draw again
        current = dict(config)
        for _ in range(rng.randint(1, max_moves)):
            candidates = moves(current, editable, choices, space)
            rng.shuffle(candidates)
            for move in candidates:
                try:
                    proposed = apply_move(current, move, space)
                except SchemaError:
                    continue
                if proposed != current:
                    current = proposed
                    break
        changes = {k: v for k, v in current.items() if config.get(k) != v}
        if changes:
            check_config(changes, {k: f.grown(config[k]) if k in config else f for k, f in domains.items()})
            if {"attention_heads", "hidden_dim"} & set(changes):
                check_heads(current)
            description = "; ".join(f"{k} {config[k]} -> {v}" for k, v in changes.items())
            return Edit(changes, description)
