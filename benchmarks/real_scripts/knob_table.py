"""What arrl offers on the fixture scripts of tests/scripts/styles/, against their hand-written labels.

Tables in docs/benchmarks.md: "Knobs on real scripts: the fixtures' table".

    .venv/bin/python benchmarks/real_scripts/knob_table.py            # the table
    .venv/bin/python benchmarks/real_scripts/knob_table.py --detail   # and what each count is made of
    .venv/bin/python benchmarks/real_scripts/knob_table.py --trace    # read with the baseline's trace

For each folder (its labels.toml is described in tests/scripts/styles/README.md), the script alone
(without labels.toml or an arrl.toml; with its conf/, override file and helper modules) is read as
`arrl inspect --json train.py` reads it (with `--trace`: `arrl inspect --trace`, which runs the
script once first and reads it with what that run showed): "offered" is a field arrl may edit (status `ok...` or
`tunable...`) or a candidate. Then, per fixture:

- knobs found / true: the labelled `[knobs]` that something offered stands for: an offered name
  equal to the knob's (its script name), else an offered value on a line where the knob's `at`
  text is, whose name's last word is in that text;
- false knobs: offered values that stand for no true knob, with the label of their line or name
  (`length`, `never`, `inert`, none); `neutral` ones are not counted;
- wrong mappings: a schema field read from a true knob labelled with another field or with none
  (the embedding's lr read as `learning_rate`, a micro-batch as `batch_size`);
- coupled edits: each offered value is moved once (a number doubled or halved, an integer
  stepped, a bool flipped, a choice switched), as a proposal would, with `arrl.script.apply_edit`;
  the edit is coupled when it also rewrites the source text of another labelled value.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from arrl.schema import FIELDS_BY_NAME, SchemaError
from arrl.script import Program, ScriptError, apply_edit, extract
from arrl.trace import TRACE_FILE, Facts, TraceError, facts, load, script_command

ROOT = Path(__file__).resolve().parents[2]
STYLES = ROOT / "tests" / "scripts" / "styles"
LIST_KEYS = ("never", "length", "inert", "neutral")
WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def inspect_rows(folder: Path, traced: bool) -> tuple[list[dict[str, Any]], Facts | None]:
    """`arrl inspect --json train.py` on a copy of ``folder`` without its labels or arrl.toml
    (``traced``: `--trace`, and the facts a coverage probe of the same copy gives, for the edits)."""
    with tempfile.TemporaryDirectory(prefix="arrl-knob-table-") as name:
        work = Path(name) / folder.name
        shutil.copytree(folder, work, ignore=shutil.ignore_patterns("labels.toml", "arrl.toml", "__pycache__"))
        done = subprocess.run([sys.executable, "-c", "from arrl.cli import main; main()", "inspect", "--json",
                               *(["--trace"] if traced else []), "train.py"],
                              cwd=work, capture_output=True, text=True, check=False)
        found = probe(work) if traced else None
    if done.returncode != 0:
        raise SystemExit(f"arrl inspect failed on {folder.name}: {done.stderr.strip()}")
    return json.loads(done.stdout), found


def probe(work: Path) -> Facts | None:
    """What a coverage probe of the copy shows (the facts `inspect --trace` read it with)."""
    out = work.parent / "probe"
    out.mkdir()
    command = script_command(sys.executable, "train.py", (), "coverage", output_dir=str(out), root=str(work))
    subprocess.run(command, cwd=work, capture_output=True, check=False)
    try:
        trace = load(out / TRACE_FILE)
    except TraceError:
        return None
    return facts(trace, "train.py", trace)


def offered(row: dict[str, Any]) -> bool:
    if row["kind"] == "candidate":
        return True
    return row["kind"] in ("field", "knob") and str(row["status"]).startswith(("ok", "tunable"))


def lines_of(text: str, snippet: str) -> set[int]:
    return {number for number, line in enumerate(text.splitlines(), 1) if snippet in line}


def last_word(name: str) -> str:
    words = WORD.findall(name)
    return words[-1] if words else ""


def has_word(text: str, word: str) -> bool:
    return bool(word) and re.search(rf"(?<![A-Za-z0-9_]){re.escape(word)}(?![A-Za-z0-9_])", text) is not None


class Fixture:
    """One folder: its files, its labels, and where each labelled value is written."""

    def __init__(self, folder: Path) -> None:
        self.name = folder.name
        self.labels = tomllib.loads((folder / "labels.toml").read_text())
        self.texts = {p.relative_to(folder).as_posix(): p.read_text()
                      for p in sorted(folder.rglob("*")) if p.is_file() and p.suffix in (".py", ".yaml", ".json", ".toml")
                      and p.name not in ("labels.toml", "arrl.toml") and "__pycache__" not in p.parts}
        self.knobs: dict[str, dict[str, Any]] = self.labels.get("knobs", {})
        self.sites = {name: (knob.get("file", "train.py"), lines_of(self.texts[knob.get("file", "train.py")],
                                                                    knob["at"]))
                      for name, knob in self.knobs.items()}

    def list_label(self, row: dict[str, Any]) -> str | None:
        """The list (`never`, `length`, ...) that labels this row: by its name, or by an entry on its
        line that holds the last word of its name."""
        file, line = parse_where(row["where"])
        for key in LIST_KEYS:
            entries = self.labels.get(key, [])
            if row["as"] in entries or row["field"] in entries:
                return key
        for key in LIST_KEYS:
            for entry in self.labels.get(key, []):
                if line in lines_of(self.texts.get(file, ""), entry) and has_word(entry, last_word(row["as"])):
                    return key
        return None

    def knob_of(self, row: dict[str, Any]) -> str | None:
        """The true knob an offered row stands for, if any."""
        for name in (row["as"], row["field"] if row["kind"] != "field" else None):
            if name in self.knobs:
                return name
        if any(row["as"] in self.labels.get(key, []) for key in LIST_KEYS):
            return None
        file, line = parse_where(row["where"])
        here = [name for name, (knob_file, lines) in self.sites.items() if knob_file == file and line in lines]
        word = last_word(row["as"])
        named = [name for name in here if has_word(self.knobs[name]["at"], word)]
        return named[0] if named else None

    def snippets(self) -> Iterable[tuple[str, str, str]]:
        """(owner, file, text) of every labelled value written as source text."""
        for name, knob in self.knobs.items():
            yield name, knob.get("file", "train.py"), knob["at"]
        for key in LIST_KEYS:
            for entry in self.labels.get(key, []):
                for file, text in self.texts.items():
                    if entry in text:
                        yield f"{key}:{entry}", file, entry


def parse_where(where: str) -> tuple[str, int]:
    file, _, line = where.rpartition(":")
    return file, int(line) if line.isdigit() else 0


def moves(value: Any, choices: Iterable[Any]) -> list[Any]:
    """The values a proposal would try first: a neighbour of the baseline's."""
    if isinstance(value, bool):
        return [not value]
    if isinstance(value, int):
        return [value + 1, value * 2, value - 1]
    if isinstance(value, float):
        return [value * 2, value / 2] if value else [0.1, 0.01, 1.0]
    return [c for c in choices if c != value]


