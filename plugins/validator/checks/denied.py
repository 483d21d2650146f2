"""The deny-lists: process and shell access, network, native code, dynamic code and imports,
unsafe deserialisation, signal and resource-limit tampering, file-system changes and secrets
(``tables.FORBIDDEN_MODULES``, ``FORBIDDEN_BUILTINS``, ``FORBIDDEN_CALLS``).

Two checks apply them. *Denied names* refuses what is off limits as written (``import
subprocess``, ``os.system``, ``eval``), without importing anything to learn more. *Denied
objects* refuses what a name resolves to, however it is spelled: ``torch.os.system`` is
``os.system``, ``t.load`` after ``t = torch`` is ``torch.load``, ``getattr(torch, 'load')`` too.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from arrl.records import ValidationIssue

from ..judging import Denied
from ..name_resolver import Resolution
from ..script_scope import Ref
from ..tables import FORBIDDEN_BUILTINS, FORBIDDEN_CALLS, IMPORTABLE, SAFE_FORMS, allowed, escape, forbidden

if TYPE_CHECKING:
    from ..judging import Judging, Reading, Visit


def import_denial(ref: Ref) -> str | None:
    """Why importing ``ref`` is refused as written. ``import os`` and ``import sys`` are fine: each
    use of them is judged where it happens."""
    return None if ref.dotted in IMPORTABLE else forbidden(ref.dotted)


# -- denied names -------------------------------------------------------------------------
def denied_import(judging: Judging, visit: Visit, ref: Ref) -> Iterator[ValidationIssue]:
    reason = import_denial(ref)
    if reason:
        yield ValidationIssue(f"imports {ref.dotted}: {reason}", visit.line)
        return
    resolution = judging.resolution(ref)
    if isinstance(resolution, Denied):  # reached through a workspace module (helpers.subprocess)
        yield ValidationIssue(str(resolution), visit.line)


def denied_builtin(judging: Judging, visit: Visit) -> Iterator[ValidationIssue]:
    node, parent = visit.node, visit.parent
    assert isinstance(node, ast.Name)
    if not isinstance(node.ctx, ast.Load):
        return
    builtin = judging.scope.is_builtin(node, node.id)
    called = visit.called
    # vars(obj) of the script's own object is its __dict__; of a module, its globals.
    own_vars = node.id == "vars" and isinstance(parent, ast.Call) and called and len(parent.args) == 1 and \
        not parent.keywords and not isinstance(parent.args[0], ast.Starred) and \
        not judging.scope.holds(parent.args[0])
    if node.id in FORBIDDEN_BUILTINS and builtin and not own_vars:
        yield ValidationIssue(f"uses {node.id}: {FORBIDDEN_BUILTINS[node.id]}", node.lineno)


def denied_read(judging: Judging, visit: Visit, reading: Reading) -> Iterator[ValidationIssue]:
    if reading.resolution is None:
        reason = judging.resolution(reading.ref)
        if isinstance(reason, Denied):
            yield ValidationIssue(str(reason), visit.line)


# -- denied objects -----------------------------------------------------------------------
def judge(judging: Judging, written: str, names: Sequence[str | None], line: int, verb: str = "uses",
          definition: str | None = None) -> Iterator[ValidationIssue]:
    """Refuse a forbidden object, whether judged by how it is reached (``names``) or by where
    it is defined (``definition``: library internals are judged by path only)."""
    spellings = [(n, True) for n in names if n] + ([(definition, False)] if definition else [])
    if any(n in judging.allowed or allowed(n) for n, _ in spellings):
        return
    for name, is_path in spellings:
        reason = judging.forbidden_calls.get(name) and FORBIDDEN_CALLS[judging.forbidden_calls[name]] or \
            forbidden(name, internals=is_path)
        if reason:
            also = f" ({name})" if name != written else ""
            yield ValidationIssue(f"{verb} {written}{also}: {reason}", line)
            return


def safe_form(judging: Judging, spellings: list[str], call: ast.Call | None) -> bool:
    """A call of a deserialiser in its safe form (``torch.load(path, weights_only=True)``)."""
    entry = next((judging.forbidden_calls[n] for n in spellings if n in judging.forbidden_calls), None)
    if call is None or entry not in SAFE_FORMS:
        return False
    keyword, safe, positional, default_safe = SAFE_FORMS[entry]
    if len(call.args) > positional or any(isinstance(a, ast.Starred) for a in call.args) or \
            any(k.arg in (None, "pickle_module") for k in call.keywords):
        return False
    given = next((k.value for k in call.keywords if k.arg == keyword), None)
    return default_safe if given is None else isinstance(given, ast.Constant) and given.value is safe


def denied_imported_object(judging: Judging, visit: Visit, ref: Ref) -> Iterator[ValidationIssue]:
    resolution = judging.resolution(ref)
    if not isinstance(resolution, Resolution):
        return
    if ref.dotted in IMPORTABLE or any(judging.forbidden_calls.get(n or "") in SAFE_FORMS
                                       for n in (ref.dotted, resolution.path_name, resolution.definition)):
        return  # judged where it is used (``load(path, weights_only=True)``)
    yield from judge(judging, ref.dotted, [resolution.path_name], visit.line, "imports", resolution.definition)


def denied_read_object(judging: Judging, visit: Visit, reading: Reading) -> Iterator[ValidationIssue]:
    parent, resolution = visit.parent, reading.resolution
    if resolution is None:
        return
    called = visit.called
    if safe_form(judging, reading.spellings, parent if isinstance(parent, ast.Call) and called else None):
        return
    ref = reading.ref
    yield from judge(judging, ref.dotted, [ref.dotted, resolution.path_name], visit.line,
                     definition=resolution.definition)


def attribute_reaches(judging: Judging, visit: Visit) -> Iterator[ValidationIssue]:
    """``getattr(os, 'system')`` and ``hasattr(...)`` reach ``os.system``."""
    node = visit.node
    assert isinstance(node, ast.Call)
    found = judging.attribute_call(node)
    if found is None or found[1] is None or found[0] not in ("getattr", "hasattr") or escape(found[1]):
        return
    name, attribute = found
    for reading in judging.readings(node.args[0]):
        spellings = reading.spellings
        yield from judge(judging, f"{spellings[0]}.{attribute}", [f"{s}.{attribute}" for s in spellings[:2]],
                         node.lineno, f"{name}() reaches")
