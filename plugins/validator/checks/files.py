"""The file system, and what new code may name as a path or address.

New code may read the workspace and the data directories; it may not change the file system
(``unlink``, ``write_text``, ``to_csv``; ``mkdir`` is fine, its path is judged), open a file for
writing or a file descriptor (``open(1, 'w')`` is stdout), or name an absolute path outside the
workspace and the data directories, a relative path that climbs out of it, or a network URL.
Strings are judged by their folded value (``'/et' + 'c/passwd'`` counts), and a string only
compared, printed or left unused is text, not a path.
"""

from __future__ import annotations

import ast
import posixpath
import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from arrl.records import ValidationIssue

from ..constant_folding import absolute_paths, constant_prefix, fold
from ..tables import URL, WRITE_METHODS, WRITE_MODES

if TYPE_CHECKING:
    from ..judging import Judging, Visit


# -- file-system changes and files opened for writing --------------------------------------
def write_method(judging: Judging, visit: Visit) -> Iterator[ValidationIssue]:
    node = visit.node
    assert isinstance(node, ast.Call)
    callee = node.func
    if not isinstance(callee, ast.Attribute) or callee.attr not in WRITE_METHODS:
        return
    # (``str.replace(old, new)`` takes two arguments, ``Path.replace(target)`` one.)
    text_replace = callee.attr == "replace" and len(node.args) + len(node.keywords) >= 2
    if not judging.dotted(callee) & {"os.environ.replace"} and not text_replace:
        yield ValidationIssue(f"calls .{callee.attr}(), which changes the file system", node.lineno)


def opened_for_writing(judging: Judging, visit: Visit) -> Iterator[ValidationIssue]:
    node = visit.node
    assert isinstance(node, ast.Call)
    callee = node.func
    if isinstance(callee, ast.Attribute) and callee.attr == "open" and not judging.dotted(callee):
        yield from method_open(judging, node)
    elif judging.is_in(callee, judging.openers):
        yield from check_open(node)


def check_open(call: ast.Call) -> Iterator[ValidationIssue]:
    """A file opened for writing, or a file descriptor (``open(1, 'w')`` is stdout)."""
    if call.args and isinstance(call.args[0], ast.Constant) and isinstance(call.args[0].value, int):
        yield ValidationIssue(f"opens file descriptor {call.args[0].value!r}", call.lineno)
        return
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


def method_open(judging: Judging, node: ast.Call) -> Iterator[ValidationIssue]:
    """``x.open(...)`` on an object of the script (``Path(...).open('w')``): a mode that writes
    is refused; a computed mode only where the object is a path."""
    candidates = [k.value for k in node.keywords if k.arg == "mode"] + node.args[:2]
    for candidate in candidates:
        mode = fold(candidate, judging.callee_name)
        if isinstance(mode, str) and re.fullmatch(r"[rwxabtU+]{1,4}", mode) and WRITE_MODES & set(mode):
            yield ValidationIssue(f".open() for writing (mode {mode!r})", node.lineno)
            return
    # On an object of unknown type the mode may be the first argument (``Path.open(mode)``) or
    # the second (``ZipFile.open(name, mode)``): either must be a plain string.
    first = fold(node.args[0], judging.callee_name) if node.args else ""
    mode_given = [k.value for k in node.keywords if k.arg == "mode"]
    if len(node.args) > 1 and isinstance(first, str) and not re.fullmatch(r"[rwxabtU+]{1,4}", first):
        mode_given.append(node.args[1])
    if any(k.arg is None for k in node.keywords) or any(isinstance(a, ast.Starred) for a in node.args) or \
            not isinstance(first, (str, bytes)) or \
            any(not isinstance(fold(m, judging.callee_name), str) for m in mode_given):
        yield ValidationIssue(".open() with a mode (or name) that is not a plain string", node.lineno)


# -- paths and URLs -----------------------------------------------------------------------
def texts(value: Any) -> Iterator[str]:
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    if isinstance(value, str):
        yield value
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from texts(item)


