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
from collections.abc import Iterable

import attrs

from .constant_folding import fold

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
        # Names that may hold a library object kept by value (`layers = [nn.Linear]`, `cls = type(x)`,
        # `for c in (torch.Tensor,)`), and functions that assign attributes of their arguments.
        self.holders: set[str] = set()
        self._follow_holders(tree)
        self.patchers: set[str] = {name for name, node in _functions(tree) if _patches_an_argument(node)}

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

    def _follow_holders(self, tree: ast.Module) -> None:
        bindings: list[tuple[ast.expr, ast.expr]] = []
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign):
                bindings += [(t, node.value) for t in node.targets]
            elif isinstance(node, (ast.AnnAssign, ast.NamedExpr, ast.AugAssign)) and node.value is not None:
                bindings.append((node.target, node.value))
            elif isinstance(node, (ast.For, ast.comprehension)):
                bindings.append((node.target, node.iter))
            elif isinstance(node, ast.withitem) and node.optional_vars is not None:
                bindings.append((node.optional_vars, node.context_expr))
        for _ in range(8):
            before = len(self.holders)
            for target, value in bindings:
                if self.holds(value):
                    self.holders.update(n.id for n in ast.walk(target) if isinstance(n, ast.Name))
            if len(self.holders) == before:
                break

    def holds(self, node: ast.expr) -> bool:
        """Whether ``node``'s value is, or contains, a library object itself (not something a
        library call returned): patching what it holds patches the library."""
        if isinstance(node, ast.Name):
            return node.id in self.holders or bool(self.refs_of(node))
        if isinstance(node, ast.Attribute):
            return bool(self.refs_of(node)) or self.holds(node.value)
        if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
            return any(self.holds(e) for e in node.elts)
        if isinstance(node, ast.Dict):
            return any(self.holds(e) for e in [*node.values, *(k for k in node.keys if k is not None)])
        if isinstance(node, (ast.ListComp, ast.SetComp, ast.GeneratorExp)):
            return self.holds(node.elt) or any(self.holds(g.iter) for g in node.generators)
        if isinstance(node, ast.DictComp):
            return self.holds(node.key) or self.holds(node.value)
        if isinstance(node, (ast.Starred, ast.NamedExpr)):
            return self.holds(node.value)
        if isinstance(node, ast.Subscript):
            return self.holds(node.value)
        if isinstance(node, ast.IfExp):
            return self.holds(node.body) or self.holds(node.orelse)
        if isinstance(node, ast.BoolOp):
            return any(self.holds(v) for v in node.values)
        if isinstance(node, ast.Call):
            if self.is_builtin(node.func, "type") and len(node.args) == 1:
                return True
            if self.is_builtin(node.func, *_PASS_THROUGH):
                return any(self.holds(a) for a in node.args)
            name = constant_attribute(node)
            return name is not None and self.holds(node.args[0])
        return False

    def is_builtin(self, node: ast.expr, *names: str) -> bool:
        return any(Ref("builtins", (name,)) in self.refs_of(node) for name in names)


def _pairs(target: ast.expr, value: ast.expr) -> Iterable[tuple[ast.expr, ast.expr]]:
    if isinstance(target, ast.Name):
        yield target, value
    elif isinstance(target, (ast.Tuple, ast.List)) and isinstance(value, (ast.Tuple, ast.List)) \
            and len(target.elts) == len(value.elts):
        for t, v in zip(target.elts, value.elts):
            yield from _pairs(t, v)


# Builtins whose result holds what their arguments hold.
_PASS_THROUGH = ("list", "tuple", "set", "dict", "iter", "next", "reversed", "sorted", "zip", "enumerate", "min",
                 "max", "filter", "frozenset")


def _functions(tree: ast.Module) -> Iterable[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda]]:
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield node.name, node
        elif isinstance(node, ast.Assign) and isinstance(node.value, ast.Lambda):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    yield target.id, node.value


def _patches_an_argument(function: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> bool:
    """Whether the function assigns attributes of one of its parameters (``def f(c): c.item = ...``)."""
    arguments = function.args
    params = {a.arg for a in [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs]}
    params |= {a.arg for a in (arguments.vararg, arguments.kwarg) if a is not None}
    for node in ast.walk(function):
        target: ast.expr | None = None
        if isinstance(node, ast.Attribute) and isinstance(node.ctx, (ast.Store, ast.Del)):
            target = node.value
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("setattr", "delattr") \
                and node.args:
            target = node.args[0]
        while isinstance(target, (ast.Attribute, ast.Subscript)):
            target = target.value
        if isinstance(target, ast.Name) and target.id in params:
            return True
    return False
