"""What each name of a script stands for, read from its syntax alone.

A name bound by an import stands for a library object: ``import torch.nn.functional as F`` makes
``F`` the module ``torch.nn.functional``, ``from torch.serialization import load`` makes ``load``
the attribute ``load`` of ``torch.serialization``. A plain assignment of such a name, or of an
attribute chain rooted at one, makes an alias (``t = torch``, ``F2 = torch.nn.functional``,
``fn = getattr(torch, "load")``); aliases of aliases are followed. A name no statement binds is a
builtin. The analysis ignores scopes on purpose: a name bound to a library object anywhere is
treated as that object everywhere, which can only make the validator stricter.
"""

from __future__ import annotations

import ast
import builtins
from typing import Iterable

import attrs

from ._constant_folding import fold

BUILTIN_NAMES = frozenset(dir(builtins))


@attrs.frozen
class Ref:
    """An attribute chain on an imported module: ``Ref("torch", ("nn", "functional"))``."""

    module: str
    attrs: tuple[str, ...] = ()

    def extend(self, *names: str) -> Ref:
        return Ref(self.module, self.attrs + names)

    @property
    def dotted(self) -> str:
        return ".".join((self.module, *self.attrs))

    @property
    def root(self) -> str:
        return self.module.split(".")[0]


def constant_attribute(call: ast.Call) -> str | None:
    """The name of ``getattr(x, "name")`` / ``getattr(x, "sys" + "tem", default)``: folded from
    constants (builtins like ``chr`` included), else None."""
    if not (isinstance(call.func, ast.Name) and call.func.id == "getattr" and len(call.args) >= 2):
        return None
    name = fold(call.args[1], lambda n: n.id if isinstance(n, ast.Name) and n.id in BUILTIN_NAMES else None)
    return name if isinstance(name, str) else None


class Scope:
    def __init__(self, tree: ast.Module) -> None:
        self.refs: dict[str, set[Ref]] = {}
        self.bound: set[str] = set()
        self.imported: set[str] = set()  # every module an import statement names
        for node in ast.walk(tree):
            self._bind(node)
        self._follow_aliases(tree)

    def _add(self, name: str, ref: Ref) -> None:
        self.refs.setdefault(name, set()).add(ref)

    def _bind(self, node: ast.AST) -> None:
        if isinstance(node, ast.Import):
            for alias in node.names:
                self.imported.add(alias.name)
                if alias.asname:
                    self._add(alias.asname, Ref(alias.name))
                else:
                    self._add(alias.name.split(".")[0], Ref(alias.name.split(".")[0]))
        elif isinstance(node, ast.ImportFrom):
            module = "." * node.level + (node.module or "")
            self.imported.add(module)
            for alias in node.names:
                self._add(alias.asname or alias.name, Ref(module, (alias.name,)))
        elif isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            self.bound.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            self.bound.add(node.name)
        elif isinstance(node, ast.arg):
            self.bound.add(node.arg)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            self.bound.add(node.name)
        elif isinstance(node, (ast.MatchAs, ast.MatchStar)) and node.name:
            self.bound.add(node.name)
        elif isinstance(node, ast.MatchMapping) and node.rest:
            self.bound.add(node.rest)

    def _follow_aliases(self, tree: ast.Module) -> None:
        pairs: list[tuple[ast.expr, ast.expr]] = []
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign):
                pairs += [p for target in node.targets for p in _pairs(target, node.value)]
            elif isinstance(node, (ast.AnnAssign, ast.NamedExpr)) and node.value is not None:
                pairs += _pairs(node.target, node.value)
        for _ in range(8):  # aliases of aliases, to a fixed point
            changed = False
            for target, value in pairs:
                assert isinstance(target, ast.Name)
                for ref in self.refs_of(value):
                    if ref not in self.refs.get(target.id, set()):
                        self._add(target.id, ref)
                        changed = True
            if not changed:
                break

    def refs_of(self, node: ast.expr) -> set[Ref]:
        """The library objects ``node`` may denote (empty: the script's own object, or unknown)."""
        if isinstance(node, ast.Name):
            if node.id in self.refs:
                return self.refs[node.id]
            if node.id not in self.bound and node.id in BUILTIN_NAMES:
                return {Ref("builtins", (node.id,))}
            return set()
        if isinstance(node, ast.Attribute):
            return {ref.extend(node.attr) for ref in self.refs_of(node.value)}
        if isinstance(node, ast.Call):
            name = constant_attribute(node)
            if name is not None and self.refs_of(node.func) == {Ref("builtins", ("getattr",))}:
                return {ref.extend(name) for ref in self.refs_of(node.args[0])}
        return set()

    def is_builtin(self, node: ast.expr, *names: str) -> bool:
        return any(Ref("builtins", (name,)) in self.refs_of(node) for name in names)


def _pairs(target: ast.expr, value: ast.expr) -> Iterable[tuple[ast.expr, ast.expr]]:
    if isinstance(target, ast.Name):
        yield target, value
    elif isinstance(target, (ast.Tuple, ast.List)) and isinstance(value, (ast.Tuple, ast.List)) \
            and len(target.elts) == len(value.elts):
        for t, v in zip(target.elts, value.elts):
            yield from _pairs(t, v)
