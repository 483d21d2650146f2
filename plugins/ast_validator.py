"""The AST validator: parse, check schema ranges, and refuse dangerous code that a proposal adds.

The user's baseline script is trusted; code a proposal adds or changes is not. A statement of
the proposal is trusted only if the baseline holds the same statement (compared as syntax trees,
so moving or re-indenting it is fine); everything else is checked. Checks resolve names rather
than match strings: ``import subprocess as sp; sp.run(...)``, ``from os import system as s``,
``getattr(os, "sys" + "tem")`` and ``__builtins__`` lookups are all seen for what they are.

Nothing here executes or imports the code it reads.
"""

from __future__ import annotations

import ast
from collections import Counter
from typing import Any, Iterator

import attrs

import arrl
from arrl.records import ValidationIssue, ValidationResult
from arrl.schema import SchemaError, check_config
from arrl.script import extract

# Modules whose use in new code is refused outright: process control, network, native code,
# dynamic imports, unsafe deserialization, signal and resource-limit tampering.
FORBIDDEN_MODULES = frozenset(
    {
        "subprocess", "socket", "ssl", "http", "urllib", "urllib3", "requests", "httpx",
        "ftplib", "smtplib", "telnetlib", "xmlrpc", "asyncio", "multiprocessing", "pty",
        "ctypes", "cffi", "importlib", "imp", "pkgutil", "runpy", "zipimport", "pickle",
        "cPickle", "dill", "cloudpickle", "marshal", "shelve", "signal", "resource", "shutil",
        "tempfile", "code", "codeop", "inspect", "gc", "sysconfig", "builtins", "webbrowser",
        "pathlib", "glob", "fcntl", "mmap", "threading", "_thread", "sys", "os", "io", "posix",
    }
)
# Exceptions inside otherwise forbidden modules that training code legitimately uses.
ALLOWED_NAMES = frozenset({"os.environ.get", "os.getenv", "os.path.join", "os.path.exists",
                           "os.path.dirname", "os.path.basename", "os.path.abspath",
                           "sys.argv", "sys.stdout.flush", "sys.stderr.flush", "sys.exit"})
FORBIDDEN_BUILTINS = frozenset(
    {"eval", "exec", "compile", "__import__", "globals", "locals", "vars", "getattr", "setattr",
     "delattr", "breakpoint", "input", "memoryview", "__builtins__", "__loader__", "__spec__"}
)
FORBIDDEN_CALLS = frozenset({"torch.load", "numpy.load", "torch.hub.load", "torch.jit.load",
                             "torch.package.PackageImporter", "torch.utils.cpp_extension.load",
                             "torch.utils.cpp_extension.load_inline", "torch.ops.load_library"})
# Dunder attributes a model definition needs; every other one is an escape hatch
# (``().__class__.__bases__[0].__subclasses__()``).
ALLOWED_DUNDERS = frozenset({"__init__", "__name__", "__doc__", "__version__"})
WRITE_MODES = frozenset("wax+")


@attrs.frozen
class AstOptions:
    max_bytes: int = attrs.field(default=1_000_000, validator=attrs.validators.ge(1))
    check_ranges: bool = True


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


class AstValidator(arrl.Validator):
    def __init__(self, options: AstOptions = AstOptions(), field_map: dict[str, str] | None = None) -> None:
        self.options = options
        self.field_map = field_map or {}

    def validate(self, proposed: str, baseline: str) -> ValidationResult:
        issues = list(self._check(proposed, baseline))
        return ValidationResult(tuple(attrs.evolve(i, validator="ast") for i in issues))

    def _check(self, proposed: str, baseline: str) -> Iterator[ValidationIssue]:
        size = len(proposed.encode())
        if size > self.options.max_bytes:
            yield ValidationIssue(f"script is {size} bytes, over the {self.options.max_bytes} limit")
            return
        try:
            tree = ast.parse(proposed)
        except SyntaxError as error:
            yield ValidationIssue(f"syntax error: {error.msg}", error.lineno)
            return
        if self.options.check_ranges:
            try:
                extraction = extract(proposed, mapping=self.field_map)
            except SchemaError as error:
                yield ValidationIssue(str(error))
                return
            for field, message in extraction.out_of_range.items():
                yield ValidationIssue(message, extraction.sites[field].line)
            if not extraction.out_of_range:
                try:
                    check_config(extraction.values)
                except SchemaError as error:
                    yield ValidationIssue(str(error))
        try:
            trusted = Counter(_signature(s) for s in _statements(ast.parse(baseline)))
        except SyntaxError:
            trusted = Counter()
        aliases = _aliases(tree)
        for statement in _statements(tree):
            signature = _signature(statement)
            if trusted[signature] > 0:
                trusted[signature] -= 1
                continue
            yield from _check_statement(statement, aliases)


