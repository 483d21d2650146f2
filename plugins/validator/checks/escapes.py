"""Introspection escapes: the dunder attributes (``__subclasses__``, ``__globals__``, ...) and the
frame, generator and code attributes (``gi_frame.f_globals``) that lead from any object to every
module's globals and builtins, however they are reached: an attribute, a name, ``getattr`` with
a constant name, an import, a ``match`` class pattern, a format string's fields; and the private
names of the standard library (``collections._sys``)."""

from __future__ import annotations

import ast
import string
from collections.abc import Iterator
from typing import TYPE_CHECKING

from arrl.records import ValidationIssue

from ..constant_folding import fold
from ..script_scope import Ref
from ..tables import ALLOWED_DUNDERS, STDLIB, escape

if TYPE_CHECKING:
    from ..judging import Judging, Reading, Visit


def escaping_import(judging: Judging, visit: Visit, ref: Ref) -> Iterator[ValidationIssue]:
    if isinstance(visit.node, ast.ImportFrom) and escape(ref.attrs[-1]):
        yield ValidationIssue(f"imports {ref.dotted}: an introspection escape", visit.line)


def escaping_pattern(judging: Judging, visit: Visit) -> Iterator[ValidationIssue]:
    """``case object(__globals__=g)`` reads the attribute like ``x.__globals__``."""
    node = visit.node
    assert isinstance(node, ast.MatchClass)
    for attribute in node.kwd_attrs:
        if escape(attribute):
            yield ValidationIssue(f"matches attribute {attribute}, an introspection escape", visit.line)


def escaping_declaration(judging: Judging, visit: Visit) -> Iterator[ValidationIssue]:
    node = visit.node
    assert isinstance(node, (ast.Global, ast.Nonlocal))
    for name in node.names:
        if name.startswith("__") and name not in ALLOWED_DUNDERS:
            yield ValidationIssue(f"declares {name}, an introspection escape", visit.line)


def escaping_attribute(judging: Judging, visit: Visit) -> Iterator[ValidationIssue]:
    node, parent = visit.node, visit.parent
    assert isinstance(node, ast.Attribute)
    type_name = node.attr == "__class__" and isinstance(parent, ast.Attribute) and parent.value is node \
        and parent.attr in ("__name__", "__qualname__") and isinstance(node.ctx, ast.Load)
    if escape(node.attr) and not type_name:
        yield ValidationIssue(f"accesses {node.attr}, an introspection escape", node.lineno)


def escaping_name(judging: Judging, visit: Visit) -> Iterator[ValidationIssue]:
    node = visit.node
    assert isinstance(node, ast.Name)
    if node.id.startswith("__") and node.id not in ALLOWED_DUNDERS:
        yield ValidationIssue(f"uses {node.id}, an introspection escape", node.lineno)


def escaping_call(judging: Judging, visit: Visit) -> Iterator[ValidationIssue]:
    """A format string whose fields walk its arguments, and ``getattr(x, '__globals__')``."""
    node = visit.node
    assert isinstance(node, ast.Call)
    callee = node.func
    if isinstance(callee, ast.Attribute) and callee.attr in ("format", "format_map"):
        template = fold(callee.value, judging.callee_name)
        if isinstance(template, str) and format_walks(template):
            yield ValidationIssue("a format string that reads attributes or items of its arguments "
                                  "('{0.attr}', '{0[key]}'): an introspection escape", node.lineno)
    found = judging.attribute_call(node)
    if found is not None and found[1] is not None and escape(found[1]):
        yield ValidationIssue(f"{found[0]}() of {found[1]}, an introspection escape", node.lineno)


def format_walks(template: str) -> bool:
    """Whether a format string's replacement fields walk attributes or items (``'{0.__init__}'``)."""
    try:
        fields = [f for _, f, spec, _ in string.Formatter().parse(template) if f] + \
            [f for _, _, spec, _ in string.Formatter().parse(template) if spec
             for _, f, _, _ in string.Formatter().parse(spec) if f]
    except ValueError:
        return True  # not a valid template: it cannot be judged
    return any("." in f or "[" in f for f in fields)


def stdlib_internals(judging: Judging, visit: Visit, reading: Reading) -> Iterator[ValidationIssue]:
    ref = reading.ref
    if reading.resolution is None:
        return
    private = next((a for a in ref.attrs if a.startswith("_") and a not in ALLOWED_DUNDERS), None)
    if private and ref.root in STDLIB | {"os", "sys"}:
        yield ValidationIssue(f"uses {ref.dotted}: private names of the standard library are off limits",
                              visit.line)
