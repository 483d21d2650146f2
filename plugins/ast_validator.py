"""The AST validator: a proposal's new code must stay inside what training code needs.

Trust model: the user's baseline script is trusted; code a proposal adds or changes is not. A
statement of the proposal is trusted only if the baseline holds the same statement (compared as
syntax without positions, so moving or re-indenting it is fine); every other statement is
checked against:

1. an allow-list of syntax: no ``global``/``nonlocal``, no async code;
2. name resolution instead of string matching: imports and aliases are followed
   (``import subprocess as sp; sp.run``, ``from os import system as s``), attribute chains are
   resolved to dotted names, ``getattr``/``setattr``/``hasattr``/``delattr`` with a constant name
   are read as attribute access and with a computed name are refused;
3. deny-lists over the resolved names: process, shell, network, native code, dynamic code and
   imports, unsafe deserialisation, signal and resource-limit tampering, and file-system writes;
4. introspection escapes: dunder attributes (``__subclasses__``, ``__globals__``, ...) and the
   builtins behind them (``globals()``, ``vars()``, ``__builtins__``);
5. calls it cannot resolve: a callee must be a name, an attribute, a subscript or a call result,
   not a computed expression such as ``(a or b)()`` or ``(lambda: ...)()``;
6. the domains of the values arrl reads, judged against the *baseline's* space (arrl.space):
   a value is refused only if it differs from the baseline's and lies outside the domain grown
   around it (``learning_rate = 1e10`` is refused; an untouched ``batch_size = 12`` never is);
7. frozen evaluation code: lines between ``# arrl: frozen`` and ``# arrl: end frozen`` must stay
   byte-identical, module-level names they define may not be rebound, modules named in
   ``frozen_modules`` may not be patched, and new code may not write to stdout, where metric lines
   are read (``print(..., file=sys.stderr)`` is fine): a proposal cannot print a better loss.

Nothing here executes or imports the code it reads. See docs/security.md for what this does not
stop and what the runners contain instead.
"""

from __future__ import annotations

import ast
import re
from collections import Counter
from typing import Any, Iterator

import attrs

import arrl
from arrl.records import ValidationIssue, ValidationResult
from arrl.schema import SchemaError
from arrl.script import ScriptError, extract
from arrl.space import SpaceSettings, build_space

# Statements and expressions new code may use. Anything else (global, nonlocal, async) is refused.
ALLOWED_NODES: frozenset[type] = frozenset({
    ast.Module, ast.Expr, ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Delete, ast.Pass, ast.Break,
    ast.Continue, ast.Return, ast.If, ast.For, ast.While, ast.With, ast.withitem, ast.Try, ast.TryStar,
    ast.ExceptHandler, ast.Raise, ast.Assert, ast.FunctionDef, ast.ClassDef, ast.Lambda, ast.arguments,
    ast.arg, ast.keyword, ast.Import, ast.ImportFrom, ast.alias, ast.Match, ast.match_case,
    ast.MatchValue, ast.MatchSingleton, ast.MatchSequence, ast.MatchMapping, ast.MatchClass,
    ast.MatchStar, ast.MatchAs, ast.MatchOr,
    ast.BoolOp, ast.BinOp, ast.UnaryOp, ast.IfExp, ast.Compare, ast.Call, ast.NamedExpr,
    ast.Attribute, ast.Subscript, ast.Slice, ast.Starred, ast.Name, ast.Constant, ast.JoinedStr,
    ast.FormattedValue, ast.List, ast.Tuple, ast.Set, ast.Dict, ast.ListComp, ast.SetComp,
    ast.DictComp, ast.GeneratorExp, ast.comprehension, ast.Yield, ast.YieldFrom,
    ast.Load, ast.Store, ast.Del,
    ast.And, ast.Or, ast.Add, ast.Sub, ast.Mult, ast.MatMult, ast.Div, ast.Mod, ast.Pow, ast.LShift,
    ast.RShift, ast.BitOr, ast.BitXor, ast.BitAnd, ast.FloorDiv, ast.Invert, ast.Not, ast.UAdd,
    ast.USub, ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.Is, ast.IsNot, ast.In, ast.NotIn,
})

