"""Fold expressions built only from constants into the value they will have at run time.

The validator judges strings by their value, not their spelling: ``'/et' + 'c/passwd'``,
``''.join(map(chr, [47, 101, ...]))``, ``os.path.join('/', 'etc')`` and
``base64.b64decode('L2V0Yw==').decode()`` are all the absolute path they build. Folding evaluates
a fixed set of pure operations on constants the expression itself holds; it never looks up a name
the script defines and never executes the script. Results are capped in size, so
``'x' * 10**12`` folds to nothing rather than to a memory error.
"""

from __future__ import annotations

import ast
import base64
import binascii
import codecs
import operator
import os.path
import posixpath
from collections.abc import Callable
from typing import Any

MAX_LENGTH = 10_000
_BINARY: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add, ast.Mod: operator.mod, ast.Mult: operator.mul, ast.Sub: operator.sub,
    ast.FloorDiv: operator.floordiv, ast.BitOr: operator.or_, ast.BitXor: operator.xor,
}
# Pure functions of constants, by the dotted name the validator resolved the callee to.
_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "chr": chr, "str": str, "bytes": lambda *a: bytes(*_no_sizes(a)), "bytearray": lambda *a: bytes(*_no_sizes(a)),
    "ord": ord, "int": int, "reversed": lambda x: list(reversed(x)),
    "os.path.join": posixpath.join, "os.path.normpath": posixpath.normpath, "os.path.abspath": posixpath.normpath,
    "os.path.expanduser": lambda p: p if not p.startswith("~") else "/home/user" + p[1:],
    "os.path.realpath": posixpath.normpath, "os.path.dirname": posixpath.dirname,
    "pathlib.Path": posixpath.join, "pathlib.PurePath": posixpath.join, "pathlib.PosixPath": posixpath.join,
    "pathlib.PurePosixPath": posixpath.join,
    "base64.b64decode": base64.b64decode, "base64.b32decode": base64.b32decode, "base64.b16decode": base64.b16decode,
    "base64.b85decode": base64.b85decode, "base64.a85decode": base64.a85decode,
    "base64.urlsafe_b64decode": base64.urlsafe_b64decode, "binascii.unhexlify": binascii.unhexlify,
    "binascii.a2b_base64": binascii.a2b_base64, "bytes.fromhex": bytes.fromhex, "codecs.decode": codecs.decode,
    "map": lambda f, xs: [f(x) for x in xs],
}
# Methods of a constant str or bytes that return text.
_METHODS = frozenset({"join", "format", "replace", "lower", "upper", "strip", "lstrip", "rstrip", "decode",
                      "encode", "removeprefix", "removesuffix", "swapcase", "title", "capitalize", "translate",
                      "zfill", "expandtabs", "casefold", "ljust", "rjust", "center", "split", "rsplit"})
# Constants of modules, by resolved name.
_MODULE_CONSTANTS = {"os.sep": "/", "os.path.sep": "/", "os.altsep": None, "os.curdir": ".", "os.pardir": "..",
                     "os.extsep": ".", "os.linesep": "\n", "string.ascii_letters": "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ",
                     "string.ascii_lowercase": "abcdefghijklmnopqrstuvwxyz", "string.digits": "0123456789",
                     "string.punctuation": "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~", "string.printable": None}
_CALLABLE_VALUES = {"chr": chr, "str": str, "ord": ord}
# The same methods called unbound (``str.join('/', ['', 'etc', 'passwd'])``), and builtins that
# combine constants (``chr(sum([126]))``).
_FUNCTIONS.update({f"{kind.__name__}.{name}": getattr(kind, name) for kind in (str, bytes) for name in _METHODS
                   if hasattr(kind, name)})
_FUNCTIONS.update({"sum": sum, "max": max, "min": min, "sorted": sorted, "list": list, "tuple": tuple,
                   "abs": abs, "len": len})


def _no_sizes(args: tuple[Any, ...]) -> tuple[Any, ...]:
    if args and isinstance(args[0], int):
        raise _Unknown  # bytes(10**12) allocates
    return args


class _Unknown(Exception):
    """The expression depends on something that is not a constant."""


def fold(node: ast.expr, resolve: Callable[[ast.expr], str | None]) -> Any:
    """The value of ``node`` when it is built from constants only, else None. ``resolve`` gives
    the dotted name a callee denotes (``os.path.join``), or None."""
    try:
        value = _fold(node, resolve)
    except _Unknown:
        return None
    except Exception:  # a constant operation that fails at run time (bad base64, ...) folds to nothing
        return None
    return value


def _small(value: Any) -> Any:
    if isinstance(value, (str, bytes, list, tuple)) and len(value) > MAX_LENGTH:
        raise _Unknown
    return value


