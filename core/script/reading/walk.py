"""One walk over the script's tree that hands each statement and call to the style readers,
keeping track of the scope it is in. Which reader sees which node is written here once:

- an assignment to a name: :mod:`.constants` at module level (a dict through :mod:`.dicts`),
  :mod:`.classes` directly in a class body; an annotated one likewise, after ``field(default=)``;
- an assignment to an attribute: :mod:`.attributes`;
- a ``def``: :mod:`.function_defaults`; a ``class``: :mod:`.classes` says whether it is a config;
- a call: :mod:`.function_defaults` (how functions are called), :mod:`.classes` (how classes are
  built), :mod:`.calls` (configuration calls' keywords), :mod:`.argparse_defaults`, :mod:`.code`
  and :mod:`.calls` (well-known calls' arguments), unless the scope measures the result;
- a comparison or a table lookup: :mod:`.dispatch`; an import: :mod:`.scope`.

The order of the readers is the order in which literals are numbered ("last assignment wins").
"""

from __future__ import annotations

import libcst as cst
from libcst.metadata import PositionProvider

from . import argparse_defaults, attributes, calls, classes, code, constants, dispatch, function_defaults
from .findings import Findings
from .names import FIELD_SET
from .scope import Scope
from .syntax import dotted


class Walk(cst.CSTVisitor):
    """Visits every node once; ``found`` and ``scope`` hold what it learnt."""

    METADATA_DEPENDENCIES = (PositionProvider,)

    def __init__(self, module: cst.Module) -> None:
        self.found = Findings(module, self._line)
        self.scope = Scope()

    def _line(self, node: cst.CSTNode) -> int:
        return self.get_metadata(PositionProvider, node).start.line

    # module-level and class-level assignments
    def visit_Assign(self, node: cst.Assign) -> None:
        if len(node.targets) != 1:
            return
        target = node.targets[0].target
        if isinstance(target, cst.Attribute):
            attributes.read(self.found, self.scope, target, node.value)
        if isinstance(target, cst.Name):
            self._assignment(target.value, node.value)

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        if node.value is not None and isinstance(node.target, cst.Name):
            value = classes.declared_value(node.value)
            if value is not None:
                self._assignment(node.target.value, value)

    def _assignment(self, name: str, value: cst.BaseExpression) -> None:
        if self.scope.at_module_level:
            constants.read(self.found, name, value)
        elif self.scope.in_class_body:
            classes.read_field(self.found, self.scope, name, value)

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        self.scope.enter_class(node, classes.is_config(node))

    def leave_ClassDef(self, original_node: cst.ClassDef) -> None:
        self.scope.leave_class()

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        if self.scope.depth == 0:
            function_defaults.read(self.found, node)
        self.scope.enter_function(node)

    def leave_FunctionDef(self, original_node: cst.FunctionDef) -> None:
        self.scope.leave_function()

    def visit_ImportFrom(self, node: cst.ImportFrom) -> None:
        self.scope.import_from(node)

    def visit_Import(self, node: cst.Import) -> None:
        self.scope.import_(node)

    def visit_Subscript(self, node: cst.Subscript) -> None:
        dispatch.read_lookup(self.found, node)

    def visit_Comparison(self, node: cst.Comparison) -> None:
        dispatch.read_comparison(self.found, node)

    def visit_Call(self, node: cst.Call) -> None:
        callee = dotted(node.func)
        short = callee.split(".")[-1]
        line = self._line(node)
        function_defaults.note_call(self.found, node, callee)
        ignored = self.scope.ignored_fields()
        if ignored == FIELD_SET:
            return
        passed = {a.keyword.value: a.value for a in node.args if a.keyword is not None}
        classes.note_construction(self.found, node, short, passed, line)
        calls.read_configuration_call(self.found, self.scope, short, passed)
        if short == "add_argument":
            argparse_defaults.read(self.found, node)
        code.read(self.found, node, callee, passed, line, ignored)
        calls.read_arguments(self.found, node, short, ignored)
