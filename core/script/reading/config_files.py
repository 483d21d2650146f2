"""Config files: the values a Hydra script's ``cfg`` holds, read where they are written
(:mod:`arrl.script.configs`).

Each scalar the composition gives ``cfg`` becomes a literal of style ``yaml``, named by file and
dotted key (``conf/optimizer/adam.yaml:lr``), which the rules then weigh like any other literal:
its key's name says its field (``lr``, ``weight_decay``, ``batch_size``), and the rest are
candidates. A value Hydra sets again (a later layer of the defaults list, or the ``args``
setting's ``key=value``) is shown as overridden. A group whose option is instantiated by
``_target_`` as a torch optimizer is the optimizer field: an edit picks among the targets of the
group's other options that take every key the chosen one sets.
"""

from __future__ import annotations

import ast
import posixpath
from collections.abc import Mapping, Sequence
from pathlib import Path

import attrs

from arrl.script.configs import ConfigError, Scalar, compose, hydra_main
from arrl.script.configs.hydra import Composition

from .code import OPTIMIZER_CLASSES
from .draft import Draft
from .findings import Assignment
from .names import normal_name
from .results import Site

# Keyword arguments each optimizer class takes, for the targets an optimizer group may switch to.
_OPTIMIZER_ARGUMENTS = {
    "adam": {"lr", "betas", "eps", "weight_decay", "amsgrad", "foreach", "maximize", "capturable", "differentiable",
             "fused"},
    "sgd": {"lr", "momentum", "dampening", "weight_decay", "nesterov", "maximize", "foreach", "differentiable",
            "fused"},
}
_OPTIMIZER_ARGUMENTS["adamw"] = _OPTIMIZER_ARGUMENTS["adam"]
_ORDER = 1_000_000  # config values come after every literal of the script


@attrs.define
class ConfigAssignment(Assignment):
    """A config file's scalar as a literal: ``node`` is its :class:`Scalar`; ``composed`` is where
    it lands in ``cfg`` (``optimizer.lr``)."""

    composed: str = ""


@attrs.frozen
class ConfigReading:
    composition: Composition
    assignments: list[ConfigAssignment]


def read_configs(source: str, directory: Path | None, args: Sequence[str],
                 texts: Mapping[str, str] | None) -> ConfigReading | None:
    """The Hydra composition a script's ``@hydra.main`` names, as literals; None for a script
    without one. Raises :class:`ConfigError` for a config that cannot be read."""
    if "hydra" not in source or (directory is None and texts is None):
        return None
    try:
        found = hydra_main(ast.parse(source))
    except SyntaxError:
        return None
    if found is None:
        return None
    composition = compose(directory, found[0], found[1], args, texts)
    assignments = [
        ConfigAssignment(scalar.name, normal_name(key.rsplit(".", 1)[-1]), scalar.value, scalar,  # type: ignore[arg-type]
                         scalar.line, "yaml", _ORDER + n, composed=key)
        for n, (key, scalar) in enumerate(composition.values.items())
        if scalar.value is not None and not key.rsplit(".", 1)[-1].startswith("_")
    ]
    return ConfigReading(composition, assignments)


def replaced(reading: ConfigReading, draft: Draft) -> None:
    """Values Hydra sets again before the script sees them: shown, never proposed."""
    for scalar, why in reading.composition.replaced:
        draft.overridden[scalar.name] = Site("", scalar.value, scalar.line, "yaml", scalar.name, False, why,
                                             file=scalar.file)


