"""What one walk over a script gathers for the extraction to weigh: the literals it assigns, the
arguments of well-known calls, choices written as code, and the facts later rules need (how
classes are built, what strings a name is compared with, how functions are called)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs
import libcst as cst

from .names import normal_name
from .syntax import literal


@attrs.define
class Assignment:
    """A literal the script assigns, with the node to replace when it is edited."""

    path: str
    key: str  # the last part of the path, normalised, for alias matching
    value: Any
    node: cst.BaseExpression  # or, for a config file's value, its arrl.script.configs.Scalar
    line: int
    style: str
    order: int  # position in the file, for "last assignment wins"
    aliasable: bool = True  # False for fields of classes that do not look like configs


@attrs.define
class CallSite:
    """A schema field's value as an argument of a well-known call (or what that argument names)."""

    field: str
    node: cst.BaseExpression  # the argument value, or the name's assigned literal when traced
    value: Any
    line: int
    path: str
    order: int
    style: str = "call"
    note: str = ""


@attrs.define
class CodeChoice:
    """A choice written as code: a call or reference whose callee names the value."""

    field: str
    value: str
    node: cst.Call | cst.Attribute | cst.Name  # the call (or the callee) to rewrite
    line: int
    path: str
    switchable: bool


# How a class is built: its name, the keywords passed, whether ``**`` is passed, the line.
Instantiation = tuple[str, dict[str, cst.BaseExpression], bool, int]
# A call by name: how many positional arguments, which keywords, whether any * or **.
CallShape = tuple[int, set[str], bool]


@attrs.define
class Findings:
    """Everything the style readers record, in the order the walk meets it."""

    module: cst.Module
    line_of: Callable[[cst.CSTNode], int]  # a node's first line (the walk's position metadata)
    # The literals of every style (constant, dict, class, argparse, default, attribute, call),
    # and the module-level constants by name, the last one so far (what a name passed to a call means).
    assignments: list[Assignment] = attrs.Factory(list)
    module_literals: dict[str, Assignment] = attrs.Factory(dict)
    # Arguments of well-known calls (calls), and those passing an activation as a string (with the callee).
    calls: list[CallSite] = attrs.Factory(list)
    string_kwargs: list[tuple[CallSite, str]] = attrs.Factory(list)
    code: list[CodeChoice] = attrs.Factory(list)  # choices written as code (code)
    # Deeper reading: calls with keywords (class instantiations), module-level instances
    # (H = HParams()), config attributes passed to calls (nn.Dropout(H.p_drop)), and
    # string dispatch (if cfg.opt == "adam").
    instantiations: list[Instantiation] = attrs.Factory(list)
    instances: dict[str, cst.Call] = attrs.Factory(dict)
    attribute_uses: list[tuple[str, str, str, str, int]] = attrs.Factory(list)  # field, base, attr, label, order
    comparisons: list[tuple[str, str]] = attrs.Factory(list)  # (compared name, string)
    argparse_choices: dict[str, tuple[str, ...]] = attrs.Factory(dict)  # flag -> its choices=[...]
    argparse_flags: dict[str, tuple[str, ...]] = attrs.Factory(dict)  # long flag -> all its flags (-l, --lr)
    string_tables: dict[str, list[str]] = attrs.Factory(dict)  # module-level dicts keyed by strings: name -> keys
    string_lists: dict[str, list[str]] = attrs.Factory(dict)  # module-level lists and tuples of strings
    # An entry point's parameters (``main(lr=)`` -> function, position or None for keyword-only)
    # and every call by name (positional count, keywords, any * or **): a default some call
    # replaces is not the setting.
    entry_params: dict[str, tuple[str, int | None]] = attrs.Factory(dict)
    calls_by_name: dict[str, list[CallShape]] = attrs.Factory(dict)
    _order: int = 0

    def next_order(self) -> int:
        self._order += 1
        return self._order

    def add(self, path: str, key: str, node: cst.BaseExpression, style: str,
            aliasable: bool = True) -> Assignment | None:
        """Record ``node`` as the literal ``path`` assigns, if it is one."""
        value = literal(self.module, node)
        if value is None:
            return None
        assignment = Assignment(path, normal_name(key), value, node, self.line_of(node), style, self.next_order(),
                                aliasable)
        self.assignments.append(assignment)
        if style == "constant":
            self.module_literals[path] = assignment
        return assignment
