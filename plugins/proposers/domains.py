"""The search space a proposer may sample from, as the script and the schema allow it.

Proposers that set values directly (grid, Optuna) rather than step through
:mod:`arrl.script.actions` need each field's domain and the "heads divide width" repair in one place.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import attrs

import arrl
from arrl.schema import FIELDS_BY_NAME, Field, Value


@attrs.frozen
class Domain:
    """The values one field may take in this script."""

    name: str
    kind: str  # "int", "float", "choice" or "bool"
    low: float | None = None
    high: float | None = None
    log: bool = False
    choices: tuple[Value, ...] = ()

    def clamp(self, value: float) -> Value:
        assert self.low is not None and self.high is not None
        clamped = min(max(value, self.low), self.high)
        return int(round(clamped)) if self.kind == "int" else round(clamped, 12)


# Integer ranges spanning more than this factor are searched on a log scale (layers, heads).
_LOG_INT_SPAN = 16


def fields(observation: arrl.Observation) -> Mapping[str, Field]:
    """The run's domains: its space (fields grown around the baseline, ``[space]`` overrides and
    knobs) when the loop gives one, else the design document's fields."""
    return observation.space.by_name if observation.space is not None else FIELDS_BY_NAME


def domain(name: str, observation: arrl.Observation) -> Domain:
    """The domain of field or knob ``name`` for the script behind ``observation``: the run's
    bounds, and for categorical fields only the values the script can take."""
    field = fields(observation).get(name) or FIELDS_BY_NAME[name]
    if field.kind == "bool":
        return Domain(name, "bool", choices=(False, True))
    if field.kind == "choice":
        allowed = observation.choices.get(name, field.choices)
        return Domain(name, "choice", choices=tuple(c for c in field.choices if c in allowed))
    assert field.low is not None and field.high is not None
    log = field.log or (field.kind == "int" and field.high / max(field.low, 1) > _LOG_INT_SPAN)
    return Domain(name, field.kind, field.low, field.high, log)


def editable_fields(observation: arrl.Observation) -> tuple[str, ...]:
    """The fields and knobs a proposer may change, in the space's order, each with bounds."""
    names: Sequence[str] = observation.editable if observation.editable is not None else list(observation.config)
    wanted = set(names)
    return tuple(n for n, f in fields(observation).items() if n in wanted and n in observation.config
                 and (f.kind in ("choice", "bool") or (f.low is not None and f.high is not None)))


def repair_heads(config: Mapping[str, Value]) -> dict[str, Value]:
    """``config`` with attention_heads lowered to the largest divisor of hidden_dim not above it."""
    repaired = dict(config)
    heads, width = repaired.get("attention_heads"), repaired.get("hidden_dim")
    if isinstance(heads, int) and isinstance(width, int) and not isinstance(heads, bool) and width % heads:
        repaired["attention_heads"] = max(d for d in range(1, min(heads, width) + 1) if width % d == 0)
    return repaired


def describe(before: Mapping[str, Value], changes: Mapping[str, Value]) -> str:
    return "; ".join(f"{k} {before.get(k)} -> {v}" for k, v in changes.items())
