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

import bisect
import json
import math
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
    except (yaml.YAMLError, ValueError, RecursionError) as error:  # JSON's and TOML's errors are ValueErrors
        raise ConfigError(f"{file} cannot be read: {type(error).__name__}: {error}".replace("\n", " ")[:400]) from None


# -- YAML -----------------------------------------------------------------------------------------

# The float OmegaConf adds to YAML 1.1's (which needs a dot): 1e-3 and 1e+3 are floats to it,
# strings to PyYAML (omegaconf/_utils.py, get_yaml_loader). ASCII digits only, as both read them.
_OMEGACONF_FLOAT = re.compile(r"""[-+]?[0-9][0-9_]*\.[0-9_]*(?:[eE][-+]?[0-9]+)?
    |[-+]?[0-9][0-9_]*(?:[eE][-+]?[0-9]+)
    |\.[0-9_]+(?:[eE][-+][0-9]+)?
    |[-+]?\.(?:inf|Inf|INF)
    |\.(?:nan|NaN|NAN)""", re.X)
_STR_TAG = "tag:yaml.org,2002:str"


def yaml_value(node: yaml.ScalarNode, omegaconf: bool = True) -> Value:
    """A YAML scalar's value as the script gets it: through OmegaConf (Hydra, ``OmegaConf.load``),
    or ``omegaconf=False``, through PyYAML's safe loader. A value of another type (a date) is its text."""
    try:
        value = yaml.SafeLoader("").construct_object(node, deep=True)
    except (yaml.YAMLError, ValueError, OverflowError):
        return node.value
    if omegaconf and node.tag == _STR_TAG and not node.style and _OMEGACONF_FLOAT.fullmatch(node.value):
        return float(node.value.replace("_", ""))
    return value if value is None or isinstance(value, (bool, int, float, str)) else node.value


def _read_yaml(file: str, text: str) -> Document:
    tree = yaml.compose(text, Loader=yaml.SafeLoader)
    if tree is None:
        return Document(file, text, {}, None)
    if not isinstance(tree, yaml.MappingNode):
        raise ConfigError(f"{file}: the top of a config file must be a mapping")
    scalars: dict[str, Scalar] = {}
    for key, node in walk_yaml(tree):
        # An empty value (``lr:``) occupies no characters, and an anchored, aliased or merged one
        # (``&lr 0.1``, ``*lr``, ``<<:``) is written once for several keys: none is edited alone.
        if isinstance(node, yaml.ScalarNode) and node.end_mark.index > node.start_mark.index \
                and text[node.start_mark.index] not in "&*" and "<<" not in key.split("."):
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

_TOML_TABLE = re.compile(r"^\s*\[\s*([^\[\]]+?)\s*\]\s*(#.*)?$")
_TOML_ENTRY = re.compile(r"^(\s*)([A-Za-z0-9_\-]+)(\s*=\s*)(.*)$")
_TOML_MULTILINE = re.compile(r'"""|\'\'\'')


def _toml_scalars(file: str, text: str) -> Iterator[tuple[str, Scalar]]:
    """``key = value`` lines under ``[table]`` headers. Each value is checked against what tomllib
    reads at its key, and a key seen twice or read otherwise is left out: what is read is exactly
    what the script gets."""
    parsed = tomllib.loads(text)  # invalid TOML is said here, with its line
    table: str | None = ""
    offset, inside = 0, ""  # inside: the quotes of a multi-line string the line is in
    found: dict[str, Scalar] = {}
    doubtful: set[str] = set()
    for number, line in enumerate(re.split(r"(?<=\n)", text), start=1):
        body = line.rstrip("\r\n")
        if inside:
            inside = "" if body.count(inside) % 2 else inside
        elif body.lstrip().startswith("[["):
            table = None  # arrays of tables: not read
        elif _TOML_TABLE.match(body):
            table = _table_path(_TOML_TABLE.match(body).group(1))  # type: ignore[union-attr]
        elif (entry := _TOML_ENTRY.match(body)) is not None and table is not None:
            raw, value = _toml_value(entry.group(4))
            if raw is None:
                opened = _TOML_MULTILINE.search(entry.group(4))
                inside = opened.group(0) if opened and entry.group(4).count(opened.group(0)) % 2 else ""
            elif isinstance(value, (bool, int, float, str)):
                key = f"{table}{entry.group(2)}"
                start = offset + len(entry.group(1)) + len(entry.group(2)) + len(entry.group(3))
                if key in found:
                    doubtful.add(key)
                found[key] = Scalar(file, key, value, start, start + len(raw), number,
                                    raw[0] if raw[0] in "'\"" else "")
        offset += len(line)
    for key, scalar in found.items():
        if key not in doubtful and _at(parsed, key) == (type(scalar.value), scalar.value):
            yield key, scalar


