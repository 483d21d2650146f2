"""The walk over a proposal's untrusted statements, asking the registered checks at each point.

A statement of the proposal is trusted only if the baseline holds the same statement (compared
as syntax without positions, so moving or re-indenting it is fine). Every other statement is
walked node by node, its nested statements on their own; each node is judged at the points
:class:`~arrl.plugins.validator.registry.Point` names, by the judges the table registers there.
Which check stops which threat is said in the table alone; the walk only says where it asks.
"""

from __future__ import annotations

import ast
from collections import Counter
from collections.abc import Generator, Iterator
from typing import Any

from arrl.records import ValidationIssue

from .judging import Judging, Visit
from .registry import Judge, Point
from .script_scope import Ref

Verdict = Generator[ValidationIssue, None, bool]


def run(judges: tuple[Judge, ...], *given: Any) -> Verdict:
    """Every judge's issues, in order; True when a final judge refused (judge no further)."""
    for judge in judges:
        refused = False
        for issue in judge.function(*given):
            refused = True
            yield issue
        if refused and judge.final:
            return True
    return False


def first(judges: tuple[Judge, ...], *given: Any) -> Verdict:
    """The issues of the first judge that refuses; True when one did."""
    for judge in judges:
        issues = list(judge.function(*given))
        if issues:
            yield from issues
            return True
    return False


def untrusted(tree: ast.Module, baseline_tree: ast.Module) -> Iterator[ast.stmt]:
    """The proposal's statements the baseline does not hold (each of the baseline's vouches for one)."""
    trusted = Counter(_signature(s) for s in _statements(baseline_tree))
    for statement in _statements(tree):
        signature = _signature(statement)
        if trusted[signature] > 0:
            trusted[signature] -= 1
            continue
        yield statement


def _signature(node: ast.stmt) -> str:
    """The statement without its nested bodies and positions, so an edit inside a function
    leaves the function's other statements trusted."""
    fields: dict[str, Any] = {}
    for name, value in ast.iter_fields(node):
        if isinstance(value, list) and value and isinstance(value[0], ast.stmt):
            fields[name] = []
        else:
            fields[name] = value
    clone = type(node)(**fields)
    return ast.dump(clone, include_attributes=False)


def _statements(tree: ast.AST) -> Iterator[ast.stmt]:
    for node in ast.walk(tree):
        if isinstance(node, ast.stmt):
            yield node


def own_nodes(statement: ast.stmt) -> Iterator[tuple[ast.AST, ast.AST | None]]:
    """(node, parent) of ``statement`` outside its nested statements (checked on their own)."""
    stack: list[tuple[ast.AST, ast.AST | None]] = [(statement, None)]
    while stack:
        node, parent = stack.pop()
        yield node, parent
        stack.extend((c, node) for c in ast.iter_child_nodes(node) if not isinstance(c, ast.stmt))


# The point at which each kind of node is judged, after NODE (imports and reads have their own).
_POINTS: dict[type[ast.AST], Point] = {
    ast.MatchClass: Point.PATTERN, ast.Global: Point.DECLARATION, ast.Nonlocal: Point.DECLARATION,
    ast.Subscript: Point.SUBSCRIPT, ast.Call: Point.CALL, ast.FunctionDef: Point.FUNCTION, ast.ClassDef: Point.CLASS,
}
# Nodes that may hold or build a string: judged for code and paths in them.
_VALUES = (ast.Constant, ast.BinOp, ast.JoinedStr, ast.Call, ast.Subscript)


class Checker:
    """Judges the untrusted statements of one proposal with the judges of each point."""

    def __init__(self, judging: Judging, judges: dict[Point, tuple[Judge, ...]]) -> None:
        self.judging = judging
        self.judges = judges

    def statement(self, statement: ast.stmt) -> Iterator[ValidationIssue]:
        paths: set[str] = set()
        strings: set[str] = set()
        for node, parent in own_nodes(statement):
            yield from self._node(Visit(node, parent, statement, paths, strings))

    def _node(self, visit: Visit) -> Iterator[ValidationIssue]:
        node, judging = visit.node, self.judging
        if (yield from run(self.judges[Point.NODE], judging, visit)):
            return
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield from self._import(visit, node)
        elif isinstance(node, (ast.Name, ast.Attribute)):
            point = Point.NAME if isinstance(node, ast.Name) else Point.ATTRIBUTE
            if not (yield from run(self.judges[point], judging, visit)) and self._read(node, visit.parent):
                yield from self._readings(visit, node)
        elif type(node) in _POINTS:
            yield from run(self.judges[_POINTS[type(node)]], judging, visit)
        if isinstance(node, _VALUES):
            yield from run(self.judges[Point.VALUE], judging, visit)

    def _import(self, visit: Visit, node: ast.Import | ast.ImportFrom) -> Iterator[ValidationIssue]:
        if (yield from run(self.judges[Point.IMPORT], self.judging, visit)):
            return
        if isinstance(node, ast.Import):
            refs = [Ref(a.name) for a in node.names]
        else:
            refs = [Ref(node.module or "", (a.name,)) for a in node.names]
        for ref in refs:
            yield from first(self.judges[Point.IMPORTED], self.judging, visit, ref)
        yield from run(self.judges[Point.BOUND], self.judging, visit)

    @staticmethod
    def _read(node: ast.Name | ast.Attribute, parent: ast.AST | None) -> bool:
        """Whether ``node`` is a whole name or attribute chain that new code reads (a chain is
        judged whole, at its last attribute)."""
        return isinstance(node.ctx, ast.Load) and not (isinstance(parent, ast.Attribute) and parent.value is node)

    def _readings(self, visit: Visit, node: ast.expr) -> Iterator[ValidationIssue]:
        for reading in self.judging.readings(node):
            if reading.ref.module == "builtins":
                continue  # judged by name (NAME)
            if (yield from first(self.judges[Point.READ], self.judging, visit, reading)):
                return
