"""Dataclasses and config classes (style ``class``).

Reads the field defaults of a module-level class, ``Config.lr``:

- ``@dataclass class Config: lr: float = 3e-4`` (attrs' ``@define``/``@frozen``, pydantic's
  ``BaseModel``, ``NamedTuple`` alike), plain ``class TrainConfig: lr = 3e-4`` too;
- ``lr: float = field(default=3e-4)`` (``Field``, ``attrib``, ``ib``): the ``default=``.

Any module-level class can be mapped by name in ``[fields]``; only config-like ones (one of those
decorators or bases, or a name ending in config, cfg, args, hparams, settings, params, ...) are
read by alias. How each class is built (``Config(lr=1e-3)``) is noted too: a default that every
construction passes is replaced before use, and a keyword passed there
(``GPTConfig(n_head=N_HEAD)``) is where :mod:`.calls` finds the field.
"""

from __future__ import annotations

import re

import libcst as cst

from .findings import Findings, Instantiation
from .scope import Scope
from .syntax import dotted, keyword

CONFIG_CLASS = re.compile(r"(config|conf|cfg|args|hparams|hps?|hyperparameters|settings|params|arguments)$", re.I)


def is_config(node: cst.ClassDef) -> bool:
    decorators = {dotted(d.decorator.func if isinstance(d.decorator, cst.Call) else d.decorator).split(".")[-1]
                  for d in node.decorators}
    return bool(decorators & {"dataclass", "define", "frozen", "s", "attrs"}) or bool(
        CONFIG_CLASS.search(node.name.value)) or any(
        dotted(b.value).split(".")[-1] in ("BaseModel", "NamedTuple", "BaseSettings") for b in node.bases)


def declared_value(value: cst.BaseExpression) -> cst.BaseExpression | None:
    """The default an annotated assignment declares: ``field(default=3e-4)`` -> 3e-4; None for a
    field() without one."""
    if isinstance(value, cst.Call) and dotted(value.func).split(".")[-1] in ("field", "Field", "attrib", "ib"):
        return keyword(value, "default")
    return value


def read_field(found: Findings, scope: Scope, name: str, value: cst.BaseExpression) -> None:
    """``name = value`` directly in a module-level class's body."""
    # Any module-level class can be mapped by name; only config-like ones are guessed.
    name_of_class, config_like = scope.classes[-1]
    found.add(f"{name_of_class}.{name}", name, value, "class", aliasable=config_like)


def note_construction(found: Findings, node: cst.Call, short: str, passed: dict[str, cst.BaseExpression],
                      line: int) -> None:
    """``Name(keyword=...)``: maybe a class of the script's own being built."""
    if short[:1].isupper() and passed:
        found.instantiations.append((short, passed, any(a.star == "**" for a in node.args), line))


def class_names(found: Findings) -> set[str]:
    """The classes whose fields were read."""
    return {c.path.split(".")[0] for c in found.assignments if c.style == "class"}


def constructions(found: Findings) -> list[Instantiation]:
    """Where those classes are built, in order."""
    names = class_names(found)
    return [made for made in found.instantiations if made[0] in names]


def replaced_defaults(found: Findings) -> dict[int, str]:
    """A config-class default that every construction passes explicitly: id -> why."""
    builds: dict[str, list[tuple[dict[str, cst.BaseExpression], bool, int]]] = {}
    for short, keywords, star, line in constructions(found):
        builds.setdefault(short, []).append((keywords, star, line))
    replaced: dict[int, str] = {}
    for candidate in found.assignments:
        if candidate.style == "class":
            cls, attr = candidate.path.split(".", 1)
            made = builds.get(cls, [])
            if made and all(attr in keywords and not star for keywords, star, _ in made):
                replaced[id(candidate)] = f"overridden where {cls} is built (line {made[0][2]})"
    return replaced
