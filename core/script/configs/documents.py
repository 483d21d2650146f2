"""Config files as arrl reads and edits them: every scalar with the exact characters it occupies.

An edit replaces those characters and nothing else, so comments, key order, quoting and number
formats survive (a round trip through a YAML library would turn ``3.0e-4`` into ``0.0003`` and
drop the comments). YAML is read with PyYAML's composer, whose nodes carry their source marks;
JSON with a small scanner that keeps offsets (the standard library's does not); TOML's
``key = value`` lines under ``[table]`` headers by a line reader (arrays of tables and multi-line
values are read as nothing, never edited).

Values are typed the way the script's loader types them: YAML as OmegaConf does (YAML 1.1 plus
``1e-3`` as a float), JSON and TOML by their specifications.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Iterator
from typing import Any

import attrs
import yaml

Value = bool | int | float | str | None


class ConfigError(ValueError):
    """A config file arrl cannot read, or an edit of one it refuses."""


@attrs.frozen
class Scalar:
    """One scalar value of a config file and where its source text is."""

    file: str  # the file, relative to the script's folder, '/'-separated
    key: str  # its dotted key in that file ("lr", "trainer.max_epochs")
    value: Value
    start: int  # offsets of its source text in the file's text
    end: int
    line: int  # 1-based
    quote: str = ""  # the quote it is written with, or ""

    @property
    def name(self) -> str:
        """How arrl names it: file and dotted key (``conf/optimizer/adam.yaml:lr``)."""
        return f"{self.file}:{self.key}"


@attrs.frozen
class Document:
    """A config file read: its text, its scalars by dotted key, and the parsed tree (YAML only)."""

    file: str
    text: str
    scalars: dict[str, Scalar]
    tree: Any = None  # yaml.MappingNode for YAML


def kind_of(file: str) -> str:
    lower = file.lower()
    if lower.endswith((".yaml", ".yml")):
        return "yaml"
    if lower.endswith(".json"):
        return "json"
    if lower.endswith(".toml"):
        return "toml"
    raise ConfigError(f"{file}: arrl reads YAML, JSON and TOML config files, not this kind")


def read(file: str, text: str) -> Document:
    """The scalars of ``text``, the contents of ``file``."""
    kind = kind_of(file)
    try:
        if kind == "yaml":
            return _read_yaml(file, text)
        if kind == "json":
            return Document(file, text, dict(_json_scalars(file, text)))
        return Document(file, text, dict(_toml_scalars(file, text)))
    except (yaml.YAMLError, json.JSONDecodeError, tomllib.TOMLDecodeError) as error:
        raise ConfigError(f"{file} cannot be read: {error}".replace("\n", " ")) from None


# -- YAML -----------------------------------------------------------------------------------------

# YAML 1.1's float needs a dot; OmegaConf also reads 1e-3 and 1e+3 as floats.
_YAML_FLOAT = re.compile(r"[-+]?(\d[\d_]*)?\.?\d[\d_]*([eE][-+]?\d+)?|[-+]?\.(inf|Inf|INF)|\.(nan|NaN|NAN)")
_FLOAT_TAG, _INT_TAG, _BOOL_TAG, _NULL_TAG = (f"tag:yaml.org,2002:{t}" for t in ("float", "int", "bool", "null"))


def yaml_value(node: yaml.ScalarNode) -> Value:
    """A YAML scalar's value as OmegaConf gives it to the script."""
    text = node.value
    if node.style:  # quoted: a string, whatever it says
        return text
    if node.tag == _NULL_TAG:
        return None
    if node.tag == _BOOL_TAG:
        return text.lower() in ("true", "yes", "on", "y")
    if node.tag == _INT_TAG:
        try:
            return int(text.replace("_", ""), 0)
        except ValueError:
            return text
    if node.tag == _FLOAT_TAG or _YAML_FLOAT.fullmatch(text):
        try:
            return float(text.replace("_", ""))
        except ValueError:
            return text
    return text