# Module -> why new code may not touch it. A name resolving into one of these is refused
# unless it is in ALLOWED_NAMES.
FORBIDDEN_MODULES: dict[str, str] = {
    **dict.fromkeys(("subprocess", "pty", "multiprocessing", "concurrent", "asyncio", "sched"), "process spawning"),
    **dict.fromkeys(("socket", "ssl", "http", "urllib", "urllib3", "requests", "httpx", "aiohttp", "ftplib",
                     "smtplib", "poplib", "imaplib", "telnetlib", "xmlrpc", "socketserver", "webbrowser",
                     "grpc", "paramiko"), "network access"),
    **dict.fromkeys(("ctypes", "cffi", "_ctypes", "mmap"), "native code"),
    **dict.fromkeys(("importlib", "imp", "pkgutil", "runpy", "zipimport", "code", "codeop", "builtins",
                     "__builtin__", "inspect", "gc", "sysconfig", "types", "site"), "dynamic code or imports"),
    **dict.fromkeys(("pickle", "cPickle", "_pickle", "dill", "cloudpickle", "marshal", "shelve", "joblib",
                     "copyreg"), "unsafe deserialisation"),
    **dict.fromkeys(("signal", "resource", "faulthandler", "atexit"), "signal or resource-limit tampering"),
    **dict.fromkeys(("shutil", "tempfile", "fcntl", "posix", "nt"), "file-system changes"),
    "os": "process, shell and file-system access",
    "sys": "interpreter internals",
}
# Harmless members of otherwise forbidden modules that training code uses.
ALLOWED_NAMES: frozenset[str] = frozenset({
    "os.environ", "os.environ.get", "os.getenv", "os.path", "os.cpu_count", "os.getpid", "os.sep",
    "os.linesep", "os.path.join", "os.path.exists", "os.path.isfile", "os.path.isdir", "os.path.dirname",
    "os.path.basename", "os.path.abspath", "os.path.splitext", "os.path.getsize", "os.path.expanduser",
    "sys.argv", "sys.version", "sys.version_info", "sys.platform", "sys.maxsize", "sys.float_info",
    "sys.stdout", "sys.stderr", "sys.stdout.flush", "sys.stderr.flush", "sys.stdout.write",
    "sys.stderr.write", "sys.exit", "sys.getsizeof",
})
FORBIDDEN_BUILTINS: dict[str, str] = {
    **dict.fromkeys(("eval", "exec", "compile", "__import__"), "dynamic code"),
    **dict.fromkeys(("globals", "locals", "vars", "__builtins__", "__loader__", "__spec__"), "an introspection escape"),
    "breakpoint": "a debugger hook", "input": "reading standard input", "memoryview": "raw memory access",
}
# Fully resolved calls refused wherever they are: they load arbitrary objects or native code.
FORBIDDEN_CALLS: dict[str, str] = {
    **dict.fromkeys(("torch.load", "torch.jit.load", "torch.hub.load", "torch.hub.load_state_dict_from_url",
                     "torch.hub.download_url_to_file", "torch.package.PackageImporter", "numpy.load",
                     "pandas.read_pickle", "yaml.load", "yaml.unsafe_load", "yaml.full_load"),
                    "unsafe deserialisation"),
    **dict.fromkeys(("torch.ops.load_library", "torch.classes.load_library", "torch.utils.cpp_extension.load",
                     "torch.utils.cpp_extension.load_inline"), "native code"),
}
# Method names that change the file system, on whatever object they are called.
WRITE_METHODS = frozenset({"write_text", "write_bytes", "unlink", "rmdir", "rename", "touch", "symlink_to",
                           "hardlink_to", "chmod", "lchmod", "chown", "mkdir", "rmtree", "removedirs"})
# Dunder attributes a model definition needs; every other one is an escape hatch
# (``().__class__.__bases__[0].__subclasses__()``).
ALLOWED_DUNDERS = frozenset({"__init__", "__name__", "__doc__", "__version__", "__call__", "__len__",
                             "__getitem__", "__iter__", "__repr__", "__enter__", "__exit__", "__file__",
                             "__main__", "__post_init__"})
ATTRIBUTE_FUNCTIONS = frozenset({"getattr", "setattr", "hasattr", "delattr"})
WRITE_MODES = frozenset("wax+")
FROZEN_START = re.compile(r"#\s*arrl:\s*frozen\b")
FROZEN_END = re.compile(r"#\s*arrl:\s*end\s+frozen\b")


@attrs.frozen
class AstOptions:
    max_bytes: int = attrs.field(default=1_000_000, validator=attrs.validators.ge(1))
    check_ranges: bool = True
    # Modules holding evaluation code (like autoresearch's prepare.py): new code may not patch them.
    frozen_modules: list[str] = attrs.Factory(list)


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


