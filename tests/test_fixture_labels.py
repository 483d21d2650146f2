"""The fixtures' labels cannot rot: every folder of tests/scripts/styles/ has a labels.toml whose
every name is in its fixture, whose true knobs point at source text that is there, and whose
lists agree with its true knobs (see tests/scripts/styles/README.md for the keys). Reads files only:
no script runs."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from arrl.schema import FIELD_NAMES
from support import ROOT

STYLES = ROOT / "tests" / "scripts" / "styles"
FOLDERS = sorted(p for p in STYLES.iterdir() if p.is_dir() and not p.name.startswith(("_", ".")))
FIELD_LISTS = ("fields", "not_fields")
NAME_LISTS = ("tune", "overridden", "never", "length", "inert", "neutral")
HANDS_OFF = ("never", "length", "inert")
KNOB_KEYS = {"at", "file", "field"}


def fixture_text(folder: Path) -> str:
    """Everything the fixture consists of, its labels and an arrl.toml aside."""
    return "\n".join(p.read_text() for p in sorted(folder.rglob("*"))
                     if p.is_file() and p.suffix in (".py", ".yaml", ".json", ".toml")
                     and p.name not in ("labels.toml", "arrl.toml") and "__pycache__" not in p.parts)


def names_something(label: str, text: str) -> bool:
    """A label is in the fixture as source text (``lr_max=3e-3``), as a quoted flag (``--lr``), or
    as a name arrl shows whose every word is a word of the fixture (``HP.lr``, ``main(lr=)``,
    ``hyp['opt']['lr']``)."""
    if label.startswith("--"):
        return f'"{label}"' in text or f"'{label}'" in text
    if label in text:
        return True
    words = re.findall(r"[A-Za-z_][A-Za-z0-9_]*", label)
    return bool(words) and all(re.search(rf"(?<![A-Za-z0-9_]){word}(?![A-Za-z0-9_])", text) for word in words)


def problems(folder: Path) -> list[str]:
    path = folder / "labels.toml"
    if not path.is_file():
        return [f"{folder.name}: no labels.toml"]
    labels = tomllib.loads(path.read_text())
    text = fixture_text(folder)
    found = [f"unknown key {key!r}" for key in labels if key not in (*FIELD_LISTS, *NAME_LISTS, "knobs")]
    found += [f"{key}: {name!r} is not a schema field" for key in FIELD_LISTS for name in labels.get(key, [])
              if name not in FIELD_NAMES]
    found += [f"{key}: {name!r} is not in the fixture" for key in NAME_LISTS for name in labels.get(key, [])
              if not names_something(name, text)]
    knobs = labels.get("knobs", {})
    if not knobs:
        found.append("no [knobs]: label the true knobs")
    for name, knob in knobs.items():
        where = folder / knob.get("file", "train.py")
        if set(knob) - KNOB_KEYS or "at" not in knob:
            found.append(f"knob {name!r}: keys are at, file, field")
        elif not where.is_file() or knob["at"] not in where.read_text():
            found.append(f"knob {name!r}: {knob['at']!r} is not in {where.relative_to(folder)}")
        if "field" in knob and knob["field"] not in FIELD_NAMES:
            found.append(f"knob {name!r}: field {knob['field']!r} is not a schema field")
    fields_of_knobs = {knob.get("field") for knob in knobs.values()}
    found += [f"fields: {name!r} is the field of no knob" for name in labels.get("fields", [])
              if name not in fields_of_knobs]
    found += [f"tune: {name!r} is not a knob" for name in labels.get("tune", []) if name not in knobs]
    hands_off = {name for key in HANDS_OFF for name in labels.get(key, [])}
    found += [f"{name!r} is both a knob and hands-off" for name in hands_off & (set(knobs) | set(labels.get("tune", [])))]
    return [f"{folder.name}: {problem}" for problem in found]


@pytest.mark.parametrize("folder", FOLDERS, ids=[p.name for p in FOLDERS])
def test_every_label_names_what_is_in_its_fixture(folder: Path) -> None:
    assert problems(folder) == []


def test_a_renamed_value_or_a_stale_knob_is_caught(tmp_path: Path) -> None:
    folder = tmp_path / "style"
    folder.mkdir()
    (folder / "train.py").write_text('class HP:\n    lr = 1e-3\n    epochs = 3\n\n'
                                     'parser.add_argument("--lr-gamma", default=0.7)\n')
    labels = ('fields = ["learning_rate"]\ntune = []\nlength = ["HP.epochs"]\n'
              '[knobs]\n"HP.lr" = { at = "lr = 1e-3", field = "learning_rate" }\n')
    (folder / "labels.toml").write_text(labels)
    assert problems(folder) == []
    (folder / "labels.toml").write_text('tune2 = []\n' + labels.replace("HP.epochs", "HP.n_epochs")
                                        .replace("1e-3", "3e-4"))
    assert problems(folder) == ["style: unknown key 'tune2'", "style: length: 'HP.n_epochs' is not in the fixture",
                                "style: knob 'HP.lr': 'lr = 3e-4' is not in train.py"]
    assert not names_something("--lr", '"--lr-gamma"') and names_something("--lr-gamma", '"--lr-gamma"')
    assert names_something("hyp['opt']['lr']", "hyp = {'opt': {'lr': 1}}")
