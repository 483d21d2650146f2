"""Names must resolve: every name and attribute chain new code uses is judged by the object it
denotes, so one that does not resolve (a library the interpreter lacks, a member the installed
version does not have, a relative import, a computed callee), or a module passed around as a
value (whose attributes would then be reached unseen), is refused rather than guessed at."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from typing import TYPE_CHECKING

from arrl.records import ValidationIssue

from ..judging import Denied, alias_position
from ..script_scope import Ref
from .denied import import_denial

if TYPE_CHECKING:
    from ..judging import Judging, Reading, Visit


def relative_import(judging: Judging, visit: Visit) -> Iterator[ValidationIssue]:
    node = visit.node
    if isinstance(node, ast.ImportFrom) and node.level:
        yield ValidationIssue("relative imports are not allowed in proposed code", node.lineno)


def imported_resolves(judging: Judging, visit: Visit, ref: Ref) -> Iterator[ValidationIssue]:
    if import_denial(ref) is not None:
        return  # refused by its spelling (denied-names), so never imported to resolve it
    resolution = judging.resolution(ref)
    if isinstance(resolution, str) and resolution and not isinstance(resolution, Denied):
        yield ValidationIssue(str(resolution), visit.line)


def read_resolves(judging: Judging, visit: Visit, reading: Reading) -> Iterator[ValidationIssue]:
    if reading.resolution is None:
        reason = judging.resolution(reading.ref)
        if reason and not isinstance(reason, Denied):
            yield ValidationIssue(str(reason), visit.line)


def callee_resolves(judging: Judging, visit: Visit) -> Iterator[ValidationIssue]:
    """A method of a computed value is judged by its name ((loss / n).backward()); calling a
    computed value itself ((a or b)(), (lambda: ...)()) cannot be resolved."""
    node = visit.node
    assert isinstance(node, ast.Call)
    if not isinstance(node.func, (ast.Name, ast.Attribute, ast.Subscript, ast.Call)):
        yield ValidationIssue(f"calls a computed {type(node.func).__name__.lower()}, which cannot be resolved",
                              node.lineno)


def module_as_value(judging: Judging, visit: Visit, reading: Reading) -> Iterator[ValidationIssue]:
    node, parent, resolution = visit.node, visit.parent, reading.resolution
    assert isinstance(node, ast.expr)
    final = resolution.final if resolution is not None else None
    inspected = isinstance(parent, ast.Call) and parent.args[:1] == [node] and \
        judging.scope.is_builtin(parent.func, "hasattr", "getattr")
    if final is not None and final.kind == "module" and not inspected and not alias_position(node, parent):
        assert resolution is not None
        yield ValidationIssue(f"uses module {resolution.path_name} as a value; use its attributes directly",
                              visit.line)
