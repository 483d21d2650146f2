"""The allow-list of syntax, and the hooks by which new code would run where the script never
calls it: special methods, class keywords, metaclasses, and classes made with ``type()``."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from typing import TYPE_CHECKING

from arrl.records import ValidationIssue

from ..tables import ALLOWED_NODES, ALLOWED_SPECIAL_METHODS, VALUE_BASES

if TYPE_CHECKING:
    from ..judging import Judging, Visit


def allowed_syntax(judging: Judging, visit: Visit) -> Iterator[ValidationIssue]:
    if type(visit.node) not in ALLOWED_NODES:
        yield ValidationIssue(f"{type(visit.node).__name__} is not allowed in proposed code", visit.line)


def special_method(judging: Judging, visit: Visit) -> Iterator[ValidationIssue]:
    node = visit.node
    assert isinstance(node, ast.FunctionDef)
    if node.name.startswith("__") and node.name.endswith("__") and node.name not in ALLOWED_SPECIAL_METHODS:
        yield ValidationIssue(f"defines {node.name}, a hook that runs code where the script does not call it",
                              node.lineno)


def class_hooks(judging: Judging, visit: Visit) -> Iterator[ValidationIssue]:
    """Class keywords and metaclasses; with stdout reserved, also subclasses of the value types
    whose methods (``item``, ``__format__``) the frozen evaluation code calls."""
    node = visit.node
    assert isinstance(node, ast.ClassDef)
    if node.keywords:
        yield ValidationIssue("class keywords (metaclass=...) run code when the class is created", node.lineno)
    for base in node.bases:
        for reading in judging.readings(base):
            resolution = reading.resolution
            mro = set(resolution.final.mro) if resolution and resolution.final else set()
            mro |= set(reading.spellings)
            if "builtins.type" in mro or "type" in mro:
                yield ValidationIssue("defines a metaclass (a subclass of type)", node.lineno)
            elif judging.frozen and mro & VALUE_BASES:
                yield ValidationIssue(f"subclasses {sorted(mro & VALUE_BASES)[0]}, whose methods the frozen "
                                      "evaluation code calls", node.lineno)


def type_call(judging: Judging, visit: Visit) -> Iterator[ValidationIssue]:
    node = visit.node
    assert isinstance(node, ast.Call)
    callee = node.func
    if isinstance(callee, ast.Name) and callee.id == "type" and judging.scope.is_builtin(callee, "type") \
            and len(node.args) != 1:
        yield ValidationIssue("creates a class with type(name, bases, namespace)", node.lineno)
