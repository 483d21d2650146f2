"""Dynamic code and lookups by string: an attribute looked up by a computed name
(``getattr(os, name)``), a path of attributes given as a string to ``attrgetter`` and its kin,
annotations evaluated as code (``eval_str=True``), and strings that carry code a library could
evaluate (``Timer(stmt=...)``, string annotations, ``'!!python/object/apply:os.system'``,
``_import_dotted_name('os.system')``), judged by their content after folding."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from typing import TYPE_CHECKING

from arrl.records import ValidationIssue

from ..constant_folding import fold
from ..tables import (
    FILE_EXTENSIONS,
    STRING_BUILTIN_CALL,
    STRING_CALL,
    STRING_DOTTED,
    STRING_DUNDER,
    STRING_DUNDERS,
    STRING_IMPORT,
    YAML_PYTHON_TAG,
    escape,
    forbidden,
)
from .files import texts

if TYPE_CHECKING:
    from ..judging import Judging, Visit


def lookup_by_string(judging: Judging, visit: Visit) -> Iterator[ValidationIssue]:
    node = visit.node
    assert isinstance(node, ast.Call)
    callee = node.func
    found = judging.attribute_call(node)
    if found is not None and found[1] is None:
        yield ValidationIssue(f"{found[0]}() with a computed attribute name cannot be checked", node.lineno)
    evaluates = next((k.value for k in node.keywords if k.arg == "eval_str"), None)
    if evaluates is not None and not (isinstance(evaluates, ast.Constant) and evaluates.value is False) \
            and judging.dotted(callee):
        yield ValidationIssue("eval_str evaluates string annotations as code", node.lineno)
    lookup = judging.is_in(callee, judging.lookups)
    if lookup:
        for argument in node.args:
            path = fold(argument, judging.callee_name)
            if not isinstance(path, str) or "__" in path or any(escape(part) for part in path.split(".")):
                yield ValidationIssue(f"{lookup}() with a computed or dunder name: a lookup by string",
                                      node.lineno)
                break


def code_in_string(judging: Judging, visit: Visit) -> Iterator[ValidationIssue]:
    """A string that carries code or names a forbidden object, which a library may evaluate."""
    node, parent, seen = visit.node, visit.parent, visit.strings
    statement = visit.statement
    if isinstance(statement, ast.Expr) and node is statement.value:
        return  # a docstring
    if isinstance(node, ast.Constant):
        value = node.value
    elif isinstance(parent, ast.JoinedStr):
        return
    else:
        assert isinstance(node, ast.expr)
        value = fold(node, judging.callee_name)
    for text in texts(value):
        reason = string_reason(judging, text)
        if reason and reason not in seen:
            seen.add(reason)
            yield ValidationIssue(f"a string that {reason}: code a library could evaluate", visit.line)


def string_reason(judging: Judging, text: str) -> str | None:
    for match in STRING_DUNDER.finditer(text):
        name = f"__{match.group(1)}__"
        if name not in STRING_DUNDERS:
            return f"names {name}"
    if YAML_PYTHON_TAG.search(text):
        return "holds a YAML tag that builds Python objects (!!python/...)"
    for match in STRING_IMPORT.finditer(text):
        if match.group(1) in ("os", "sys") or forbidden(match.group(1)):
            return f"imports {match.group(1)}"
    for match in STRING_BUILTIN_CALL.finditer(text):
        return f"calls {match.group(1)}()"
    dotted = [re.sub(r"\s+", "", m.group(1)) for m in STRING_CALL.finditer(text)]
    whole = STRING_DOTTED.fullmatch(text)
    if whole and not (whole.group(1).count(".") == 1 and ":" not in whole.group(1)
                      and whole.group(1).rsplit(".", 1)[1].lower() in FILE_EXTENSIONS):
        dotted.append(whole.group(1).replace(":", "."))
    for name in dotted:
        if name not in ("os", "sys") and (forbidden(name) or name in judging.forbidden_calls):
            return f"names {name}"
    return None
