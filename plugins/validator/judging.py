"""What the checks know while they judge one proposal, and the look-ups they share.

:class:`Judging` holds one validation's facts: the proposal's and the baseline's scopes, the
resolver, the frozen code's names, the directories and environment variables the baseline
uses, and the tables' entries spelled every way the script can reach them. Its look-ups answer
"which library objects may this expression denote, and how is each spelled?" once per name; the
checks in ``checks/`` ask them, and :mod:`arrl.plugins.validator.checker` hands each check the
:class:`Visit` (a node of an untrusted statement) or :class:`Reading` (one object a name read
denotes) it judges.
"""

from __future__ import annotations

import ast
from collections import Counter
from collections.abc import Sequence

import attrs

from .constant_folding import fold
from .name_resolver import Resolution
from .script_scope import Ref, Scope
from .tables import (
    ALLOWED_NAMES,
    ATTRIBUTE_FUNCTIONS,
    FORBIDDEN_CALLS,
    IMPORTABLE,
    OPENERS,
    SAFE_FORMS,
    STDOUT_WRITERS,
    STRING_LOOKUPS,
    forbidden,
)
from .workspace_resolver import WorkspaceResolver


class Denied(str):
    """Why a name is refused by its spelling alone (``uses os.system: ...``): such a name is never
    imported to find out more. A ``str``, like every other reason a name has no resolution."""


@attrs.frozen
class Visit:
    """One node of an untrusted statement, as the checks see it."""

    node: ast.AST
    parent: ast.AST | None
    statement: ast.stmt
    # What the statement's checks reported already (a path or string named twice is one issue).
    paths: set[str]
    strings: set[str]

    @property
    def line(self) -> int:
        return getattr(self.node, "lineno", self.statement.lineno)

    @property
    def called(self) -> bool:
        """Whether the node is what its parent calls (``f`` in ``f(x)``), not an argument or value."""
        return isinstance(self.parent, ast.Call) and self.parent.func is self.node


@attrs.frozen
class Reading:
    """One library object a name or attribute chain that new code reads may denote."""

    ref: Ref
    spellings: list[str]  # as written, from its last module, where defined
    resolution: Resolution | None  # None: refused or unresolved (Judging.resolution says why)