def settle_targets(draft: Draft, reading: ConfigReading, settled: set[str]) -> None:
    """The optimizer chosen by a config group's ``_target_`` (torch.optim.Adam)."""
    if "optimizer" in settled or "optimizer" in draft.values:
        return
    composition = reading.composition
    for key, scalar in composition.values.items():
        if not key.endswith("_target_") or not isinstance(scalar.value, str):
            continue
        chosen = _optimizer_of(scalar.value)
        if chosen is None:
            continue
        document = composition.documents[scalar.file]
        siblings = {k for k in document.scalars if k != "_target_" and not k.startswith("_") and "." not in k}
        # The group's options name the optimizers it offers: by their _target_, and by their file
        # name, which still says the option's optimizer once an edit has switched its target.
        named = [*_group_targets(composition, scalar), *_group_options(composition, scalar)]
        module = scalar.value.rpartition(".")[0]
        class_of = {v: k for k, v in OPTIMIZER_CLASSES.items()}
        spellings = {chosen: scalar.value}
        for other in (o for o in named if o is not None):
            if other not in spellings and other in _OPTIMIZER_ARGUMENTS and siblings <= _OPTIMIZER_ARGUMENTS[other]:
                spellings[other] = f"{module}.{class_of[other]}"
        draft.settle("optimizer", chosen, Site("optimizer", chosen, scalar.line, "yaml", scalar.name,
                                               note=f"{key} of the config", file=scalar.file), [scalar])
        draft.choices["optimizer"] = tuple(spellings)
        draft.spelled_as["optimizer"] = spellings
        settled.add("optimizer")
        return


def _optimizer_of(target: str) -> str | None:
    module, _, name = target.rpartition(".")
    if not module.startswith("torch.optim"):
        return None
    return OPTIMIZER_CLASSES.get(name)


def _group_targets(composition: Composition, chosen: Scalar) -> list[str | None]:
    """The optimizer of each other option of the group ``chosen`` belongs to, by its ``_target_``."""
    folder = posixpath.dirname(chosen.file)
    targets: list[str | None] = []
    for name, document in composition.documents.items():
        if posixpath.dirname(name) == folder and name != chosen.file:
            target = document.scalars.get("_target_")
            if target is not None and isinstance(target.value, str):
                targets.append(_optimizer_of(target.value))
    return targets


def _group_options(composition: Composition, chosen: Scalar) -> list[str | None]:
    """The optimizer each option of the group names by its file name (adam.yaml)."""
    folder = posixpath.dirname(chosen.file)
    stems = [posixpath.basename(n).rsplit(".", 1)[0].lower() for n in composition.documents
             if posixpath.dirname(n) == folder]
    return [stem if stem in _OPTIMIZER_ARGUMENTS else None for stem in stems]


def composed_name(assignment: Assignment) -> str:
    """Where a config literal lands in ``cfg``; "" for a literal of the script."""
    return assignment.composed if isinstance(assignment, ConfigAssignment) else ""


__all__ = ["ConfigAssignment", "ConfigError", "ConfigReading", "composed_name", "read_configs", "replaced",
           "settle_targets"]


def join_trace(draft: Draft, main_name: str | None, main_rates: set[float], micro_batch: int | None) -> None:
    """A config value read as a field must be what the baseline's training got: the main
    optimizer's class and learning rate, the first batch's size. One that is not does not reach
    training as read (another layer sets it, or the script scales it): a problem, not a field."""
    checks: dict[str, tuple[bool, str]] = {}
    if main_name is not None:
        checks["optimizer"] = (OPTIMIZER_CLASSES.get(main_name) == draft.values.get("optimizer"),
                               f"the baseline's main optimizer is {main_name}")
    if main_rates:
        value = draft.values.get("learning_rate")
        checks["learning_rate"] = (isinstance(value, (int, float)) and any(abs(value - r) <= 1e-12 + 1e-9 * abs(r)
                                                                           for r in main_rates),
                                   f"the baseline's main optimizer has lr {', '.join(f'{r:g}' for r in sorted(main_rates))}")
    if micro_batch:
        checks["batch_size"] = (draft.values.get("batch_size") in (micro_batch,),
                                f"the baseline's first training batch holds {micro_batch}")
    for field, (agrees, seen) in checks.items():
        site = draft.sites.get(field)
        if site is None or not site.file:
            continue
        if agrees:
            draft.sites[field] = attrs.evolve(site, note=f"{site.note + '; ' if site.note else ''}the trace agrees")
        else:
            draft.problems[field] = f"{site.path} is {site.value!r}, but {seen}: it does not reach training as read"
            for table in (draft.values, draft.sites, draft.targets):
                table.pop(field, None)
