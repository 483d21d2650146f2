"""Config files: the values a script's config holds, read where they are written
(:mod:`arrl.script.configs`): Hydra's composition of a ``@hydra.main`` config, and the JSON, TOML
and YAML files a script loads itself (``json.load(open(args.config))``, ``tomllib.load``).

Each scalar becomes a literal of the file's style (``yaml``, ``json``, ``toml``), named by file and
dotted key (``conf/optimizer/adam.yaml:lr``), which the rules then weigh like any other literal:
its key's name says its field (``lr``, ``weight_decay``, ``batch_size``), and the rest are
candidates. A value Hydra sets again (a later layer of the defaults list, or the ``args``
setting's ``key=value``) is shown as overridden, as is a literal of the script that a loaded file
sets again by name. The optimizer is a Hydra group's ``_target_`` or an optimizer table's
``type``/``name``: an edit picks among the optimizers that take every argument the config gives.
"""

from __future__ import annotations

import ast
import posixpath
from collections.abc import Mapping, Sequence
from pathlib import Path

import attrs

from arrl.script.configs import ConfigError, Document, Scalar, compose, hydra_main, read
from arrl.script.configs.documents import kind_of
from arrl.script.configs.hydra import Composition
from arrl.script.configs.loads import loaded_files

from .code import OPTIMIZER_CLASSES, OPTIMIZER_KEYWORDS
from .draft import Draft
from .findings import Assignment, Findings
from .names import normal_name
from .results import Site

# The optimizers a config may name by type or name (Lion needs a class the script imports).
_OPTIMIZER_ARGUMENTS = {name: OPTIMIZER_KEYWORDS[name] for name in ("adam", "adamw", "sgd")}
_ORDER = 1_000_000  # config values come after every literal of the script


@attrs.define
class ConfigAssignment(Assignment):
    """A config file's scalar as a literal: ``node`` is its :class:`Scalar`; ``composed`` is where
    it lands in ``cfg`` (``optimizer.lr``)."""

    composed: str = ""


@attrs.frozen
class ConfigReading:
    composition: Composition | None  # Hydra's, when the script has a @hydra.main
    loaded: dict[str, Document]  # files the script loads itself (json.load, tomllib.load, ...), by name
    assignments: list[ConfigAssignment]

    @property
    def documents(self) -> dict[str, Document]:
        """Every config file read, by name: what a version's config files are."""
        return {**(self.composition.documents if self.composition is not None else {}), **self.loaded}


def read_configs(source: str, directory: Path | None, args: Sequence[str],
                 texts: Mapping[str, str] | None) -> ConfigReading | None:
    """The config files a script reads (Hydra's composition, the files it loads itself), as
    literals; None for a script without any. Raises :class:`ConfigError` for one that cannot be read."""
    if directory is None and texts is None:
        return None
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return None
    found = hydra_main(tree) if "hydra" in source else None
    composition = compose(directory, found[0], found[1], args, texts) if found is not None else None
    loaded: dict[str, Document] = {}
    for name, _ in loaded_files(tree, args):
        text = _text(name, directory, texts)
        if text is None or (composition is not None and name in composition.documents):
            continue
        try:
            loaded[name] = read(name, text)
        except ConfigError:
            continue  # not a config (a list of labels, a data file): the script's business, not a knob
    if composition is None and not loaded:
        return None
    values = list(composition.values.items()) if composition is not None else []
    values += [(key, scalar) for document in loaded.values() for key, scalar in document.scalars.items()]
    assignments = [
        ConfigAssignment(scalar.name, normal_name(key.rsplit(".", 1)[-1]), scalar.value, scalar,  # type: ignore[arg-type]
                         scalar.line, kind_of(scalar.file), _ORDER + n, composed=key)
        for n, (key, scalar) in enumerate(values)
        if scalar.value is not None and not key.rsplit(".", 1)[-1].startswith("_")
    ]
    return ConfigReading(composition, loaded, assignments)


def _text(name: str, directory: Path | None, texts: Mapping[str, str] | None) -> str | None:
    if texts is not None and name in texts:
        return texts[name]
    if directory is None:
        return None
    try:
        with open(directory / name, encoding="utf-8", newline="") as handle:  # CRLF stays CRLF
            return handle.read()
    except (OSError, UnicodeDecodeError):
        return None  # not there (made when the script runs) or not text: nothing to read


