"""The environment: new code may read variables that cannot hold secrets (thread counts, ranks,
``ARRL_*``, and any the trusted baseline names) one at a time, and set only thread, device and
allocator settings; reading the whole environment, a secret-looking variable, one whose name is
computed, or expanding variables in a string (``os.path.expandvars``) is refused."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from arrl.records import ValidationIssue

from ..constant_folding import fold
from ..judging import alias_position
from ..tables import ENV_ALLOWED, ENV_ALLOWED_PREFIXES, ENV_SECRET

if TYPE_CHECKING:
    from ..judging import Judging, Reading, Visit


def environment_names(tree: ast.Module) -> set[str]:
    """Environment variables the trusted baseline names as constants."""
    return {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)
            and re.fullmatch(r"[A-Z][A-Z0-9_]*", n.value)}


def env_read(judging: Judging, key: Any, line: int) -> Iterator[ValidationIssue]:
    if not isinstance(key, str):
        yield ValidationIssue("reads an environment variable whose name is computed", line)
    elif not (key in ENV_ALLOWED or key.startswith(ENV_ALLOWED_PREFIXES) or key in judging.baseline_env) \
            and ENV_SECRET.search(key):
        yield ValidationIssue(f"reads the environment variable {key}, which may hold a secret or say where one is",
                              line)


def env_write(judging: Judging, key: Any, line: int) -> Iterator[ValidationIssue]:
    if not isinstance(key, str):
        yield ValidationIssue("sets an environment variable whose name is computed", line)
    elif not (key in ENV_ALLOWED or key.startswith(ENV_ALLOWED_PREFIXES) or key in judging.baseline_env):
        yield ValidationIssue(f"sets the environment variable {key}, which changes what libraries and child "
                              "processes do; only thread, device and allocator settings may be set", line)


def environment_item(node: ast.expr, parent: ast.AST | None) -> bool:
    """``os.environ[...]`` and ``'NAME' in os.environ`` read one variable; anything else, all."""
    if isinstance(parent, ast.Subscript) and parent.value is node:
        return True
    return isinstance(parent, ast.Compare) and node in parent.comparators and \
        all(isinstance(op, (ast.In, ast.NotIn)) for op in parent.ops)


def whole_environment(judging: Judging, visit: Visit, reading: Reading) -> Iterator[ValidationIssue]:
    node, parent = visit.node, visit.parent
    assert isinstance(node, ast.expr)
    if reading.resolution is not None and "os.environ" in reading.spellings and \
            not environment_item(node, parent) and not alias_position(node, parent):
        yield ValidationIssue("reads the whole environment, which may hold secrets; read single "
                              "variables with os.environ.get('NAME')", visit.line)


def environment_item_used(judging: Judging, visit: Visit) -> Iterator[ValidationIssue]:
    """``os.environ['NAME']`` read, set or deleted."""
    node = visit.node
    assert isinstance(node, ast.Subscript)
    if "os.environ" not in judging.dotted(node.value):
        return
    key = fold(node.slice, judging.callee_name)
    if isinstance(node.ctx, ast.Load):
        yield from env_read(judging, key, node.lineno)
    else:
        yield from env_write(judging, key, node.lineno)


def environment_call(judging: Judging, visit: Visit) -> Iterator[ValidationIssue]:
    """``os.environ.setdefault``, ``os.environ.get``, ``os.getenv`` and ``os.path.expandvars``."""
    node = visit.node
    assert isinstance(node, ast.Call)
    callee = node.func
    if isinstance(callee, ast.Attribute) and callee.attr == "setdefault" and node.args \
            and "os.environ" in judging.dotted(callee.value):
        yield from env_write(judging, fold(node.args[0], judging.callee_name), node.lineno)
    names = judging.dotted(callee)
    if names & {"os.environ.get", "os.getenv"} and node.args:
        yield from env_read(judging, fold(node.args[0], judging.callee_name), node.lineno)
    if "os.path.expandvars" in names:
        text = fold(node.args[0], judging.callee_name) if len(node.args) == 1 and not node.keywords else None
        if not isinstance(text, (str, bytes)):
            yield ValidationIssue("expands environment variables in a computed string", node.lineno)
        else:
            for variable in re.findall(r"\$\{?(\w+)", text if isinstance(text, str) else text.decode("latin-1")):
                yield from env_read(judging, variable, node.lineno)
