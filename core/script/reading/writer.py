"""Writing new values back: each changed field or knob rewritten on the concrete syntax tree
(libcst), so comments, formatting and every byte that is not a targeted value survive. Switching
an optimizer written as code rewrites the call and drops keyword arguments the new optimizer does
not accept (``betas`` for SGD). Also the text of a change: a diff ``git apply`` accepts, the
lines it touches, and the hash that says whether two programs are the same experiment."""

from __future__ import annotations

import ast
import difflib
import functools
import hashlib
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs
import libcst as cst

from arrl.schema import FIELDS_BY_NAME, SchemaError, Value, check_heads
from arrl.script.configs import ConfigError, Scalar, replace
from arrl.script.configs.documents import normal_form
from arrl.trace import Facts

from .aliases import Mapped
from .code import ACTIVATION_CLASSES, OPTIMIZER_CLASSES, OPTIMIZER_KEYWORDS
from .extraction import Analysis, analyse
from .findings import CodeChoice
from .syntax import dotted

if TYPE_CHECKING:
    from arrl.script.space import Space

_CLASS_FOR_OPTIMIZER = {v: k for k, v in OPTIMIZER_CLASSES.items()}
_ACTIVATION_KEYWORDS = {"relu": {"inplace"}, "silu": {"inplace"}, "gelu": {"approximate"}, "tanh": set()}


def format_value(value: Value, original: str = "") -> str:
    """Source text for ``value``, keeping the original's quote style for strings."""
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, int) and re.fullmatch(r"\s*2\s*\*\*\s*\d+\s*", original) and value > 0 \
            and value & (value - 1) == 0:
        return f"2**{value.bit_length() - 1}"  # 2**19 stays written as a power of two
    if isinstance(value, str):
        quote = "'" if original.lstrip().startswith("'") else '"'
        return f"{quote}{value}{quote}"
    if isinstance(value, float):
        text = repr(value)
        # 0.0003 reads better as 3e-4, the way people write learning rates.
        short = f"{value:.6g}"
        if float(short) != value or len(short) >= len(text):
            short = text
        # A float stays a float in the script: 2.0, not 2.
        return short if any(c in short for c in ".eEn") else short + ".0"
    return str(value)


def _literal_node(text: str, _: cst.CSTNode) -> cst.CSTNode:
    return cst.parse_expression(text)


class _Rewriter(cst.CSTTransformer):
    """Rewrites the nodes it is given, identified by the original tree's node identity.

    A rewrite is a function of the *updated* node, so that an optimizer switch applied to a
    call keeps the new literal already written into one of its arguments (``weight_decay``).
    """

    def __init__(self, rewrites: dict[int, Callable[[Any], cst.CSTNode]]) -> None:
        self.rewrites = rewrites

    def on_leave(self, original_node: cst.CSTNode, updated_node: cst.CSTNode) -> Any:
        rewrite = self.rewrites.get(id(original_node))
        return rewrite(updated_node) if rewrite is not None else updated_node


def _rename_callee(func: cst.BaseExpression, new_name: str) -> cst.BaseExpression:
    if isinstance(func, cst.Attribute):
        return func.with_changes(attr=cst.Name(new_name))
    return cst.Name(new_name)


def _filter_keywords(call: cst.Call, allowed: set[str]) -> list[cst.Arg]:
    kept = [a for a in call.args if a.keyword is None or a.keyword.value in allowed]
    if kept and call.args and kept[-1] is not call.args[-1]:
        kept[-1] = kept[-1].with_changes(comma=call.args[-1].comma)
    return kept


def _switch_optimizer(call: cst.Call, target: str, prefix: str | None) -> cst.Call:
    new_class = _CLASS_FOR_OPTIMIZER[target]
    if target == "lion":
        func: cst.BaseExpression = cst.Name("Lion")
    elif isinstance(call.func, cst.Attribute):
        func = _rename_callee(call.func, new_class)
    else:
        func = cst.parse_expression(f"{prefix}{new_class}") if prefix else cst.Name(new_class)
    return call.with_changes(func=func, args=_filter_keywords(call, OPTIMIZER_KEYWORDS[target]))