def frozen_regions(source: str) -> list[tuple[int, int, str]]:
    """(first line, last line, text) of every ``# arrl: frozen`` ... ``# arrl: end frozen`` region."""
    regions = []
    start: int | None = None
    lines = source.splitlines(keepends=True)
    for number, line in enumerate(lines, 1):
        if start is None and FROZEN_START.search(line):
            start = number
        elif start is not None and FROZEN_END.search(line):
            regions.append((start, number, "".join(lines[start - 1:number])))
            start = None
    if start is not None:
        regions.append((start, len(lines), "".join(lines[start - 1:])))
    return regions


def _bound_names(statements: list[ast.stmt]) -> set[str]:
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


class _Checker:
    """Checks the untrusted statements of one proposal."""

    def __init__(self, tree: ast.Module, frozen_names: set[str], frozen_modules: set[str], frozen: bool) -> None:
        self.aliases = _aliases(tree)
        self.frozen_names = frozen_names
        self.frozen_modules = frozen_modules
        self.frozen = frozen

    def statement(self, statement: ast.stmt) -> Iterator[ValidationIssue]:
        for node, parent in _own_nodes(statement):
            line = getattr(node, "lineno", statement.lineno)
            if type(node) not in ALLOWED_NODES:
                yield ValidationIssue(f"{type(node).__name__} is not allowed in proposed code", line)
                continue
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                yield from self._import(node)
            elif isinstance(node, ast.Attribute):
                yield from self._attribute(node, parent)
            elif isinstance(node, ast.Name):
                yield from self._name(node, parent)
            elif isinstance(node, ast.Call):
                yield from self._call(node)
            elif isinstance(node, (ast.FunctionDef, ast.ClassDef)) and node.name in self.frozen_names:
                yield ValidationIssue(f"redefines {node.name!r}, which frozen evaluation code defines", line)

    def _import(self, node: ast.Import | ast.ImportFrom) -> Iterator[ValidationIssue]:
        if isinstance(node, ast.ImportFrom) and node.level:
            yield ValidationIssue("relative imports are not allowed in proposed code", node.lineno)
            return
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        else:
            targets = [f"{node.module}.{a.name}" for a in node.names]
        for target in targets:
            # `import os` and `import sys` are fine: each use of them is judged where it happens.
            reason = None if target in ("os", "sys") else _forbidden(target)
            if reason:
                yield ValidationIssue(f"imports {target}: {reason}", node.lineno)
        for alias in node.names:
            bound = (alias.asname or alias.name).split(".")[0]
            if bound in self.frozen_names:
                yield ValidationIssue(f"rebinds {bound!r}, which frozen evaluation code defines", node.lineno)

    def _attribute(self, node: ast.Attribute, parent: ast.AST | None) -> Iterator[ValidationIssue]:
        if node.attr.startswith("__") and node.attr not in ALLOWED_DUNDERS:
            yield ValidationIssue(f"accesses {node.attr}, an introspection escape", node.lineno)
            return
        dotted = _resolve(node, self.aliases)
        if isinstance(node.ctx, (ast.Store, ast.Del)) and dotted:
            root = dotted.split(".")[0]
            if root in self.frozen_modules or dotted.split(".")[0] in self.frozen_names:
                yield ValidationIssue(f"patches {dotted}, which belongs to frozen evaluation code", node.lineno)
            elif root in FORBIDDEN_MODULES or root in ("torch", "numpy", "math", "random"):
                yield ValidationIssue(f"patches {dotted}: library attributes may not be replaced", node.lineno)
        if self.frozen and dotted and dotted.startswith("sys.stdout"):
            yield ValidationIssue(f"uses {dotted}, where only the frozen evaluation code may report metrics",
                                  node.lineno)
        # For os.environ.get only the whole chain decides: its prefixes are not judged alone.
        if dotted and not (isinstance(parent, ast.Attribute) and parent.value is node):
            reason = _forbidden(dotted)
            if reason:
                yield ValidationIssue(f"uses {dotted}: {reason}", node.lineno)

    def _name(self, node: ast.Name, parent: ast.AST | None) -> Iterator[ValidationIssue]:
        if node.id.startswith("__") and node.id not in ALLOWED_DUNDERS:
            yield ValidationIssue(f"uses {node.id}, an introspection escape", node.lineno)
            return
        if isinstance(node.ctx, (ast.Store, ast.Del)):
            if node.id in self.frozen_names:
                yield ValidationIssue(f"rebinds {node.id!r}, which frozen evaluation code defines", node.lineno)
            return
        if node.id in FORBIDDEN_BUILTINS and node.id not in self.aliases:
            yield ValidationIssue(f"uses {node.id}: {FORBIDDEN_BUILTINS[node.id]}", node.lineno)
            return
        if self.frozen and node.id == "print" and not (isinstance(parent, ast.Call) and parent.func is node):
            yield ValidationIssue("takes print as a value, which could report metrics around the frozen "
                                  "evaluation code", node.lineno)
        if isinstance(parent, ast.Attribute) and parent.value is node:
            return  # judged with the whole chain
        dotted = self.aliases.get(node.id)
        if dotted:
            reason = _forbidden(dotted)
            if reason:
                yield ValidationIssue(f"uses {node.id} ({dotted}): {reason}", node.lineno)

    def _call(self, node: ast.Call) -> Iterator[ValidationIssue]:
        callee = node.func
        root = callee
        while isinstance(root, (ast.Attribute, ast.Subscript, ast.Call)):
            root = root.value if not isinstance(root, ast.Call) else root.func
        if not isinstance(root, (ast.Name, ast.Constant, ast.JoinedStr, ast.List, ast.Tuple, ast.Dict, ast.Set,
                                 ast.ListComp, ast.DictComp, ast.SetComp, ast.GeneratorExp)):
            yield ValidationIssue(f"calls a computed {type(root).__name__.lower()}, which cannot be resolved",
                                  node.lineno)
            return
        dotted = _resolve(callee, self.aliases)
        if isinstance(callee, ast.Attribute) and callee.attr in WRITE_METHODS:
            yield ValidationIssue(f"calls .{callee.attr}(), which changes the file system", node.lineno)
        if dotted in ATTRIBUTE_FUNCTIONS and dotted not in self.aliases:
            yield from self._attribute_function(node, dotted)
        elif dotted == "open" and "open" not in self.aliases:
            yield from _check_open(node)
        elif dotted and dotted in FORBIDDEN_CALLS:
            yield ValidationIssue(f"calls {dotted}: {FORBIDDEN_CALLS[dotted]}", node.lineno)
        if self.frozen and dotted == "print" and "print" not in self.aliases:
            # Metric lines are read from stdout only: new code may print to stderr.
            target = next((k.value for k in node.keywords if k.arg == "file"), None)
            if target is None or _resolve(target, self.aliases) != "sys.stderr":
                yield ValidationIssue("prints to stdout, where only the frozen evaluation code may report "
                                      "metrics; print with file=sys.stderr instead", node.lineno)

    def _attribute_function(self, node: ast.Call, name: str) -> Iterator[ValidationIssue]:
        if len(node.args) < 2 or not (isinstance(node.args[1], ast.Constant) and isinstance(node.args[1].value, str)):
            yield ValidationIssue(f"{name}() with a computed attribute name cannot be checked", node.lineno)
            return
        attribute = node.args[1].value
        if attribute.startswith("__") and attribute not in ALLOWED_DUNDERS:
            yield ValidationIssue(f"{name}() of {attribute}, an introspection escape", node.lineno)
            return
        target = _resolve(node.args[0], self.aliases)
        if target is None:
            return
        dotted = f"{target}.{attribute}"
        reason = _forbidden(dotted) or (FORBIDDEN_CALLS.get(dotted))
        if reason:
            yield ValidationIssue(f"{name}() reaches {dotted}: {reason}", node.lineno)
        if name in ("setattr", "delattr") and (target.split(".")[0] in self.frozen_modules or target in self.frozen_names):
            yield ValidationIssue(f"{name}() patches {dotted}, which belongs to frozen evaluation code", node.lineno)