def _read_yaml(file: str, text: str) -> Document:
    tree = yaml.compose(text, Loader=yaml.SafeLoader)
    if tree is None:
        return Document(file, text, {}, None)
    if not isinstance(tree, yaml.MappingNode):
        raise ConfigError(f"{file}: the top of a config file must be a mapping")
    scalars: dict[str, Scalar] = {}
    for key, node in walk_yaml(tree):
        if isinstance(node, yaml.ScalarNode):
            quote = text[node.start_mark.index] if node.style in ("'", '"') else ""
            scalars[key] = Scalar(file, key, yaml_value(node), node.start_mark.index, node.end_mark.index,
                                  node.start_mark.line + 1, quote)
    return Document(file, text, scalars, tree)


def walk_yaml(node: yaml.MappingNode, prefix: str = "") -> Iterator[tuple[str, yaml.Node]]:
    """(dotted key, value node) of every mapping entry under ``node``, depth first."""
    for key_node, value in node.value:
        key = f"{prefix}{key_node.value}"
        yield key, value
        if isinstance(value, yaml.MappingNode):
            yield from walk_yaml(value, key + ".")


# -- JSON -----------------------------------------------------------------------------------------

_JSON_NUMBER = re.compile(r"-?(0|[1-9]\d*)(\.\d+)?([eE][-+]?\d+)?")
_SPACE = re.compile(r"[ \t\n\r]*")


def _json_scalars(file: str, text: str) -> Iterator[tuple[str, Scalar]]:
    """The scalars of a JSON object with their offsets (json.loads checks it is valid first)."""
    if not isinstance(json.loads(text), dict):
        raise ConfigError(f"{file}: the top of a config file must be an object")
    decoder = json.JSONDecoder()
    lines = _line_starts(text)

    def value_at(index: int, key: str) -> Iterator[tuple[str, Scalar]]:
        index = _SPACE.match(text, index).end()  # type: ignore[union-attr]
        if text[index] == "{":
            yield from object_at(index, key + ".")
            return
        if text[index] == "[":  # lists are read as nothing
            return
        value, end = decoder.raw_decode(text, index)
        if isinstance(value, (bool, int, float, str)) or value is None:
            yield key, Scalar(file, key, value, index, end, _line_of(lines, index), '"' if text[index] == '"' else "")

    def object_at(index: int, prefix: str) -> Iterator[tuple[str, Scalar]]:
        index += 1
        while True:
            index = _SPACE.match(text, index).end()  # type: ignore[union-attr]
            if text[index] == "}":
                return
            if text[index] == ",":
                index += 1
                continue
            name, index = decoder.raw_decode(text, index)
            index = _SPACE.match(text, index).end() + 1  # type: ignore[union-attr]  # the colon
            yield from value_at(index, f"{prefix}{name}")
            index = _end_of_value(text, decoder, _SPACE.match(text, index).end())  # type: ignore[union-attr]

    start = _SPACE.match(text, 0).end()  # type: ignore[union-attr]
    yield from object_at(start, "")


def _end_of_value(text: str, decoder: json.JSONDecoder, index: int) -> int:
    return decoder.raw_decode(text, index)[1]


# -- TOML -----------------------------------------------------------------------------------------

_TOML_TABLE = re.compile(r"^\s*\[\s*([A-Za-z0-9_.\-\" ]+?)\s*\]\s*(#.*)?$")
_TOML_ENTRY = re.compile(r"^(\s*)([A-Za-z0-9_\-]+)(\s*=\s*)(.*?)(\s*(#.*)?)$")


def _toml_scalars(file: str, text: str) -> Iterator[tuple[str, Scalar]]:
    """``key = value`` lines under ``[table]`` headers, each value checked with tomllib."""
    tomllib.loads(text)  # invalid TOML is said here, with its line
    table, offset = "", 0
    for number, line in enumerate(text.splitlines(keepends=True), start=1):
        body = line.rstrip("\r\n")
        header = _TOML_TABLE.match(body)
        if header:
            table = header.group(1).replace('"', "").replace(" ", "") + "."
        elif body.lstrip().startswith("[["):
            table = "\0"  # arrays of tables: not read
        else:
            entry = _TOML_ENTRY.match(body)
            if entry and table != "\0":
                raw = entry.group(4)
                try:
                    value = tomllib.loads(f"v = {raw}")["v"]
                except tomllib.TOMLDecodeError:
                    value = None  # a multi-line value: not read
                    raw = ""
                if raw and (isinstance(value, (bool, int, float, str))):
                    start = offset + len(entry.group(1)) + len(entry.group(2)) + len(entry.group(3))
                    key = f"{table.lstrip('.')}{entry.group(2)}"
                    yield key, Scalar(file, key, value, start, start + len(raw), number,
                                      raw[0] if raw[0] in "'\"" else "")
        offset += len(line)


