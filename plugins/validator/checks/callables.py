"""Callables judged by their arguments are only called: ``open`` (its mode), ``getattr`` (its
attribute name), ``print`` (its file, while stdout is reserved) and ``os.path.expandvars`` (the
variables it reads) taken as values (``openers = [open]``, ``fn = io.open``) would be called
where their arguments cannot be seen. A plain alias (``o = open``) is fine: its calls are judged."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from typing import TYPE_CHECKING

from arrl.records import ValidationIssue

from ..judging import alias_position
from ..tables import ATTRIBUTE_FUNCTIONS, OPENERS

if TYPE_CHECKING:
    from ..judging import Judging, Reading, Visit


def builtin_taken(judging: Judging, visit: Visit) -> Iterator[ValidationIssue]:
    node, parent = visit.node, visit.parent
    assert isinstance(node, ast.Name)
    if not isinstance(node.ctx, ast.Load):
        return
    builtin = judging.scope.is_builtin(node, node.id)
    called = visit.called
    if builtin and node.id in OPENERS and not called and not alias_position(node, parent):
        yield ValidationIssue(f"takes {node.id} as a value, so the files it opens cannot be checked", node.lineno)
    if builtin and node.id in ATTRIBUTE_FUNCTIONS and not called:
        yield ValidationIssue(f"passes {node.id} around, which turns strings into attribute lookups",
                              node.lineno)
    if judging.frozen and node.id == "print" and builtin and not called:
        yield ValidationIssue("takes print as a value, which could report metrics around the frozen "
                              "evaluation code", node.lineno)


def library_function_taken(judging: Judging, visit: Visit, reading: Reading) -> Iterator[ValidationIssue]:
    node, parent = visit.node, visit.parent
    assert isinstance(node, ast.expr)
    if reading.resolution is None:
        return
    called = visit.called
    if not called and not alias_position(node, parent) and (
            judging.is_in(node, judging.openers) or "os.path.expandvars" in reading.spellings):
        yield ValidationIssue(f"takes {reading.ref.dotted} as a value, so its arguments cannot be checked",
                              visit.line)