def overriding(reading: ConfigReading, found: Findings) -> dict[int, str]:
    """The script's literals a file it loads sets again: a top-level key of that file with the
    literal's name (a ``class Config`` default that ``--config over.json`` replaces key by key)."""
    keys = {normal_name(key): document.file for document in reading.loaded.values()
            for key in document.scalars if "." not in key}
    return {id(a): f"set again by {keys[a.key]}, which the script loads" for a in found.assignments
            if a.key in keys and a.aliasable and not isinstance(a, ConfigAssignment)}


def replaced(reading: ConfigReading, draft: Draft) -> None:
    """Values Hydra sets again before the script sees them: shown, never proposed."""
    for scalar, why in reading.composition.replaced if reading.composition is not None else ():
        draft.overridden[scalar.name] = Site("", scalar.value, scalar.line, "yaml", scalar.name, False, why,
                                             file=scalar.file)


def settle_targets(draft: Draft, reading: ConfigReading, settled: set[str]) -> None:
    """The optimizer a config names: a Hydra group's ``_target_`` (torch.optim.Adam), or the
    ``type``/``name`` of an optimizer's table (pytorch-template's ``"optimizer": {"type": "Adam"}``,
    torchtitan's ``[optimizer] name = "AdamW"``). It can switch to the optimizers that take every
    argument the config gives it: for a group, among its options' targets."""
    if "optimizer" in settled or "optimizer" in draft.values:
        return
    values = dict(reading.composition.values) if reading.composition is not None else {}
    for document in reading.loaded.values():
        values.update(document.scalars)
    for key, scalar in values.items():
        parent, _, last = key.rpartition(".")
        hydra = last == "_target_"
        if not isinstance(scalar.value, str) or not (hydra or last in _NAME_KEYS
                                                     and normal_name(parent.rpartition(".")[2]) in _OPTIMIZER_KEYS):
            continue
        chosen = _optimizer_of(scalar.value) if hydra else _named_optimizer(scalar.value)
        if chosen is None:
            continue
        document = reading.documents[scalar.file]
        here = scalar.key.rpartition(".")[0]
        siblings = {k.rpartition(".")[2] for k in document.scalars
                    if k != scalar.key and k.startswith(here) and not k.rpartition(".")[2].startswith("_")}
        offered = [*_group_targets(reading, scalar), *_group_options(reading, scalar)] if hydra else \
            list(_OPTIMIZER_ARGUMENTS)
        spellings = {chosen: scalar.value}
        for other in (o for o in offered if o is not None):
            if other not in spellings and other in _OPTIMIZER_ARGUMENTS and siblings <= _OPTIMIZER_ARGUMENTS[other]:
                spellings[other] = _spelled_like(other, scalar.value)
        draft.settle("optimizer", chosen, Site("optimizer", chosen, scalar.line, kind_of(scalar.file), scalar.name,
                                               note=f"{key} of the config", file=scalar.file, key=key), [scalar])
        draft.choices["optimizer"] = tuple(spellings)
        draft.spelled_as["optimizer"] = spellings
        settled.add("optimizer")
        return


_NAME_KEYS = ("type", "name", "class", "cls")
_OPTIMIZER_KEYS = ("optimizer", "optim", "opt", "optimiser")
_CLASS_OF = {v: k for k, v in OPTIMIZER_CLASSES.items()}


def _named_optimizer(value: str) -> str | None:
    name = value.rpartition(".")[2]
    return OPTIMIZER_CLASSES.get(name) or (name.lower() if name.lower() in _OPTIMIZER_ARGUMENTS else None)


def _spelled_like(optimizer: str, original: str) -> str:
    """``optimizer`` written as ``original`` writes its optimizer: torch.optim.SGD, SGD or sgd."""
    module, _, name = original.rpartition(".")
    spelled = _CLASS_OF[optimizer] if name in OPTIMIZER_CLASSES else optimizer
    return f"{module}.{spelled}" if module else spelled


def _optimizer_of(target: str) -> str | None:
    module, _, name = target.rpartition(".")
    if not module.startswith("torch.optim"):
        return None
    return OPTIMIZER_CLASSES.get(name)