class Judging:
    """The facts of one validation and the name look-ups every check shares."""

    def __init__(self, scope: Scope, baseline_scope: Scope, resolver: WorkspaceResolver, frozen_names: set[str],
                 frozen_reads: set[str], frozen_modules: set[str], reserved: bool, readable: list[str],
                 baseline_env: set[str], tree: ast.Module | None = None, relative_readable: Sequence[str] = ()) -> None:
        self.scope = scope
        self.relative_readable = list(relative_readable)
        self.parents: dict[ast.AST, ast.AST] = {}
        self.loads: dict[str, list[ast.Name]] = {}
        for parent in ast.walk(tree) if tree is not None else ():
            for child in ast.iter_child_nodes(parent):
                self.parents[child] = parent
            if isinstance(parent, ast.Name) and isinstance(parent.ctx, ast.Load):
                self.loads.setdefault(parent.id, []).append(parent)
        self.baseline_scope = baseline_scope
        self.resolver = resolver
        self.frozen_names = frozen_names
        self.frozen_reads = frozen_reads
        self.frozen_modules = frozen_modules
        self.frozen = reserved
        self.readable = readable
        self.baseline_env = baseline_env
        # Only libraries the script imports are imported to learn where table entries are defined.
        roots = {m.split(".")[0] for m in scope.imported} - resolver.workspace_modules
        self.forbidden_calls = resolver.known(FORBIDDEN_CALLS, roots)
        self.allowed = resolver.known(ALLOWED_NAMES, roots)
        self.stdout_writers = resolver.known(STDOUT_WRITERS, roots)
        self.openers = resolver.known(OPENERS, roots)
        self.lookups = resolver.known(STRING_LOOKUPS, roots)
        self.resolved: dict[Ref, Resolution | str] = {}

    def resolution(self, ref: Ref) -> Resolution | str:
        """What ``ref`` resolves to, or why it does not (a :class:`Denied` when refused as spelled,
        an empty string for the workspace's own objects)."""
        if ref not in self.resolved:
            # What is refused by its spelling is never imported to find out more.
            spelled = forbidden(ref.dotted) if ref.dotted not in IMPORTABLE | SAFE_FORMS.keys() \
                and ref.module != "builtins" else None
            if spelled:
                self.resolved[ref] = Denied(f"uses {ref.dotted}: {spelled}")
            elif self.resolver.is_workspace(ref):
                # The workspace's own module is never imported: its source says what the name is.
                target = self.resolver.through_workspace(ref)
                self.resolved[ref] = target if isinstance(target, str) else \
                    "" if target is None else self.resolution(target)
            else:
                self.resolved[ref] = self.resolver.resolve(ref)
        return self.resolved[ref]

    def readings(self, node: ast.expr) -> list[Reading]:
        """For each library object ``node`` may denote: its ref, every spelling of it (as
        written, from its last module, where defined) and its resolution."""
        found = []
        for ref in sorted(self.scope.refs_of(node), key=lambda r: r.dotted):
            resolution = self.resolution(ref)
            spellings = [ref.dotted if ref.module != "builtins" else ".".join(ref.attrs)]
            if isinstance(resolution, Resolution):
                spellings += [n for n in (resolution.path_name, resolution.definition) if n]
                if self.resolver.is_workspace(ref):  # reached through a workspace module
                    spellings.append(".".join((resolution.module, *resolution.attrs)))
            found.append(Reading(ref, spellings, resolution if isinstance(resolution, Resolution) else None))
        return found

    def dotted(self, node: ast.expr) -> set[str]:
        return {name for reading in self.readings(node) for name in reading.spellings}

    def is_in(self, node: ast.expr, table: dict[str, str] | frozenset[str]) -> str | None:
        for name in self.dotted(node):
            if name in table:
                return table[name] if isinstance(table, dict) else name
        return None

    def callee_name(self, node: ast.expr) -> str | None:
        names = self.dotted(node)
        for preferred in sorted(names, key=len):
            return preferred
        return None

    def same_object(self, ref: Ref, others: set[Ref]) -> bool:
        if ref in others:
            return True
        mine = self.resolution(ref)
        for other in others:
            theirs = self.resolution(other)
            if isinstance(mine, Resolution) and isinstance(theirs, Resolution) and \
                    (mine.path_name, mine.definition) == (theirs.path_name, theirs.definition):
                return True
        return False

    def attribute_call(self, call: ast.Call) -> tuple[str, str | None] | None:
        """For a call of the builtin getattr, setattr, hasattr or delattr: the function's name and
        the attribute it names, folded from constants (None: computed); else None."""
        callee = call.func
        if not (isinstance(callee, ast.Name) and callee.id in ATTRIBUTE_FUNCTIONS
                and self.scope.is_builtin(callee, callee.id)):
            return None
        attribute = fold(call.args[1], self.callee_name) if len(call.args) >= 2 else None
        return callee.id, attribute if isinstance(attribute, str) else None


def alias_position(node: ast.expr, parent: ast.AST | None) -> bool:
    """Whether a module may stand here: as the value of a plain alias (``t = torch``)."""
    if isinstance(parent, ast.Assign) and parent.value is node:
        return all(isinstance(t, ast.Name) for t in parent.targets)
    if isinstance(parent, (ast.AnnAssign, ast.NamedExpr)) and parent.value is node:
        return isinstance(parent.target, ast.Name)
    return False


def inline_attribute_names(tree: ast.Module) -> None:
    """``getattr(nn, ACTIVATION)`` where ``ACTIVATION`` is bound once, at module level, to a constant
    string: the constant, so the lookup is resolved and judged like ``getattr(nn, 'GELU')``."""
    bindings: Counter[str] = Counter()
    values: dict[str, ast.expr] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            bindings[node.id] += 1
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bindings[node.name] += 1
        elif isinstance(node, ast.arg):
            bindings[node.arg] += 1
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            bindings.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, (ast.ExceptHandler, ast.MatchAs, ast.MatchStar)) and node.name:
            bindings[node.name] += 1
        elif isinstance(node, ast.MatchMapping) and node.rest:
            bindings[node.rest] += 1
        elif isinstance(node, (ast.Global, ast.Nonlocal)):
            bindings.update(node.names * 2)
    for statement in tree.body:
        if isinstance(statement, ast.Assign) and len(statement.targets) == 1 \
                and isinstance(statement.targets[0], ast.Name):
            values[statement.targets[0].id] = statement.value
        elif isinstance(statement, ast.AnnAssign) and statement.value is not None \
                and isinstance(statement.target, ast.Name):
            values[statement.target.id] = statement.value
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ATTRIBUTE_FUNCTIONS \
                and len(node.args) >= 2 and isinstance(node.args[1], ast.Name):
            name = node.args[1].id
            if bindings[name] == 1 and name in values:
                value = fold(values[name], lambda n: n.id if isinstance(n, ast.Name) and n.id in ("chr", "str")
                             and bindings[n.id] == 0 else None)
                if isinstance(value, str):
                    node.args[1] = ast.copy_location(ast.Constant(value), node.args[1])
