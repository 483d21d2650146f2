"""Override files: a module-level constant that a file the script executes sets again
(nanoGPT's ``exec(open('configurator.py').read())`` over a ``config/train_shakespeare.py``).

Reads the literal assignments of the file each such ``exec`` opens, next to the script. A
constant assigned before the ``exec`` is replaced there: shown with the file's value, read-only
(arrl edits the training script alone), and never proposed.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

from .draft import Draft, normalise
from .findings import Findings
from .names import FIELD_FOR_ALIAS
from .results import Site
from .syntax import arithmetic


def _opened_file(statement: ast.stmt) -> str | None:
    """The file a statement ``exec(open(NAME).read())`` runs, if it is one."""
    call = statement.value if isinstance(statement, ast.Expr) else None
    if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id == "exec"
            and call.args and isinstance(call.args[0], ast.Call)):
        return None
    read = call.args[0].func
    opened = read.value if isinstance(read, ast.Attribute) and read.attr == "read" else None
    if not (isinstance(opened, ast.Call) and isinstance(opened.func, ast.Name) and opened.func.id == "open"
            and opened.args and isinstance(opened.args[0], ast.Constant) and isinstance(opened.args[0].value, str)):
        return None
    return opened.args[0].value


def override_file_sets(source: str, directory: Path | None) -> dict[str, tuple[Any, str, int, int]]:
    """Names an override file sets (nanoGPT's ``exec(open('configurator.py').read())``):
    name -> (value, file, line there, line of the exec in the script)."""
    if directory is None:
        return {}
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return {}
    found: dict[str, tuple[Any, str, int, int]] = {}
    for statement in tree.body:
        name = _opened_file(statement)
        if name is None:
            continue
        try:
            other = ast.parse((directory / name).read_text())
        except (OSError, SyntaxError, UnicodeDecodeError, ValueError):
            continue
        for assignment in other.body:
            if isinstance(assignment, ast.Assign) and len(assignment.targets) == 1 and \
                    isinstance(assignment.targets[0], ast.Name):
                try:
                    value: Any = ast.literal_eval(assignment.value)
                except (ValueError, SyntaxError, TypeError, RecursionError):
                    value = arithmetic(assignment.value)
                if isinstance(value, (int, float, str, bool)):
                    found[assignment.targets[0].id] = (value, name, assignment.lineno, statement.lineno)
    return found


def replaced_constants(found: Findings, source: str, directory: Path | None) -> tuple[dict[int, str], dict[int, Any]]:
    """The constants an override file sets again: id -> why, and id -> the value that wins."""
    replaced: dict[int, str] = {}
    winning: dict[int, Any] = {}
    for name, (value, file, line, exec_line) in override_file_sets(source, directory).items():
        for candidate in found.assignments:
            if candidate.style == "constant" and candidate.path == name and candidate.line < exec_line:
                replaced[id(candidate)] = f"set again in {file}:{line} (to {value!r}), whose value wins"
                winning[id(candidate)] = value
    return replaced, winning


def settle(draft: Draft, found: Findings) -> None:
    """A field whose only site an override file replaces: shown with the winning value, read-only
    (arrl edits the training script alone)."""
    for candidate in sorted(found.assignments, key=lambda c: c.order):
        aliased = FIELD_FOR_ALIAS.get(candidate.key) if candidate.aliasable else None
        if id(candidate) in draft.winning and aliased is not None and aliased not in draft.values:
            value = normalise(aliased, draft.winning[id(candidate)])
            draft.settle(aliased, value, Site(aliased, value, candidate.line, candidate.style, candidate.path, False,
                                              draft.replaced[id(candidate)] + "; arrl edits only the training script"),
                         [candidate.node])