class AstValidator(arrl.Validator):
    def __init__(self, options: AstOptions = AstOptions(), field_map: dict[str, str] | None = None,
                 space: SpaceSettings = SpaceSettings()) -> None:
        self.options = options
        self.field_map = field_map or {}
        self.space = space

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
        except (ValueError, MemoryError, RecursionError) as error:
            yield ValidationIssue(f"cannot parse: {type(error).__name__}")
            return
        if self.options.check_ranges:
            yield from self._ranges(proposed, baseline)
        try:
            baseline_tree = ast.parse(baseline)
        except SyntaxError:
            baseline_tree = ast.Module(body=[], type_ignores=[])
        regions = frozen_regions(baseline)
        yield from _frozen_text(regions, frozen_regions(proposed))
        frozen_statements = [s for s in baseline_tree.body if any(a <= s.lineno <= b for a, b, _ in regions)]
        checker = _Checker(tree, _bound_names(frozen_statements), set(self.options.frozen_modules), bool(regions))
        trusted = Counter(_signature(s) for s in _statements(baseline_tree))
        for statement in _statements(tree):
            signature = _signature(statement)
            if trusted[signature] > 0:
                trusted[signature] -= 1
                continue
            yield from checker.statement(statement)

    def _ranges(self, proposed: str, baseline: str) -> Iterator[ValidationIssue]:
        knobs = self.space.knobs
        try:
            extraction = extract(proposed, mapping=self.field_map, knobs=knobs)
        except (SchemaError, ScriptError) as error:
            yield ValidationIssue(str(error))
            return
        try:
            before = extract(baseline, mapping=self.field_map, knobs=knobs).values
        except (SchemaError, ScriptError):
            before = {}  # an unreadable baseline: every value is judged against its domain
        space = build_space(before, self.space)
        for field, message in space.judge(extraction.values, before):
            site = extraction.sites.get(field)
            yield ValidationIssue(message, site.line if site else None)