def _table_path(header: str) -> str | None:
    """A table header's dotted path (``optimizer``, ``"a b".c``), or None where arrl cannot say it."""
    try:
        parsed = tomllib.loads(f"[{header}]\n")
    except tomllib.TOMLDecodeError:
        return None
    parts: list[str] = []
    while isinstance(parsed, dict) and len(parsed) == 1:
        name, parsed = next(iter(parsed.items()))
        parts.append(name)
    return "".join(f"{p}." for p in parts)


def _toml_value(rest: str) -> tuple[str | None, object]:
    """The value's text (the shortest prefix that is a whole value, a comment after it) and the value."""
    for end in [m.start() for m in re.finditer("#", rest)] + [len(rest)]:
        raw = rest[:end].rstrip()
        try:
            return raw, tomllib.loads(f"v = {raw}")["v"]
        except tomllib.TOMLDecodeError:
            continue
    return None, None


def _at(tree: dict, key: str) -> tuple[type, object] | None:
    node: object = tree
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return type(node), node


def _line_starts(text: str) -> list[int]:
    return [0] + [m.end() for m in re.finditer("\n", text)]


def _line_of(starts: list[int], index: int) -> int:
    return bisect.bisect_right(starts, index)


# -- writing --------------------------------------------------------------------------------------


def format_scalar(kind: str, value: Value, original: Scalar, old: str = "") -> str:
    """Source text for ``value`` in a file of ``kind``, written like the value it replaces."""
    if isinstance(value, bool):
        if kind == "yaml":
            word = "true" if value else "false"
            return word.capitalize() if old[:1].isupper() else word
        return "true" if value else "false"
    if isinstance(value, str):
        quote = original.quote or ('"' if kind in ("json", "toml") else "")
        if not quote and (not re.fullmatch(r"[A-Za-z_][\w.\-/]*", value) or _OMEGACONF_FLOAT.fullmatch(value)
                          or value.lower() in ("true", "false", "yes", "no", "on", "off", "null", "y", "n")):
            quote = '"'  # a plain scalar that YAML would read as something else
        if quote == "'" and kind == "toml" and ("'" in value or not value.isprintable()):
            quote = '"'  # a TOML literal string has no escapes
        escaped = json.dumps(value)[1:-1] if quote == '"' else value.replace("'", "''")
        return f"{quote}{escaped}{quote}"
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ConfigError(f"{original.name}: {value!r} is not a number a config file can hold")
        return _float_text(value, kind, old)
    if isinstance(value, int):
        return str(value)
    raise ConfigError(f"{original.name}: {value!r} cannot be written to a config file")


def _float_text(value: float, kind: str, old: str = "") -> str:
    """The shortest text that reads back as ``value``, in the style of ``old`` (a power of ten
    stays one), and for YAML one that PyYAML and OmegaConf both read as a float (3.0e-4, with its
    dot and signed exponent)."""
    text = repr(value)
    if "e" in old.lower() and "e" not in text and value != 0:
        text = next(t for t in (f"{value:.{p}e}" for p in range(17)) if float(t) == value)
    if "e" in text:
        mantissa, exponent = text.split("e")
        if "." in mantissa:
            mantissa = mantissa.rstrip("0").rstrip(".")
        if kind == "yaml":
            mantissa = mantissa if "." in mantissa else mantissa + ".0"
            return f"{mantissa}e{'-' if int(exponent) < 0 else '+'}{abs(int(exponent))}"
        return f"{mantissa}e{int(exponent)}"
    return text if "." in text else text + ".0"  # a float stays a float


def replace(document: Document, changes: dict[str, Value]) -> str:
    """``document``'s text with each changed key's scalar rewritten, every other byte kept.
    Raises :class:`ConfigError` for a value that would not read back as itself."""
    kind = kind_of(document.file)
    text = document.text
    for key in sorted(changes, key=lambda k: document.scalars[k].start, reverse=True):
        scalar = document.scalars[key]
        new = format_scalar(kind, changes[key], scalar, text[scalar.start:scalar.end])
        text = text[:scalar.start] + new + text[scalar.end:]
    written = read(document.file, text).scalars
    for key, value in changes.items():
        back = written[key].value if key in written else None
        if key not in written or back != value or type(back) is not type(value):
            raise ConfigError(f"{document.file}: {key} = {value!r} cannot be written so that it reads back the same")
    return text


def normal_form(file: str, text: str) -> str:
    """What a config file says, without its comments and formatting (for a program's hash); its
    text as it is when it cannot be read."""
    try:
        kind = kind_of(file)
        loaded = yaml.safe_load(text) if kind == "yaml" else json.loads(text) if kind == "json" else tomllib.loads(text)
    except (ConfigError, yaml.YAMLError, ValueError, RecursionError):
        return text
    return json.dumps(loaded, sort_keys=True, default=str)
