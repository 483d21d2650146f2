"""The search space of one run: the design document's fields grown around the baseline, the
user's per-field overrides, and knobs declared in ``[space]`` by the script's own name.

The design document's twelve fields and ranges are a prior, not a wall. A baseline value
outside them is a valid starting point: the field's domain grows to include it. ``[space]``
entries named like a schema field override its bounds or choices; any other name is a knob of
the script (``MATRIX_LR``), typed from the baseline value or from ``type``. ``exclude`` takes a
field or knob out of tuning altogether.

The validators judge a proposal against the *baseline's* space: only a value that differs from
the baseline's and lies outside the grown domain is refused (``learning_rate = 1e10`` still
is; an untouched ``batch_size = 12`` never is). :func:`space_toml` writes a ready ``[space]``
table for the candidates :mod:`arrl.script.candidates` finds.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import attrs

from arrl.errors import ConfigError
from arrl.schema import FIELDS, FIELDS_BY_NAME, Field, SchemaError, Value, check_heads

KNOB_TYPES = ("int", "float", "bool", "str")


@attrs.frozen
class SpaceEntry:
    """One ``[space]`` entry: bounds (``low``/``high``/``log``) or ``choices``, an optional
    ``type`` for knobs whose baseline value does not say it (``WARMUP_RATIO = 0``)."""

    low: float | None = None
    high: float | None = None
    log: bool | None = None
    choices: list[Any] | None = None
    type: str | None = None

    def __attrs_post_init__(self) -> None:
        if self.type is not None and self.type not in KNOB_TYPES:
            raise ValueError(f"type must be one of {', '.join(KNOB_TYPES)}, got {self.type!r}")
        if self.low is not None and self.high is not None and self.low > self.high:
            raise ValueError(f"low {self.low:g} is above high {self.high:g}")
        if self.choices is not None and not self.choices:
            raise ValueError("choices is empty")
        if self.log and self.low is not None and self.low <= 0:
            raise ValueError("log = true needs low > 0")


@attrs.frozen
class SpaceSettings:
    """The ``[space]`` table and ``exclude`` list of a project, as the core passes them around."""

    entries: dict[str, SpaceEntry] = attrs.Factory(dict)
    exclude: tuple[str, ...] = ()

    @property
    def knobs(self) -> tuple[str, ...]:
        """Declared names that are not schema fields, in the order the file gives them."""
        return tuple(n for n in self.entries if n not in FIELDS_BY_NAME and n not in self.exclude)


@attrs.frozen
class Space:
    """Every domain a run may move in, in a stable order: schema fields first, then knobs."""

    fields: tuple[Field, ...]

    @property
    def by_name(self) -> dict[str, Field]:
        return {f.name: f for f in self.fields}

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)

    @property
    def knobs(self) -> tuple[Field, ...]:
        return tuple(f for f in self.fields if f.knob)

    def __contains__(self, name: object) -> bool:
        return name in self.by_name

    def __getitem__(self, name: str) -> Field:
        return self.by_name[name]

    def domain(self, name: str) -> Field | None:
        """The domain of ``name``: this space's, else the design document's (a field the
        baseline lacks), else None (a name arrl knows nothing about)."""
        return self.by_name.get(name) or FIELDS_BY_NAME.get(name)

    def judge(self, proposed: Mapping[str, Any], baseline: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
        """(name, message) for each proposed value that differs from the baseline's and lies
        outside its domain, and for a changed width or head count that breaks divisibility."""
        changed: dict[str, Any] = {}
        for name, value in proposed.items():
            if name in baseline and _same(baseline[name], value):
                continue
            field = self.domain(name)
            if field is None:
                continue
            try:
                changed[name] = field.check(value)
            except SchemaError as error:
                yield name, str(error)
        if {"attention_heads", "hidden_dim"} & set(changed):
            try:
                check_heads({**proposed, **changed})
            except SchemaError as error:
                yield "attention_heads", str(error)


def _same(a: Any, b: Any) -> bool:
    return type(a) is type(b) and a == b or (
        isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool)
        and not isinstance(b, bool) and a == b)


def _override(field: Field, entry: SpaceEntry) -> Field:
    if entry.choices is not None:
        if field.kind not in ("choice",):
            raise ConfigError(f"[space] {field.name}: choices apply to a choice field; it is {field.kind}")
        return attrs.evolve(field, choices=tuple(entry.choices))
    changes: dict[str, Any] = {}
    if entry.low is not None or entry.high is not None:
        if field.kind not in ("int", "float"):
            raise ConfigError(f"[space] {field.name}: low/high apply to a numeric field; it is {field.kind}")
        changes = {"low": entry.low if entry.low is not None else field.low,
                   "high": entry.high if entry.high is not None else field.high}
    if entry.log is not None:
        changes["log"] = entry.log
    return attrs.evolve(field, **changes)


def _knob_type(name: str, value: Value, entry: SpaceEntry) -> str:
    if entry.type is not None:
        return entry.type
    if entry.choices is not None and not all(isinstance(c, bool) for c in entry.choices):
        if all(isinstance(c, str) for c in entry.choices):
            return "str"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        # WARMUP_RATIO = 0 with a float range is a float knob.
        bounds = [b for b in (entry.low, entry.high) if b is not None] + list(entry.choices or [])
        return "float" if any(isinstance(b, float) and not b.is_integer() for b in bounds) else "int"
    if isinstance(value, float):
        return "float"
    return "str"


def _default_bounds(value: float, kind: str) -> tuple[float, float, bool]:
    """A neighbourhood for a knob declared without bounds: a decade either way for positive
    numbers (log scale), [0, 1] around zero."""
    if value > 0:
        low, high = value / 10, value * 10
        if kind == "int":
            low, high = max(1, math.floor(low)), math.ceil(high)
        return low, high, True
    if value == 0:
        return (0.0, 1.0, False) if kind == "float" else (0, 10, False)
    return value * 10, -value * 10, False


def knob_field(name: str, value: Value, entry: SpaceEntry) -> Field:
    """The domain of knob ``name`` whose baseline value is ``value``, grown to include it."""
    kind = _knob_type(name, value, entry)
    if kind == "bool":
        if not isinstance(value, bool):
            raise ConfigError(f"[space] {name}: type bool, but the script sets it to {value!r}")
        return Field(name, "bool", "knob")
    if entry.choices is not None or kind == "str":
        choices = tuple(entry.choices) if entry.choices is not None else (value,)
        field = Field(name, "choice", "knob", choices=choices)
        return field.grown(value) if field.ordinal or isinstance(value, str) else field
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"[space] {name}: type {kind}, but the script sets it to {value!r}")
    if kind == "int" and not float(value).is_integer():
        raise ConfigError(f"[space] {name}: type int, but the script sets it to {value!r}")
    low, high, log = _default_bounds(float(value), kind)
    low = entry.low if entry.low is not None else low
    high = entry.high if entry.high is not None else high
    log = entry.log if entry.log is not None else (log and entry.low is None and entry.high is None)
    if log and low <= 0:
        log = False
    span = high - low
    step = max(1, round(span / 10)) if kind == "int" and not log else 1
    field = Field(name, kind, "knob", low=low, high=high, log=log, int_step=step)
    return field.grown(int(value) if kind == "int" else float(value))


def build_space(values: Mapping[str, Value], settings: SpaceSettings = SpaceSettings(),
                editable: Sequence[str] | None = None, strict: bool = False) -> Space:
    """The space around a baseline whose values (schema fields and knobs) are ``values``.

    ``editable`` limits the schema fields to those arrl can rewrite; excluded names are left
    out. With ``strict``, a declared knob the script does not set is an error (a typo must not
    silently tune nothing); the validators build leniently.
    """
    unknown = [n for n in settings.exclude if n not in FIELDS_BY_NAME and n not in settings.entries
               and n not in values]
    if strict and unknown:
        raise ConfigError(f"exclude names {', '.join(unknown)}, which is neither a schema field nor set by the script")
    allowed = set(values if editable is None else editable)
    fields: list[Field] = []
    for field in FIELDS:
        if field.name not in values or field.name in settings.exclude or field.name not in allowed:
            continue
        entry = settings.entries.get(field.name)
        domain = _override(field, entry) if entry is not None else field
        fields.append(domain.grown(values[field.name]))
    for name in settings.knobs:
        if name in values and name not in allowed:
            continue  # read-only where it is (overridden before use): inspect says why
        if name not in values:
            if strict:
                raise ConfigError(f"[space] declares {name}, which the script does not assign a literal to")
            continue
        try:
            fields.append(knob_field(name, values[name], settings.entries[name]))
        except ConfigError:
            if strict:
                raise
    return Space(tuple(fields))


# --- writing a [space] ---------------------------------------------------------------------

def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, float):
        text = repr(value)
        return text if any(c in text for c in ".eEn") else text + ".0"
    return str(value)


def _round(x: float) -> float:
    return float(f"{x:.3g}")


def suggested_entry(value: Value, alternatives: Sequence[Value] = (), scale: str = "") -> SpaceEntry:
    """A sensible ``[space]`` entry for a knob whose baseline value is ``value``. ``scale`` is
    what its name says: "rate" (learning rates: a decade either way, log scale), "fraction"
    (ratios, betas, fractions: a real in [0, 1]) or "" (guess from the value)."""
    if isinstance(value, bool):
        return SpaceEntry(type="bool")
    if isinstance(value, str):
        return SpaceEntry(choices=list(dict.fromkeys([value, *alternatives])))
    if scale == "fraction" and 0 <= value <= 1:
        return SpaceEntry(low=0.0, high=1.0, type="float" if isinstance(value, int) else None)
    if isinstance(value, int):
        if value >= 2 and value & (value - 1) == 0:  # powers of two stay powers of two
            return SpaceEntry(low=max(1, value // 8), high=value * 8, log=True)
        low, high, log = _default_bounds(float(value), "int")
        return SpaceEntry(low=low, high=high, log=log or None)
    if value > 0 and (scale == "rate" or value < 0.05 or value > 1):
        return SpaceEntry(low=_round(value / 10), high=_round(value * 10), log=True)
    if 0 <= value <= 1:
        return SpaceEntry(low=0.0, high=1.0)
    low, high, log = _default_bounds(value, "float")
    return SpaceEntry(low=_round(low), high=_round(high), log=log or None)


def space_toml(entries: Mapping[str, SpaceEntry], comments: Mapping[str, str] | None = None) -> str:
    """A ready ``[space]`` table (TOML) for ``entries``; ``comments`` say where each knob is."""
    lines = ["[space]"]
    for name, entry in entries.items():
        parts = []
        for key in ("low", "high", "log", "choices", "type"):
            value = getattr(entry, key)
            if value is None:
                continue
            text = "[" + ", ".join(_toml_value(v) for v in value) + "]" if key == "choices" else _toml_value(value)
            parts.append(f"{key} = {text}")
        key = name if name.replace("_", "").isalnum() and not name[0].isdigit() else _toml_value(name)
        line = f"{key} = {{ {', '.join(parts)} }}" if parts else f"{key} = {{}}"
        note = (comments or {}).get(name)
        lines.append(f"{line}  # {note}" if note else line)
    return "\n".join(lines) + "\n"