def _set_enabled(call: cst.Call, enabled: bool) -> cst.Call:
    args = [a for a in call.args if not (a.keyword is not None and a.keyword.value == "enabled")]
    if enabled:
        return call.with_changes(args=_filter_keywords(call, {a.keyword.value for a in args if a.keyword}))
    comma = cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))
    if args:
        args[-1] = args[-1].with_changes(comma=comma)
    flag = cst.Arg(value=cst.Name("False"), keyword=cst.Name("enabled"),
                   equal=cst.AssignEqual(whitespace_before=cst.SimpleWhitespace(""),
                                         whitespace_after=cst.SimpleWhitespace("")))
    return call.with_changes(args=[*args, flag])


def _switch_activation(node: cst.Call, target: str) -> cst.Call:
    current = dotted(node.func).split(".")[-1]
    name = next(k for k, v in ACTIVATION_CLASSES.items() if v == target) if current in ACTIVATION_CLASSES else target
    call = node.with_changes(func=_rename_callee(node.func, name))
    if current in ACTIVATION_CLASSES:  # module classes: keep only keywords the new one takes
        call = call.with_changes(args=_filter_keywords(call, _ACTIVATION_KEYWORDS[target]))
    return call


@attrs.frozen
class Program:
    """An edited version of the script: its text, and the config files the edit rewrote (by name
    relative to the script's folder, the whole new text of each)."""

    script: str
    files: dict[str, str] = attrs.Factory(dict)

    def hash(self, files: Mapping[str, str] | None = None) -> str:
        """:func:`program_hash` of this version, whose other config files are ``files`` (those of
        the version it was made from: ``Observation.files``)."""
        return program_hash(self.script, {**(files or {}), **self.files} or None)


def apply_edit(source: str, changes: Mapping[str, Value], filename: str = "<script>",
               mapping: Mapping[str, str] | None = None, space: Space | None = None,
               directory: Path | None = None, facts: Facts | None = None,
               files: Mapping[str, str] | None = None, args: Sequence[str] = ()) -> Program:
    """``source`` (and the config files it reads: ``files``, a version's texts by name, else those
    in ``directory``) with each changed field or knob rewritten and nothing else touched
    (``facts``: what the baseline run showed, :mod:`.live`; a proposer passes its observation's).

    A name that is not a schema field is a knob, found by the script's own name (``MATRIX_LR``).
    Values are judged against ``space`` (the run's domains) when given, else against the design
    document's domains grown around the script's current values. Raises :class:`SchemaError`
    for a value outside its domain or a name arrl cannot edit here.
    """
    knobs = tuple(k for k in changes if k not in FIELDS_BY_NAME)
    analysis = analyse(source, filename, mapping, knobs, directory, facts, args, files)
    extraction = analysis.extraction
    for field, value in changes.items():
        if field not in extraction.sites:
            raise SchemaError(f"{field}: not present in {filename}, so it cannot be edited")
        _check_change(field, value, extraction.values[field], space)
    if {"attention_heads", "hidden_dim"} & set(changes):
        check_heads({**extraction.values, **changes})
    rewrites: dict[int, Callable[[Any], cst.CSTNode]] = {}
    in_files: dict[str, dict[str, Value]] = {}
    for field, value in changes.items():
        site = extraction.sites[field]
        if not site.editable:
            raise SchemaError(f"{field}: {site.note} ({site.file or filename}:{site.line})")
        allowed = extraction.choices.get(field)
        if allowed is not None and value not in allowed:
            raise SchemaError(
                f"{field}: {value!r} is not available in {filename}; it can be {', '.join(map(str, allowed))}")
        for target in analysis.targets[field]:
            if isinstance(target, Scalar):
                spelled = analysis.spellings.get(field, {}).get(value, value) if isinstance(value, str) else value
                in_files.setdefault(target.file, {})[target.key] = _spelled_as_before(spelled, target.value)
                continue
            rewrites[id(target.node if isinstance(target, (CodeChoice, Mapped)) else target)] = \
                _rewrite(analysis, field, value, target)
    script = analysis.module.visit(_Rewriter(rewrites)).code if rewrites else source
    try:
        rewritten = {name: replace(analysis.documents[name], values) for name, values in in_files.items()}
    except ConfigError as error:
        raise SchemaError(str(error)) from None
    return Program(script, rewritten)


