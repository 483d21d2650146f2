"""Checks of the proposal as a whole: its size, the source as the interpreter reads it, the
frozen regions' text, and the values arrl reads from it.

These run before any statement is judged: a proposal too large, declaring another encoding than
the baseline, or read differently by the interpreter than by the validator is refused outright,
since nothing the statement checks would see could be trusted.
"""

from __future__ import annotations

import ast
import codecs
import io
import tokenize
from collections.abc import Generator, Iterator
from typing import Any

import attrs

from arrl.records import ValidationIssue
from arrl.schema import SchemaError
from arrl.script.space import SpaceSettings, build_space

from ..tables import FROZEN_END, FROZEN_START

Regions = list[tuple[int, int, str]]


@attrs.frozen
class Source:
    """The proposal and its baseline as arrl received them, before they are read as Python."""

    proposed: str
    baseline: str
    max_bytes: int


@attrs.frozen
class Program:
    """The proposal as the interpreter will read it, beside its baseline."""

    proposed: str  # decoded by its encoding declaration
    baseline: str
    raw: bytes  # the bytes arrl writes to the workspace
    tree: ast.Module
    regions: Regions  # the baseline's frozen regions
    values: ValueDomains | None  # None: the values are not judged (option check_ranges)


def declared_encoding(source: str) -> str:
    """The codec the interpreter decodes ``source``'s file with (PEP 263 and a BOM), normalised."""
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(source.encode("utf-8", "surrogatepass")).readline)
    except SyntaxError as error:
        raise ValueError(str(error)) from None
    name = codecs.lookup(encoding).name
    return "utf-8" if name in ("utf-8", "utf-8-sig") else name


def frozen_regions(source: str) -> Regions:
    """(first line, last line, text) of every ``# arrl: frozen`` ... ``# arrl: end frozen`` region."""
    regions = []
    start: int | None = None
    lines = source.splitlines(keepends=True)
    for number, line in enumerate(lines, 1):
        if start is None and FROZEN_START.search(line):
            start = number
        elif start is not None and FROZEN_END.search(line):
            regions.append((start, number, "".join(lines[start - 1:number])))
            start = None
    if start is not None:
        regions.append((start, len(lines), "".join(lines[start - 1:])))
    return regions


def script_size(source: Source) -> Iterator[ValidationIssue]:
    size = len(source.proposed.encode("utf-8", "surrogatepass"))
    if size > source.max_bytes:
        yield ValidationIssue(f"script is {size} bytes, over the {source.max_bytes} limit")


def same_encoding(source: Source) -> Iterator[ValidationIssue]:
    """The proposal declares the baseline's encoding: one that turns a "comment" into code
    (``# coding: raw_unicode_escape``) makes the interpreter run what the validator never read."""
    try:
        wanted = declared_encoding(source.baseline)
    except (ValueError, LookupError):
        wanted = "utf-8"
    try:
        declared = declared_encoding(source.proposed)
    except (ValueError, LookupError) as error:
        yield ValidationIssue(f"unusable source encoding declaration: {error}", 1)
        return
    if declared != wanted:
        yield ValidationIssue(f"declares the source encoding {declared!r}, the baseline {wanted!r}: the "
                              "interpreter would run different code from what the validator reads", 1)


def decode(proposed: str, baseline: str) -> Generator[ValidationIssue, None, tuple[str, str] | None]:
    """Both scripts as the interpreter will read them from the files arrl writes (UTF-8 bytes,
    decoded by the proposal's encoding declaration, which same_encoding holds to the baseline's);
    None when they cannot be decoded. (A generator returning a value: ``decoded = yield from ...``.)"""
    try:
        declared = declared_encoding(proposed)
    except (ValueError, LookupError):
        declared = "utf-8"
    try:
        texts = tuple(t.encode("utf-8", "surrogatepass").decode(declared).lstrip("\ufeff")
                      for t in (proposed, baseline))
    except (UnicodeError, LookupError) as error:
        yield ValidationIssue(f"cannot decode the script as {declared}: {error}", 1)
        return None
    return texts[0], texts[1]


class ValueDomains:
    """Judges the values arrl reads against the domains grown around the baseline's values."""

    def __init__(self, field_map: dict[str, str], space: SpaceSettings) -> None:
        self.field_map = field_map
        self.space = space
        # The baseline's values by its text: a run validates every proposal against the same
        # last good version, and reading it again took a third of each validation.
        self.baseline_values: dict[str, dict[str, Any]] = {}

    def judge(self, proposed: str, baseline: str) -> Iterator[ValidationIssue]:
        from arrl.script.reader import ScriptError, extract  # libcst: not at registration

        knobs = self.space.knobs
        try:
            extraction = extract(proposed, mapping=self.field_map, knobs=knobs)
        except (SchemaError, ScriptError) as error:
            yield ValidationIssue(str(error))
            return
        before = self.baseline_values.get(baseline)
        if before is None:
            try:
                before = extract(baseline, mapping=self.field_map, knobs=knobs).values
            except (SchemaError, ScriptError):
                before = {}  # an unreadable baseline: every value is judged against its domain
            if len(self.baseline_values) >= 8:
                self.baseline_values.clear()
            self.baseline_values[baseline] = before
        space = build_space(before, self.space)
        for field, message in space.judge(extraction.values, before):
            site = extraction.sites.get(field)
            yield ValidationIssue(message, site.line if site else None)


def value_domains(program: Program) -> Iterator[ValidationIssue]:
    if program.values is not None:
        yield from program.values.judge(program.proposed, program.baseline)


def frozen_text(program: Program) -> Iterator[ValidationIssue]:
    """The frozen regions are byte-identical to the baseline's, and no region is added."""
    before, after = program.regions, frozen_regions(program.proposed)
    if [text for _, _, text in before] == [text for _, _, text in after]:
        return
    for index, (start, _, text) in enumerate(before):
        if index >= len(after) or after[index][2] != text:
            where = after[index][0] if index < len(after) else start
            yield ValidationIssue("changes frozen evaluation code (between '# arrl: frozen' and "
                                  "'# arrl: end frozen')", where)
            return
    yield ValidationIssue("adds a frozen region the baseline does not have", after[len(before)][0])


def read_as_written(program: Program) -> Iterator[ValidationIssue]:
    """The interpreter's own tokenizer, given the file's bytes (coding cookie, BOM and newline rules
    included), builds the same syntax tree the validator checks. Parsing builds a tree only;
    nothing is executed."""
    try:
        from_bytes = ast.parse(program.raw)
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        from_bytes = None
    if from_bytes is None or ast.dump(from_bytes) != ast.dump(program.tree):
        yield ValidationIssue("the interpreter reads this file differently from its text (line endings or "
                              "encoding tricks)", 1)
