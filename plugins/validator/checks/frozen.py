"""Frozen evaluation code and the stdout it reports on.

Names the frozen regions define or read (``evaluate``, ``print``, ``F``) may not be rebound, by an
assignment, an import, a ``def`` or a ``class``: the frozen code would call the proposal's. With
frozen code or a trusted ``evaluate`` command, stdout is where metric lines are read, so new
code may not write to it by any route it can be seen to take (``print``, ``sys.stdout``,
``pprint``, hooks on every module); ``print(..., file=sys.stderr)`` is fine.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from typing import TYPE_CHECKING

from arrl.records import ValidationIssue

from ..script_scope import Ref, Scope

if TYPE_CHECKING:
    from ..judging import Judging, Reading, Visit


def bound_names(statements: list[ast.stmt]) -> set[str]:
    """Module-level names the statements bind (a function's locals are its own business)."""
    names: set[str] = set()
    for statement in statements:
        if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(statement.name)
        elif isinstance(statement, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in statement.names)
        elif isinstance(statement, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = statement.targets if isinstance(statement, ast.Assign) else [statement.target]
            for target in targets:
                names.update(n.id for n in ast.walk(target) if isinstance(n, ast.Name))
    return names


def read_names(statements: list[ast.stmt], scope: Scope) -> set[str]:
    """Names the statements read that stand for builtins or imported library objects: rebinding
    one (``print = ...``, ``F = fake``) changes what the frozen code does."""
    names: set[str] = set()
    for statement in statements:
        for node in ast.walk(statement):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and scope.refs_of(node):
                names.add(node.id)
    return names


def _frozen(judging: Judging, name: str) -> bool:
    return name in judging.frozen_names or name in judging.frozen_reads


# -- frozen names -------------------------------------------------------------------------
def rebound_by_import(judging: Judging, visit: Visit) -> Iterator[ValidationIssue]:
    node = visit.node
    assert isinstance(node, (ast.Import, ast.ImportFrom))
    if isinstance(node, ast.ImportFrom) and node.level:
        return  # a relative import is refused whole (names-resolve)
    for alias in node.names:
        bound = (alias.asname or alias.name).split(".")[0]
        if isinstance(node, ast.Import):
            ref = Ref(alias.name) if alias.asname else Ref(bound)
        else:
            ref = Ref(node.module or "", (alias.name,))
        if judging.same_object(ref, judging.baseline_scope.refs.get(bound, set())):
            continue  # the same binding the baseline makes, again (perhaps spelled differently)
        if _frozen(judging, bound):
            yield ValidationIssue(f"rebinds {bound!r}, which frozen evaluation code uses", node.lineno)


def rebound_name(judging: Judging, visit: Visit) -> Iterator[ValidationIssue]:
    node = visit.node
    assert isinstance(node, ast.Name)
    if isinstance(node.ctx, (ast.Store, ast.Del)) and _frozen(judging, node.id):
        yield ValidationIssue(f"rebinds {node.id!r}, which frozen evaluation code uses", node.lineno)


def redefined(judging: Judging, visit: Visit) -> Iterator[ValidationIssue]:
    node = visit.node
    assert isinstance(node, (ast.FunctionDef, ast.ClassDef))
    if _frozen(judging, node.name):
        yield ValidationIssue(f"redefines {node.name!r}, which frozen evaluation code uses", node.lineno)


# -- stdout -------------------------------------------------------------------------------
def stdout_read(judging: Judging, visit: Visit, reading: Reading) -> Iterator[ValidationIssue]:
    spellings = reading.spellings
    if reading.resolution is None or not judging.frozen:
        return
    flush = "sys.stdout.flush" in spellings and visit.called
    if not flush and any(n.startswith(("sys.stdout", "sys.__stdout__")) for n in spellings):
        yield ValidationIssue(f"uses {reading.ref.dotted}, where only the frozen evaluation code may report "
                              "metrics", visit.line)


def stdout_call(judging: Judging, visit: Visit) -> Iterator[ValidationIssue]:
    node = visit.node
    assert isinstance(node, ast.Call)
    if not judging.frozen:
        return
    callee = node.func
    writer = judging.is_in(callee, judging.stdout_writers)
    if writer:
        yield ValidationIssue(f"calls {writer}, which writes to stdout, where "
                              "only the frozen evaluation code may report metrics", node.lineno)
    if any("register_module_" in n or n.endswith("register_global_hook") for n in judging.dotted(callee)):
        yield ValidationIssue("registers a hook on every module, including the frozen evaluation's",
                              node.lineno)
    if isinstance(callee, ast.Name) and callee.id == "print" and judging.scope.is_builtin(callee, "print"):
        # Metric lines are read from stdout only: new code may print to stderr.
        target = next((k.value for k in node.keywords if k.arg == "file"), None)
        if target is None or "sys.stderr" not in judging.dotted(target):
            yield ValidationIssue("prints to stdout, where only the frozen evaluation code may report "
                                  "metrics; print with file=sys.stderr instead", node.lineno)
