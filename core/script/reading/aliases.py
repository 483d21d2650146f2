"""Fields found by name: the literals of every style whose name or key is an alias of a field
(``N_LAYER = 6``, ``CONFIG['lr']``, ``Config.batch_size``, ``--dropout``, ``main(lr=)``); the
last assignment wins. A dtype or precision string (``dtype = "bfloat16"``) says mixed precision,
a flag that turns a schedule on or off (``decay_lr = True``) says the scheduler: each is written
back in the script's own spelling (:class:`Mapped`)."""

from __future__ import annotations

from collections.abc import Mapping

import attrs
import libcst as cst

from arrl.schema import FIELDS_BY_NAME, Value

from .draft import Draft, normalise
from .findings import Assignment
from .names import FIELD_FOR_ALIAS, PRECISION_NAMES, SCHEDULE_FLAGS
from .results import Site

_FULL_FOR_HALF = {"bfloat16": "float32", "float16": "float32", "half": "float32", "bf16": "fp32", "fp16": "fp32",
                  "16": "32", "16-mixed": "32-true", "bf16-mixed": "32-true"}
_HALF_FOR_FULL = {"float32": "bfloat16", "float": "bfloat16", "fp32": "bf16", "32": "bf16-mixed",
                  "32-true": "bf16-mixed", "no": "bf16"}


@attrs.frozen
class Mapped:
    """A literal that spells a field another way: a dtype string for mixed precision, a
    schedule flag for the scheduler. ``texts`` gives the literal to write for each value."""

    node: cst.BaseExpression
    texts: Mapping[Value, Value]


def _precision_texts(original: str) -> dict[Value, Value] | None:
    lower = original.lower()
    if lower in _FULL_FOR_HALF:
        return {True: original, False: _FULL_FOR_HALF[lower]}
    if lower in _HALF_FOR_FULL:
        return {True: _HALF_FOR_FULL[lower], False: original}
    return None


def _field_of(candidate: Assignment) -> tuple[str | None, Mapped | None] | None:
    """The field a literal's name says, and how it spells the field's values when not as they
    are; None for a precision name whose string is no precision arrl knows."""
    aliased = FIELD_FOR_ALIAS.get(candidate.key) if candidate.aliasable else None
    if candidate.aliasable and candidate.key in PRECISION_NAMES and isinstance(candidate.value, str):
        spellings = _precision_texts(candidate.value)
        if spellings is None:
            return None
        return "mixed_precision", Mapped(candidate.node, spellings)
    if candidate.aliasable and candidate.key in SCHEDULE_FLAGS and isinstance(candidate.value, bool):
        return "scheduler", Mapped(candidate.node, {"cosine": True, "constant": False})
    return aliased, None


def settle(draft: Draft, live: list[Assignment], argparse_choices: Mapping[str, tuple[str, ...]],
           settled: set[str]) -> None:
    """The fields no earlier rule ``settled``, from the names of the ``live`` literals."""
    for candidate in sorted(live, key=lambda c: c.order):
        named = _field_of(candidate)
        if named is None:
            continue
        aliased, mapped = named
        if aliased is None or aliased in settled:
            continue
        if FIELDS_BY_NAME[aliased].kind == "choice" and isinstance(candidate.value, bool) and mapped is None:
            continue
        value = candidate.value if mapped is None else next(k for k, v in mapped.texts.items() if v == candidate.value)
        value = normalise(aliased, value)
        note = "" if mapped is None else f"{candidate.path} = {candidate.value!r}"
        draft.settle(aliased, value, Site(aliased, value, candidate.line, candidate.style, candidate.path, note=note),
                     [candidate.node if mapped is None else mapped])
        listed = argparse_choices.get(candidate.path) if candidate.style == "argparse" else None
        if listed and mapped is None and FIELDS_BY_NAME[aliased].kind == "choice":
            # argparse checks a value given on the command line against choices=, never the
            # default: a default outside them would run, and crash where the script dispatches.
            draft.choices[aliased] = tuple(normalise(aliased, c) for c in listed)
            draft.spelled_as[aliased] = {normalise(aliased, c): c for c in listed}
        elif aliased == "scheduler":  # a flag can only turn the schedule on or off
            if mapped is not None:
                draft.choices[aliased] = ("cosine", "constant")
            elif candidate.key == "lr_scheduler_type":  # Hugging Face's names: no "warmup_cosine"
                draft.choices[aliased] = ("cosine", "linear", "constant")
            else:
                draft.choices.pop(aliased, None)
