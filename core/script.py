"""Reading schema values out of a training script and writing new ones back in place.

This first version understands the most common style, module-level constants
(``LEARNING_RATE = 3e-4``), with the usual aliases; the last assignment wins, as at run time.
Rewriting replaces only the characters of the literal it targets, so every other byte of the
user's file -- comments, formatting, blank lines -- survives an edit.
"""

from __future__ import annotations

import ast
import difflib
import hashlib
from typing import Any, Mapping

import attrs

from .schema import FIELDS_BY_NAME, SchemaError, Value, check_config

# Lower-cased names a script may use for each field. Kept explicit rather than fuzzy: a wrong
# guess would make arrl tune a variable that means something else.
ALIASES: Mapping[str, tuple[str, ...]] = {
    "num_layers": ("num_layers", "n_layers", "n_layer", "layers", "depth", "num_blocks"),
    "hidden_dim": ("hidden_dim", "hidden_size", "d_model", "n_embd", "embed_dim", "width", "dim"),
    "attention_heads": ("attention_heads", "num_heads", "n_heads", "n_head", "heads"),
    "activation": ("activation", "act", "activation_fn", "nonlinearity"),
    "dropout_rate": ("dropout_rate", "dropout", "p_dropout", "drop_rate"),
    "optimizer": ("optimizer", "optimizer_type", "optim", "opt"),
    "learning_rate": ("learning_rate", "lr", "base_lr", "max_lr"),
    "weight_decay": ("weight_decay", "wd"),
    "scheduler": ("scheduler", "lr_scheduler", "lr_schedule", "schedule"),
    "batch_size": ("batch_size", "bs", "train_batch_size"),
    "gradient_clip": ("gradient_clip", "grad_clip", "clip_grad_norm", "max_grad_norm", "clip"),
    "mixed_precision": ("mixed_precision", "amp", "use_amp", "autocast"),
}
_FIELD_FOR_ALIAS = {alias: field for field, names in ALIASES.items() for alias in names}


class ScriptError(ValueError):
    """The script cannot be read (e.g. a syntax error); the message says where."""


@attrs.frozen
class Location:
    """Where a value sits in the source: 1-based lines, 0-based columns, end exclusive."""

    line: int
    col: int
    end_line: int
    end_col: int
    name: str


@attrs.frozen
class Extraction:
    """What was found in a script: values, where each one is, and what is missing."""

    values: dict[str, Value]
    locations: dict[str, Location]
    out_of_range: dict[str, str]

    @property
    def missing(self) -> tuple[str, ...]:
        return tuple(name for name in FIELDS_BY_NAME if name not in self.values)


def parse(source: str, filename: str = "<script>") -> ast.Module:
    try:
        return ast.parse(source, filename=filename)
    except SyntaxError as error:
        raise ScriptError(f"{filename}:{error.lineno}: syntax error: {error.msg}") from None


def _literal(node: ast.expr) -> Any:
    try:
        value = ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return None
    return value if isinstance(value, (int, float, str, bool)) else None


def _normalise(field: str, value: Any) -> Any:
    # Names are compared case-insensitively ("AdamW" and "adamw" are the same optimizer).
    return value.lower() if isinstance(value, str) and FIELDS_BY_NAME[field].kind == "choice" else value


def extract(source: str, filename: str = "<script>") -> Extraction:
    """Find each schema field assigned a literal at module level."""
    tree = parse(source, filename)
    values: dict[str, Value] = {}
    locations: dict[str, Location] = {}
    for statement in tree.body:
        if isinstance(statement, ast.Assign) and len(statement.targets) == 1:
            target, value_node = statement.targets[0], statement.value
        elif isinstance(statement, ast.AnnAssign) and statement.value is not None:
            target, value_node = statement.target, statement.value
        else:
            continue
        if not isinstance(target, ast.Name):
            continue
        field = _FIELD_FOR_ALIAS.get(target.id.lower())
        value = _literal(value_node)
        if field is None or value is None:
            continue
        values[field] = _normalise(field, value)
        locations[field] = Location(
            value_node.lineno,
            value_node.col_offset,
            value_node.end_lineno or value_node.lineno,
            value_node.end_col_offset or value_node.col_offset,
            target.id,
        )
    out_of_range: dict[str, str] = {}
    for field, value in values.items():
        try:
            values[field] = FIELDS_BY_NAME[field].check(value)
        except SchemaError as error:
            out_of_range[field] = str(error)
    return Extraction(values, locations, out_of_range)


def format_value(value: Value, original: str = "") -> str:
    """Source text for ``value``, keeping the original's quote style for strings."""
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, str):
        quote = "'" if original.startswith("'") else '"'
        return f"{quote}{value}{quote}"
    if isinstance(value, float):
        text = repr(value)
        # 0.0003 reads better as 3e-4, the way people write learning rates.
        short = f"{value:.6g}"
        return short if float(short) == value and len(short) < len(text) else text
    return str(value)


def apply_values(source: str, changes: Mapping[str, Value], filename: str = "<script>") -> str:
    """Return ``source`` with each changed field's literal replaced and nothing else touched.

    Raises :class:`SchemaError` for a value outside the schema or a field the script lacks.
    """
    extraction = extract(source, filename)
    check_config({**extraction.values, **changes})
    lines = source.splitlines(keepends=True)
    spans = []
    for field, value in changes.items():
        location = extraction.locations.get(field)
        if location is None:
            raise SchemaError(f"{field}: not present in {filename}, so it cannot be edited")
        start = _offset(lines, location.line, location.col)
        end = _offset(lines, location.end_line, location.end_col)
        spans.append((start, end, value))
    # Replace from the end so the offsets of earlier spans stay valid.
    text = source
    for start, end, value in sorted(spans, reverse=True):
        text = text[:start] + format_value(value, text[start:end]) + text[end:]
    return text


def _offset(lines: list[str], line: int, col: int) -> int:
    # ast columns count UTF-8 bytes; convert to a character offset within the line.
    prefix = lines[line - 1].encode()[:col].decode(errors="ignore")
    return sum(len(l) for l in lines[: line - 1]) + len(prefix)


def unified_diff(before: str, after: str, path: str) -> str:
    """A diff that ``git apply`` accepts, including the no-newline-at-end marker."""
    before_lines = before.splitlines(keepends=True)
    after_lines = after.splitlines(keepends=True)
    out: list[str] = []
    for line in difflib.unified_diff(before_lines, after_lines, f"a/{path}", f"b/{path}"):
        if line.endswith("\n"):
            out.append(line)
        else:
            out.append(line + "\n\\ No newline at end of file\n")
    return "".join(out)


def program_hash(source: str) -> str:
    """sha256 of the program's syntax tree: two scripts that differ only in comments or
    formatting are the same experiment, and running it again would teach nothing."""
    try:
        normal = ast.dump(ast.parse(source), include_attributes=False)
    except SyntaxError:
        normal = source
    return hashlib.sha256(normal.encode()).hexdigest()
