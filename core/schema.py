"""The observation schema: the twelve knobs arrl reads from a training script and may change.

Field names, bounds and value sets are those of the design document. Every proposer, the
validators and the normalisation for learners read the bounds from here, so a bound is written
once. A script need not expose every field: fields it lacks are simply absent from its config.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

Value = int | float | str | bool


class SchemaError(ValueError):
    """A value outside the schema: the message names the field and the bound it breaks."""


@attrs.frozen
class Field:
    """One knob: its kind and the values it may take.

    ``kind`` is ``int`` (integer range), ``float`` (real range, ``log`` for scale-free
    quantities such as the learning rate), ``choice`` (a fixed ordered set: ordinal when the
    values are numbers, categorical when they are names) or ``bool``.
    """

    name: str
    kind: str
    group: str
    low: float | None = None
    high: float | None = None
    choices: tuple[Value, ...] = ()
    log: bool = False
    description: str = ""
    # How far an integer moves in one step (a knob spanning 1000 values should not crawl by 1).
    int_step: int = 1

    @property
    def knob(self) -> bool:
        """A knob the user declared in ``[space]`` by the script's own name, not a schema field."""
        return self.group == "knob"

    def grown(self, value: Any) -> Field:
        """This field with its domain grown to include ``value``: the baseline is always inside.

        Numbers widen the range; an ordinal choice gets the value inserted in order (768 sits
        between 512 and 1024); a categorical choice gets it appended. A value of the wrong type
        is not grown into: :meth:`check` still refuses it.
        """
        if self.kind == "bool" or isinstance(value, bool):
            return self
        if self.kind == "choice":
            if value in self.choices or not isinstance(value, (int, float, str)):
                return self
            if self.ordinal and isinstance(value, (int, float)) and math.isfinite(value):
                return attrs.evolve(self, choices=tuple(sorted((*self.choices, value))))
            if all(isinstance(c, str) for c in self.choices) and isinstance(value, str):
                return attrs.evolve(self, choices=(*self.choices, value))
            return self
        if not isinstance(value, (int, float)) or not math.isfinite(value):
            return self
        if self.kind == "int" and not float(value).is_integer():
            return self
        low = value if self.low is None else min(self.low, value)
        high = value if self.high is None else max(self.high, value)
        return attrs.evolve(self, low=low, high=high)

    @property
    def ordinal(self) -> bool:
        """Whether neighbouring values are meaningful steps (numbers), not mere alternatives."""
        return self.kind in ("int", "float") or (
            self.kind == "choice" and all(isinstance(c, (int, float)) for c in self.choices)
        )

    def check(self, value: Any) -> Value:
        """Return ``value`` coerced to the field's type, or raise :class:`SchemaError`."""
        if self.kind == "bool":
            if isinstance(value, bool):
                return value
            raise SchemaError(f"{self.name}: expected true or false, got {value!r}")
        if self.kind == "choice":
            for choice in self.choices:
                if value == choice and type(value) is not bool:
                    return choice
            allowed = ", ".join(str(c) for c in self.choices)
            raise SchemaError(f"{self.name}: {value!r} is not one of {{{allowed}}}")
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise SchemaError(f"{self.name}: expected a number, got {value!r}")
        if self.kind == "int" and not float(value).is_integer():
            raise SchemaError(f"{self.name}: expected an integer, got {value!r}")
        if not math.isfinite(value):
            raise SchemaError(f"{self.name}: {value!r} is not finite")
        assert self.low is not None
        if value < self.low:
            raise SchemaError(f"{self.name}: {value!r} is below the minimum {self.low:g}")
        if self.high is not None and value > self.high:
            raise SchemaError(f"{self.name}: {value!r} is above the maximum {self.high:g}")
        return int(value) if self.kind == "int" else float(value)


# A cap on heads keeps "attention_heads >= 1" from admitting absurd values; per-head width of at
# least 8 is what every real transformer uses.
MAX_ATTENTION_HEADS = 128

FIELDS: tuple[Field, ...] = (
    Field("num_layers", "int", "architecture", low=1, high=64),
    Field("hidden_dim", "choice", "architecture", choices=(64, 128, 256, 512, 1024)),
    Field("attention_heads", "int", "architecture", low=1, high=MAX_ATTENTION_HEADS),
    Field("activation", "choice", "architecture", choices=("relu", "gelu", "silu", "tanh")),
    Field("dropout_rate", "float", "architecture", low=0.0, high=0.5),
    Field("optimizer", "choice", "optimizer", choices=("adam", "adamw", "sgd", "lion")),
    Field("learning_rate", "float", "optimizer", low=1e-6, high=1.0, log=True),
    Field("weight_decay", "float", "optimizer", low=0.0, high=0.1),
    Field(
        "scheduler",
        "choice",
        "optimizer",
        choices=("cosine", "linear", "constant", "warmup_cosine"),
    ),
    Field("batch_size", "choice", "training", choices=(8, 16, 32, 64, 128, 256)),
    Field("gradient_clip", "float", "training", low=0.1, high=10.0, log=True),
    Field("mixed_precision", "bool", "training"),
)

FIELDS_BY_NAME: Mapping[str, Field] = {f.name: f for f in FIELDS}
FIELD_NAMES: tuple[str, ...] = tuple(f.name for f in FIELDS)

# The design document caps the experiment history of an observation at 32 entries.
HISTORY_WINDOW = 32


def check_config(config: Mapping[str, Any], fields: Mapping[str, Field] | None = None) -> dict[str, Value]:
    """Validate every value of ``config`` and the cross-field constraint; return it coerced.

    ``fields`` are the domains to judge by (a run's space, grown around its baseline); by
    default the design document's. Unknown field names are an error too: a typo must not
    silently become a no-op.
    """
    domains = FIELDS_BY_NAME if fields is None else fields
    checked: dict[str, Value] = {}
    for name, value in config.items():
        field = domains.get(name)
        if field is None:
            raise SchemaError(f"unknown field {name!r}; fields are: {', '.join(domains)}")
        checked[name] = field.check(value)
    check_heads(checked)
    return checked


def check_heads(config: Mapping[str, Any]) -> None:
    """The one cross-field constraint: attention heads divide the width."""
    heads, width = config.get("attention_heads"), config.get("hidden_dim")
    if isinstance(heads, int) and isinstance(width, int) and not isinstance(heads, bool) and heads and width % heads:
        raise SchemaError(f"attention_heads: {heads} does not divide hidden_dim {width}")


def config_hash(config: Mapping[str, Any]) -> str:
    """sha256 of the config's canonical JSON: equal configs hash equal whatever the key order."""
    canonical = json.dumps(dict(config), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def field_names(names: Sequence[str] | None = None) -> tuple[str, ...]:
    """Schema order of ``names`` (all fields when None), for stable tables and vectors."""
    if names is None:
        return FIELD_NAMES
    wanted = set(names)
    return tuple(n for n in FIELD_NAMES if n in wanted)