def edit_of(fixture: Fixture, folder: Path, row: dict[str, Any], choices: dict[str, tuple],
            found: Facts | None) -> tuple[Any, Program] | None:
    """One move of an offered value with apply_edit: (new value, the program), or None."""
    source = fixture.texts["train.py"]
    name = row["field"]
    field = FIELDS_BY_NAME.get(name)
    alternatives = choices.get(name) or (field.choices if field is not None else ())
    for value in moves(row["value"], alternatives):
        try:
            edited = apply_edit(source, {name: value}, "train.py", directory=folder, facts=found)
        except (SchemaError, ScriptError, ValueError):
            continue
        if edited.script != source or edited.files:
            return value, edited
    return None


def coupled(fixture: Fixture, row: dict[str, Any], knob: str | None, edited: Program) -> list[str]:
    """The labelled values other than the edited one whose source text the edit rewrote (in the
    script or in a config file)."""
    own_file, line = parse_where(row["where"])
    word = last_word(row["as"])
    after = {"train.py": edited.script, **edited.files}
    hits = []
    for owner, file, text in fixture.snippets():
        if owner == knob or file not in after:
            continue
        source = fixture.texts[file]
        if file == own_file and line in lines_of(source, text) and has_word(text, word):
            continue  # the edited value's own text
        if after[file].count(text) < source.count(text):
            hits.append(owner)
    return hits