def _line_starts(text: str) -> list[int]:
    return [0] + [m.end() for m in re.finditer("\n", text)]


def _line_of(starts: list[int], index: int) -> int:
    import bisect

    return bisect.bisect_right(starts, index)


# -- writing --------------------------------------------------------------------------------------


def format_scalar(kind: str, value: Value, original: Scalar, old: str = "") -> str:
    """Source text for ``value`` in a file of ``kind``, written like the value it replaces."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        quote = original.quote or ('"' if kind in ("json", "toml") else "")
        if not quote and (not re.fullmatch(r"[A-Za-z_][\w.\-/]*", value) or _YAML_FLOAT.fullmatch(value)
                          or value.lower() in ("true", "false", "yes", "no", "on", "off", "null", "y", "n")):
            quote = '"'  # a plain scalar that YAML would read as something else
        escaped = json.dumps(value)[1:-1] if quote == '"' else value.replace("'", "''")
        return f"{quote}{escaped}{quote}"
    if isinstance(value, float):
        return _float_text(value, kind, old)
    if isinstance(value, int):
        return str(value)
    raise ConfigError(f"{original.name}: {value!r} cannot be written to a config file")


def _float_text(value: float, kind: str, old: str = "") -> str:
    text = repr(value)
    short = f"{value:.6g}"
    if float(short) == value and len(short) < len(text):
        text = short
    if "e" in old.lower() and "e" not in text and value != 0 and abs(value) < 1e16:
        # Written as a power of ten (3.0e-4), it stays one.
        mantissa, exponent = f"{value:.6e}".split("e")
        mantissa = mantissa.rstrip("0").rstrip(".")
        text = f"{mantissa}e{int(exponent)}"
    if kind == "yaml" and "e" in text and not re.fullmatch(r"[-+]?\d+[eE][-+]?\d+", old):
        # YAML 1.1 (PyYAML) reads a float only with a dot and a signed exponent: 3.0e-4, not 3e-4
        # (OmegaConf reads both; a file already written 3e-4 is read by such a loader).
        mantissa, exponent = text.split("e")
        mantissa = mantissa if "." in mantissa else mantissa + ".0"
        sign = exponent[0] if exponent[0] in "+-" else "+"
        return f"{mantissa}e{sign}{exponent.lstrip('+-')}"
    if "." not in text and "e" not in text and "n" not in text:
        text += ".0"  # a float stays a float
    return text


def replace(document: Document, changes: dict[str, Value]) -> str:
    """``document``'s text with each changed key's scalar rewritten, every other byte kept."""
    kind = kind_of(document.file)
    text = document.text
    for key in sorted(changes, key=lambda k: document.scalars[k].start, reverse=True):
        scalar = document.scalars[key]
        old = text[scalar.start:scalar.end]
        new = _written_like(kind, changes[key], scalar, old)
        text = text[:scalar.start] + new + text[scalar.end:]
    return text


def _written_like(kind: str, value: Value, scalar: Scalar, old: str) -> str:
    if isinstance(value, bool) and kind == "yaml":
        word = "true" if value else "false"
        return word.capitalize() if old[:1].isupper() else word.upper() if old.isupper() and len(old) > 1 else word
    return format_scalar(kind, value, scalar, old)


def normal_form(file: str, text: str) -> str:
    """What a config file says, without its comments and formatting (for a program's hash); its
    text as it is when it cannot be read."""
    try:
        kind = kind_of(file)
        loaded = yaml.safe_load(text) if kind == "yaml" else json.loads(text) if kind == "json" else tomllib.loads(text)
    except (ConfigError, yaml.YAMLError, ValueError):
        return text
    return json.dumps(loaded, sort_keys=True, default=str)