def _fold(node: ast.expr, resolve: Callable[[ast.expr], str | None]) -> Any:
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, (ast.List, ast.Tuple)):
        return _small([_fold(e, resolve) for e in node.elts])
    if isinstance(node, ast.JoinedStr):
        return _small("".join(str(_fold(v, resolve)) for v in node.values))
    if isinstance(node, ast.FormattedValue):
        value = _fold(node.value, resolve)
        spec = _fold(node.format_spec, resolve) if node.format_spec else ""
        if any(c.isdigit() for c in str(spec)) and len(str(spec)) > 4:
            raise _Unknown  # a width like 999999999 would build a huge string
        return format(value, spec)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        operand = _fold(node.operand, resolve)
        if not isinstance(operand, (int, float)):
            raise _Unknown
        return -operand if isinstance(node.op, ast.USub) else operand
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left, right = _fold(node.left, resolve), _fold(node.right, resolve)
        if isinstance(node.op, ast.Mult) and any(isinstance(v, int) and v > MAX_LENGTH for v in (left, right)):
            raise _Unknown
        return _small(_BINARY[type(node.op)](left, right))
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
        # pathlib's `/`: Path('/') / 'etc'
        left, right = _fold(node.left, resolve), _fold(node.right, resolve)
        if isinstance(left, str) and isinstance(right, str):
            return posixpath.join(left, right)
        raise _Unknown
    if isinstance(node, ast.Subscript):
        value = _fold(node.value, resolve)
        index = _fold(node.slice, resolve)
        return _small(value[index])
    if isinstance(node, ast.Slice):
        parts = [_fold(p, resolve) if p is not None else None for p in (node.lower, node.upper, node.step)]
        return slice(*parts)
    if isinstance(node, (ast.ListComp, ast.GeneratorExp)) and len(node.generators) == 1:
        generator = node.generators[0]
        if generator.ifs or not isinstance(generator.target, ast.Name):
            raise _Unknown
        items = _fold(generator.iter, resolve)
        name = generator.target.id
        return _small([_fold(_substitute(node.elt, name, item), resolve) for item in items])
    if isinstance(node, ast.Name) and node.id in _CALLABLE_VALUES and resolve(node) == node.id:
        return _CALLABLE_VALUES[node.id]
    if isinstance(node, (ast.Name, ast.Attribute)):
        constant = _MODULE_CONSTANTS.get(resolve(node) or "")
        if constant is not None:
            return constant
    if isinstance(node, ast.Call) and not any(isinstance(a, ast.Starred) for a in node.args):
        args = [_fold(a, resolve) for a in node.args]
        keywords = {k.arg: _fold(k.value, resolve) for k in node.keywords if k.arg}
        if len(keywords) != len(node.keywords):
            raise _Unknown
        callee = node.func
        if isinstance(callee, ast.Attribute) and callee.attr in _METHODS:
            try:
                receiver = _fold(callee.value, resolve)
            except _Unknown:
                receiver = None
            if isinstance(receiver, (str, bytes)):
                return _small(getattr(receiver, callee.attr)(*args, **keywords))
        function = resolve(callee)
        if function in _FUNCTIONS:
            return _small(_FUNCTIONS[function](*args, **keywords))
        if function in ("pathlib.Path.home", "os.path.expanduser"):
            return "/home/user"
    raise _Unknown


def _substitute(expression: ast.expr, name: str, value: Any) -> ast.expr:
    class Replace(ast.NodeTransformer):
        def visit_Name(self, node: ast.Name) -> ast.AST:
            return ast.Constant(value) if node.id == name else node

    return Replace().visit(ast.parse(ast.unparse(expression), mode="eval").body)  # type: ignore[no-any-return]


def absolute_paths(value: Any) -> list[str]:
    """The absolute paths (or home-relative, or file: URLs) a folded value holds."""
    if isinstance(value, bytes):
        try:
            value = value.decode()
        except UnicodeDecodeError:
            return []
    if isinstance(value, (list, tuple)):
        return [p for v in value for p in absolute_paths(v)]
    if not isinstance(value, str):
        return []
    text = value.strip()
    if text.startswith("file:"):
        text = text[5:].lstrip("/")
        text = "/" + text
    if text.startswith("~"):
        return [text]
    if text.startswith("/") and len(text) > 1 and not text[1].isspace() and "\n" not in text:
        return [os.path.normpath(text)]
    return []


def constant_prefix(node: ast.expr, resolve: Callable[[ast.expr], str | None]) -> str:
    """The constant start of a string built partly at run time: ``f"/proc/{pid}/fd/1"`` ->
    ``"/proc/"``, ``"/data/%s" % name`` -> ``"/data/"``, ``os.path.join("/etc", name)`` -> ``"/etc"``."""
    if isinstance(node, ast.JoinedStr):
        prefix = ""
        for value in node.values:
            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                prefix += value.value
            else:
                break
        return prefix
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Mod, ast.Div)):
        left = fold(node.left, resolve)
        if isinstance(left, str):
            return left.split("%")[0] if isinstance(node.op, ast.Mod) else left
        return constant_prefix(node.left, resolve)
    if isinstance(node, ast.Call):
        if isinstance(node.func, ast.Attribute) and node.func.attr == "format":
            receiver = fold(node.func.value, resolve)
            if isinstance(receiver, str):
                return receiver.split("{")[0]
        if resolve(node.func) in ("os.path.join", "pathlib.Path", "pathlib.PurePath", "pathlib.PosixPath") \
                and node.args:
            first = fold(node.args[0], resolve)
            return first if isinstance(first, str) else constant_prefix(node.args[0], resolve)
    return ""