def measure(folder: Path, traced: bool = False) -> dict[str, Any]:
    fixture = Fixture(folder)
    shown, found_facts = inspect_rows(folder, traced)
    rows = [r for r in shown if offered(r)]
    candidates = tuple(r["field"] for r in rows if r["kind"] == "candidate")
    try:
        choices = extract(fixture.texts["train.py"], "train.py", None, candidates, folder, found_facts).choices
    except (ScriptError, ValueError):
        choices = {}
    found: dict[str, str] = {}
    false: list[str] = []
    wrong: list[str] = []
    couples: list[str] = []
    for row in rows:
        knob = fixture.knob_of(row)
        label = f"{row['field']} ({row['as']}, {row['where']})"
        if knob is None:
            category = fixture.list_label(row)
            if category != "neutral":
                false.append(f"{label}: {category or 'unlabelled'}")
        else:
            found.setdefault(knob, label)
            wanted = fixture.knobs[knob].get("field")
            if row["kind"] == "field" and row["field"] != wanted:
                wrong.append(f"{label} is the knob {knob}, labelled {wanted or 'no schema field'}")
        edit = edit_of(fixture, folder, row, choices, found_facts)
        if edit is not None:
            hits = coupled(fixture, row, knob, edit[1])
            if hits:
                couples.append(f"{row['field']} {row['value']!r} -> {edit[0]!r} also rewrites {', '.join(hits)}")
    missed = [name for name in fixture.knobs if name not in found]
    return {"fixture": fixture.name, "true": len(fixture.knobs), "found": len(found), "missed": missed,
            "false": false, "wrong": wrong, "coupled": couples}


def table(results: list[dict[str, Any]]) -> str:
    lines = ["| fixture | knobs found / true | false knobs | wrong mappings | coupled edits |",
             "| --- | --- | --- | --- | --- |"]
    for r in results:
        lines.append(f"| {r['fixture']} | {r['found']} / {r['true']} | {len(r['false'])} | {len(r['wrong'])} | "
                     f"{len(r['coupled'])} |")
    found, true = sum(r["found"] for r in results), sum(r["true"] for r in results)
    lines.append(f"| **total** | **{found} / {true} ({100 * found / true:.0f} %)** | "
                 f"**{sum(len(r['false']) for r in results)}** | **{sum(len(r['wrong']) for r in results)}** | "
                 f"**{sum(len(r['coupled']) for r in results)}** |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--detail", action="store_true", help="list the missed, false, wrong and coupled knobs")
    parser.add_argument("--trace", action="store_true",
                        help="read each script with what its baseline shows (`arrl inspect --trace`: a probe run)")
    parser.add_argument("fixtures", nargs="*", help="folder names under tests/scripts/styles (default: all)")
    args = parser.parse_args()
    folders = [STYLES / name for name in args.fixtures] or sorted(p.parent for p in STYLES.glob("*/labels.toml"))
    results = [measure(folder, args.trace) for folder in folders]
    print(table(results))
    if args.detail:
        for r in results:
            print(f"\n{r['fixture']}:")
            for key, title in (("missed", "missed"), ("false", "false"), ("wrong", "wrong mapping"),
                               ("coupled", "coupled")):
                for item in r[key]:
                    print(f"  {title}: {item}")


if __name__ == "__main__":
    main()