def _group_targets(reading: ConfigReading, chosen: Scalar) -> list[str | None]:
    """The optimizer of each other option of the group ``chosen`` belongs to, by its ``_target_``
    (the group's options name the optimizers it offers)."""
    folder = posixpath.dirname(chosen.file)
    targets: list[str | None] = []
    for name, document in reading.documents.items():
        if posixpath.dirname(name) == folder and name != chosen.file:
            target = document.scalars.get("_target_")
            if target is not None and isinstance(target.value, str):
                targets.append(_optimizer_of(target.value))
    return targets


def _group_options(reading: ConfigReading, chosen: Scalar) -> list[str | None]:
    """The optimizer each option of the group names by its file name (adam.yaml), which still says
    the option's optimizer once an edit has switched its target."""
    folder = posixpath.dirname(chosen.file)
    stems = [posixpath.basename(n).rsplit(".", 1)[0].lower() for n in reading.documents
             if posixpath.dirname(n) == folder]
    return [stem if stem in _OPTIMIZER_ARGUMENTS else None for stem in stems]


def composed_name(assignment: Assignment) -> str:
    """Where a config literal lands in ``cfg``; "" for a literal of the script."""
    return assignment.composed if isinstance(assignment, ConfigAssignment) else ""


__all__ = ["ConfigAssignment", "ConfigError", "ConfigReading", "composed_name", "overriding", "read_configs",
           "replaced", "settle_targets"]


def join_trace(draft: Draft, baseline: Mapping[str, str] | None, directory: Path | None, main_name: str | None,
               main_rates: set[float], micro_batch: int | None) -> None:
    """A config value read as a field must be what the baseline's training got: the main
    optimizer's class and learning rate, the first batch's size. One that is not does not reach
    training as read (another layer sets it, or the script scales it): a problem, not a field.

    The trace is the baseline's, so the value compared is the baseline's (its committed files,
    ``baseline``, else the file beside the script in ``directory``), not this version's, which an
    edit may have moved; without the files there is nothing to compare, and the reading stands."""
    said = {"optimizer": f"the baseline's main optimizer is {main_name}",
            "learning_rate": f"the baseline's main optimizer has lr {', '.join(f'{r:g}' for r in sorted(main_rates))}",
            "batch_size": f"the baseline's first training batch holds {micro_batch}"}
    seen: dict[str, object] = {"optimizer": main_name, "learning_rate": main_rates or None, "batch_size": micro_batch}
    for field, traced in seen.items():
        site = draft.sites.get(field)
        scalars = [t for t in draft.targets.get(field, []) if isinstance(t, Scalar)]
        if site is None or traced is None or not scalars:
            continue  # the script's own value (the rules that read it join it), or nothing traced
        was = _baseline_value(baseline, directory, scalars[0])
        if was is None:
            continue
        if _agrees(field, was, traced):
            draft.sites[field] = attrs.evolve(site, note=f"{site.note + '; ' if site.note else ''}the trace agrees")
        else:
            draft.problems[field] = f"{site.path} is {was!r}, but {said[field]}: it does not reach training as read"
            for table in (draft.values, draft.sites, draft.targets):
                table.pop(field, None)


def _baseline_value(baseline: Mapping[str, str] | None, directory: Path | None, scalar: Scalar) -> object:
    text = baseline.get(scalar.file) if baseline else None
    if text is None:
        text = _text(scalar.file, directory, None)
    if text is None:
        return None
    try:
        found = read(scalar.file, text).scalars.get(scalar.key)
    except ConfigError:
        return None
    return found.value if found is not None else None


def _agrees(field: str, baseline: object, traced: object) -> bool:
    if field == "optimizer":
        return isinstance(baseline, str) and _named_optimizer(baseline) == OPTIMIZER_CLASSES.get(str(traced))
    if field == "learning_rate":
        return isinstance(baseline, (int, float)) and not isinstance(baseline, bool) and any(
            abs(baseline - rate) <= 1e-12 + 1e-9 * abs(rate) for rate in traced)  # type: ignore[attr-defined]
    return baseline == traced and not isinstance(baseline, bool)