def _frozen_text(before: list[tuple[int, int, str]], after: list[tuple[int, int, str]]) -> Iterator[ValidationIssue]:
    if [text for _, _, text in before] == [text for _, _, text in after]:
        return
    for index, (start, _, text) in enumerate(before):
        if index >= len(after) or after[index][2] != text:
            where = after[index][0] if index < len(after) else start
            yield ValidationIssue("changes frozen evaluation code (between '# arrl: frozen' and "
                                  "'# arrl: end frozen')", where)
            return
    yield ValidationIssue("adds a frozen region the baseline does not have", after[len(before)][0])


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
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("getattr",) and \
            len(node.args) >= 2 and isinstance(node.args[1], ast.Constant) and isinstance(node.args[1].value, str):
        base = _resolve(node.args[0], aliases)
        return f"{base}.{node.args[1].value}" if base else None
    return None


def _forbidden(dotted: str) -> str | None:
    if dotted in ALLOWED_NAMES or any(dotted.startswith(a + ".") for a in ("os.path",)):
        return None
    root = dotted.split(".")[0]
    if root in FORBIDDEN_MODULES:
        return f"module {root!r} is off limits to proposed code ({FORBIDDEN_MODULES[root]})"
    if dotted in FORBIDDEN_BUILTINS:
        return FORBIDDEN_BUILTINS[dotted]
    if dotted in FORBIDDEN_CALLS:
        return FORBIDDEN_CALLS[dotted]
    for prefix in ("torch.hub.", "torch.utils.cpp_extension."):
        if dotted.startswith(prefix):
            return "network access or native code"
    return None


def _own_nodes(statement: ast.stmt) -> Iterator[tuple[ast.AST, ast.AST | None]]:
    """(node, parent) of ``statement`` outside its nested statements (checked on their own)."""
    stack: list[tuple[ast.AST, ast.AST | None]] = [(statement, None)]
    while stack:
        node, parent = stack.pop()
        yield node, parent
        stack.extend((c, node) for c in ast.iter_child_nodes(node) if not isinstance(c, ast.stmt))


def _check_open(call: ast.Call) -> Iterator[ValidationIssue]:
    mode_node = call.args[1] if len(call.args) > 1 else next(
        (k.value for k in call.keywords if k.arg == "mode"), None)
    if mode_node is None:
        if any(k.arg is None for k in call.keywords) or any(isinstance(a, ast.Starred) for a in call.args):
            yield ValidationIssue("open() with unpacked arguments cannot be checked", call.lineno)
        return
    if not isinstance(mode_node, ast.Constant) or not isinstance(mode_node.value, str):
        yield ValidationIssue("open() with a mode that is not a plain string", call.lineno)
    elif WRITE_MODES & set(mode_node.value):
        yield ValidationIssue(f"open() for writing (mode {mode_node.value!r}); write to ARRL_OUTPUT_DIR "
                              "through the frozen code, or let the runner contain it", call.lineno)


@arrl.hookimpl
def arrl_validators():
    yield arrl.Registration(
        name="ast",
        summary="syntax, schema ranges, frozen code, and name-resolved checks of added code",
        factory=lambda options, context: AstValidator(options, context.field_map, context.space),
        options=AstOptions,
    )