def apply_values(source: str, changes: Mapping[str, Value], filename: str = "<script>",
                 mapping: Mapping[str, str] | None = None, space: Space | None = None,
                 directory: Path | None = None, facts: Facts | None = None) -> str:
    """The script alone, for an edit of values written in it (:func:`apply_edit` says more). An
    edit of a value written in a config file raises :class:`SchemaError`: use :func:`apply_edit`,
    whose :class:`Program` carries the files too."""
    program = apply_edit(source, changes, filename, mapping, space, directory, facts)
    if program.files:
        raise SchemaError(f"this edit rewrites {', '.join(sorted(program.files))}, not only the script: "
                          "use arrl.script.apply_edit, whose Program carries the config files")
    return program.script


def _spelled_as_before(value: Value, before: object) -> Value:
    """A choice written in a config file keeps its spelling: torch's class name ("AdamW", "GELU")
    where the file wrote one, as a script looking it up in torch.optim or torch.nn needs."""
    if not isinstance(value, str) or not isinstance(before, str) or value != value.lower():
        return value
    for classes in (OPTIMIZER_CLASSES, ACTIVATION_CLASSES):
        if before in classes:
            return next((name for name, choice in classes.items() if choice == value), value)
    return value


def _rewrite(analysis: Analysis, field: str, value: Value, target: Any) -> Callable[[Any], cst.CSTNode]:
    """How one node an edit of ``field`` targets is rewritten to say ``value``."""
    if isinstance(target, CodeChoice):
        if field == "optimizer":
            return functools.partial(_switch_optimizer, target=str(value), prefix=analysis.optimizer_prefix)
        if field == "mixed_precision":
            return functools.partial(_set_enabled, enabled=bool(value))
        return functools.partial(_switch_activation, target=str(value))
    if isinstance(target, Mapped):
        return functools.partial(_literal_node, format_value(target.texts[value],
                                                             analysis.module.code_for_node(target.node)))
    spelled = analysis.spellings.get(field, {}).get(value, value) if isinstance(value, str) else value
    return functools.partial(_literal_node, format_value(spelled, analysis.module.code_for_node(target)))


def _check_change(name: str, value: Value, current: Value, space: Space | None) -> None:
    field = space.domain(name) if space is not None else None
    if field is None and name in FIELDS_BY_NAME:
        field = FIELDS_BY_NAME[name].grown(current)
    if field is not None:
        field.check(value)
        return
    # A knob with no declared domain: at least the type must be the one the script uses.
    if isinstance(current, bool) != isinstance(value, bool) or isinstance(current, str) != isinstance(value, str):
        raise SchemaError(f"{name}: {value!r} is not of the type the script uses ({current!r})")


def unified_diff(before: str, after: str, path: str) -> str:
    """A diff that ``git apply`` accepts, including the no-newline-at-end marker."""
    out: list[str] = []
    for line in difflib.unified_diff(before.splitlines(keepends=True), after.splitlines(keepends=True),
                                     f"a/{path}", f"b/{path}"):
        out.append(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n")
    return "".join(out)


def program_hash(source: str, files: Mapping[str, str] | None = None) -> str:
    """sha256 of the program's syntax tree, and of the values of the config files it reads
    (``files``: every one, by name): two versions that differ only in comments or formatting are
    the same experiment, and running it again would teach nothing. A version whose only change is
    in a config file is not its parent."""
    try:
        normal = ast.dump(ast.parse(source), include_attributes=False)
    except SyntaxError:
        normal = source
    for name in sorted(files or {}):
        normal += f"\0{name}\0{normal_form(name, (files or {})[name])}"
    return hashlib.sha256(normal.encode()).hexdigest()


def changed_lines(before: str, after: str) -> list[int]:
    """1-based line numbers of ``before`` that an edit changed (for tests and reviews)."""
    matcher = difflib.SequenceMatcher(a=before.splitlines(), b=after.splitlines(), autojunk=False)
    lines: list[int] = []
    for tag, i1, i2, _, _ in matcher.get_opcodes():
        if tag != "equal":
            lines.extend(range(i1 + 1, max(i2, i1 + 1) + 1))
    return lines