def _aliases(tree: ast.Module) -> dict[str, str]:
    """Local name -> the dotted name it stands for, from every import in the module."""
    names: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    names[alias.asname] = alias.name
                else:
                    top = alias.name.split(".")[0]
                    names[top] = top
        elif isinstance(node, ast.ImportFrom):
            module = "." * node.level + (node.module or "")
            for alias in node.names:
                names[alias.asname or alias.name] = f"{module}.{alias.name}"
    return names


def _resolve(node: ast.expr, aliases: dict[str, str]) -> str | None:
    if isinstance(node, ast.Name):
        return aliases.get(node.id, node.id)
    if isinstance(node, ast.Attribute):
        base = _resolve(node.value, aliases)
        return f"{base}.{node.attr}" if base else None
    return None


def _forbidden_name(dotted: str) -> str | None:
    if dotted in ALLOWED_NAMES or any(dotted.startswith(a + ".") for a in ALLOWED_NAMES):
        return None
    root = dotted.split(".")[0]
    if root in FORBIDDEN_MODULES:
        return f"uses {dotted} (module {root!r} is not allowed in proposed code)"
    if dotted in FORBIDDEN_BUILTINS or root in FORBIDDEN_BUILTINS:
        return f"uses {root}(), which can reach arbitrary code"
    if dotted in FORBIDDEN_CALLS:
        return f"calls {dotted}, which unpickles arbitrary objects or loads native code"
    return None


def _check_statement(statement: ast.stmt, aliases: dict[str, str]) -> Iterator[ValidationIssue]:
    line = statement.lineno
    if isinstance(statement, (ast.Import, ast.ImportFrom)):
        modules = (
            [a.name for a in statement.names]
            if isinstance(statement, ast.Import)
            else [statement.module or ""]
        )
        for module in modules:
            if module.split(".")[0] in FORBIDDEN_MODULES and module not in ("os", "sys", "os.path"):
                yield ValidationIssue(f"imports {module!r}, which proposed code may not use", line)
        if isinstance(statement, ast.ImportFrom) and statement.level:
            yield ValidationIssue("relative imports are not allowed in proposed code", line)
        return
    for node, parent in _own_nodes(statement):
        if isinstance(node, ast.Attribute) and node.attr.startswith("__") and node.attr not in ALLOWED_DUNDERS:
            yield ValidationIssue(f"accesses {node.attr}, an introspection escape", node.lineno)
        elif isinstance(node, ast.Name) and node.id.startswith("__") and node.id not in ALLOWED_DUNDERS:
            if node.id != "__file__":
                yield ValidationIssue(f"uses {node.id}, an introspection escape", node.lineno)
        if isinstance(node, (ast.Name, ast.Attribute)) and isinstance(node.ctx, ast.Load):
            dotted = _resolve(node, aliases)
            # For os.environ.get only the whole chain decides: its prefix "os.environ" (and "os"
            # alone, which would always look forbidden) is not judged on its own.
            chained = isinstance(parent, ast.Attribute) and parent.value is node
            if dotted and not chained:
                reason = _forbidden_name(dotted)
                if reason:
                    yield ValidationIssue(reason, node.lineno)
        if isinstance(node, ast.Call):
            dotted = _resolve(node.func, aliases)
            if dotted == "open":
                yield from _check_open(node)


def _own_nodes(statement: ast.stmt) -> Iterator[tuple[ast.AST, ast.AST | None]]:
    """(node, parent) of ``statement`` outside its nested statements (checked on their own)."""
    stack: list[tuple[ast.AST, ast.AST | None]] = [(statement, None)]
    while stack:
        node, parent = stack.pop()
        yield node, parent
        stack.extend((c, node) for c in ast.iter_child_nodes(node) if not isinstance(c, ast.stmt))


def _check_open(call: ast.Call) -> Iterator[ValidationIssue]:
    mode_node = call.args[1] if len(call.args) > 1 else next(
        (k.value for k in call.keywords if k.arg == "mode"), None
    )
    if mode_node is None:
        return
    if not isinstance(mode_node, ast.Constant) or not isinstance(mode_node.value, str):
        yield ValidationIssue("open() with a mode that is not a plain string", call.lineno)
    elif WRITE_MODES & set(mode_node.value):
        yield ValidationIssue(f"open() for writing (mode {mode_node.value!r})", call.lineno)


@arrl.hookimpl
def arrl_validators():
    yield arrl.Registration(
        name="ast",
        summary="syntax, schema ranges, and name-resolved checks of added code",
        factory=lambda options, context: AstValidator(options, context.field_map),
        options=AstOptions,
    )