def climbing(value: Any) -> list[str]:
    """Relative paths a folded value holds that climb out of the directory they start in."""
    found = []
    for text in texts(value):
        text = text.strip()
        if not text or "\n" in text or "://" in text:
            continue
        normal = posixpath.normpath(text)
        if normal == ".." or normal.startswith("../"):
            found.append(normal)
    return found


def climbing_roots(tree: ast.Module) -> list[str]:
    """Directories above the workspace the trusted baseline names (``'../data/train.bin'``)."""
    roots = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant):
            for path in climbing(node.value):
                roots.append(posixpath.dirname(path) if posixpath.splitext(path)[1] else path)
    return [r for r in roots if r not in ("", "..")]


def under(path: str, roots: list[str]) -> bool:
    if path.startswith("~"):
        return False
    return any(path == root or path.startswith(root.rstrip("/") + "/") for root in roots)


def paths_and_urls(judging: Judging, visit: Visit) -> Iterator[ValidationIssue]:
    node, seen = visit.node, visit.paths
    assert isinstance(node, ast.expr)
    if isinstance(visit.parent, ast.JoinedStr):
        return  # judged with the whole f-string
    value = fold(node, judging.callee_name)
    if value is None:
        # Built partly at run time: judge the directory its constant start names.
        prefix = constant_prefix(node, judging.callee_name)
        if prefix.startswith(("/", "..")) or URL.match(prefix):
            value = prefix
    if value in ("/", b"/") and not isinstance(node, ast.Constant):
        value = "/."  # the root itself, as a path argument (Path('/'), f"/{name}")
    found = [(p, f"names the absolute path {p!r}") for p in absolute_paths(value)
             if not under(p, judging.readable)]
    found += [(p, f"names the relative path {p!r}") for p in climbing(value)
              if not under(p, judging.relative_readable)]
    found += [(u, f"names the URL {u!r}: network access") for u in (t.strip() for t in texts(value) if URL.match(t))]
    found = [(p, m) for p, m in found if p not in seen]
    # A string is a path only where it is used as one: "/s" kept as a unit is text.
    if not found or text_only(judging, node):
        return
    for path, message in found:
        seen.add(path)
        yield ValidationIssue(message + (", outside the workspace and the data directories"
                                         if "URL" not in message else ""), getattr(node, "lineno", None))


def text_only(judging: Judging, node: ast.AST, visiting: frozenset[str] = frozenset()) -> bool:
    """Whether a string at ``node`` is only ever text: a bare statement, compared, printed, or kept
    in a name used only so. Anything passed to a call (but print), joined with ``/``, returned or
    stored elsewhere may be a path. Calls and ``/`` that fold to a value build paths."""
    if isinstance(node, ast.Call) or isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
        return False
    child, parent = node, judging.parents.get(node)
    while parent is not None:
        if isinstance(parent, ast.Call):
            if child is not parent.func:
                return judging.scope.is_builtin(parent.func, "print") and child in parent.args
        elif isinstance(parent, ast.BinOp) and isinstance(parent.op, ast.Div):
            return False
        elif isinstance(parent, ast.Compare):
            return True
        elif isinstance(parent, (ast.Assign, ast.AnnAssign)) and child is parent.value:
            targets = parent.targets if isinstance(parent, ast.Assign) else [parent.target]
            names = [t.id for t in targets if isinstance(t, ast.Name)]
            return len(names) == len(targets) and all(
                n not in visiting and all(text_only(judging, use, visiting | {n}) for use in judging.loads.get(n, []))
                for n in names)
        elif isinstance(parent, ast.AnnAssign) and child is parent.annotation:
            return True
        elif isinstance(parent, ast.Expr) or isinstance(parent, (ast.If, ast.While, ast.Assert)) and \
                child is parent.test:
            return True
        elif isinstance(parent, (ast.stmt, ast.arguments, ast.comprehension, ast.Lambda)):
            return False
        child, parent = parent, judging.parents.get(parent)
    return False
