"""Function defaults (style ``default``).

Reads the keyword defaults of a module-level entry point, ``def main(n_layer: int = 2,
lr: float = 6e-4)``, named ``main(lr=)``: fire, jsonargparse's ``CLI(main)`` and litgpt take a
run's settings from there. Entry points are the functions named main, train, run, fit, cli, ...
Every call by name is noted too: a default that some call replaces (``train(model, lr=args.lr)``,
``mp.spawn(train, args=...)``) is not the setting.
"""

from __future__ import annotations

import libcst as cst

from .findings import Findings

# Module-level functions whose keyword defaults are a run's settings (called with none given).
ENTRY_POINTS = frozenset({"main", "train", "run", "setup", "fit", "pretrain", "finetune", "fine_tune", "cli",
                          "train_model", "training_loop"})


def read(found: Findings, node: cst.FunctionDef) -> None:
    """A module-level ``def``."""
    if node.name.value not in ENTRY_POINTS:
        return
    # fire, jsonargparse's CLI(main), litgpt: the settings are the entry point's keyword
    # defaults (`def main(n_layer: int = 2, lr: float = 6e-4)`), named `main(lr=)`.
    params = node.params
    positions: list[int | None] = [*range(len(params.params)), *([None] * len(params.kwonly_params))]
    for param, position in zip((*params.params, *params.kwonly_params), positions):
        if param.default is not None:
            name = param.name.value
            found.entry_params[f"{node.name.value}({name}=)"] = (node.name.value, position)
            found.add(f"{node.name.value}({name}=)", name, param.default, "default")


def note_call(found: Findings, node: cst.Call, callee: str) -> None:
    """How ``callee`` is called, and the functions handed to it to be called."""
    found.calls_by_name.setdefault(callee, []).append((
        sum(1 for a in node.args if a.keyword is None and not a.star),
        {a.keyword.value for a in node.args if a.keyword is not None}, any(a.star for a in node.args)))
    # A function handed to a launcher with arguments of its own (mp.spawn(train, args=...),
    # Process(target=train, args=...), partial(train, lr=...)) is called with them: its
    # defaults may be replaced. fire.Fire(main) and CLI(main) pass nothing else.
    handed = [a.value.value for a in node.args if isinstance(a.value, cst.Name)
              and (a.keyword is None or a.keyword.value in ("target", "fn", "func", "function"))]
    if handed and len(node.args) > 1:
        for name in handed:
            found.calls_by_name.setdefault(name, []).append((0, set(), True))


def replaced_defaults(found: Findings) -> dict[int, str]:
    """An entry point's default that a call of it replaces: id -> why."""
    replaced: dict[int, str] = {}
    for candidate in found.assignments:
        if candidate.style == "default" and candidate.path in found.entry_params:
            function, position = found.entry_params[candidate.path]
            for positional, given, starred in found.calls_by_name.get(function, []):
                if starred or candidate.path[len(function) + 1:-2] in given \
                        or (position is not None and positional > position):
                    replaced[id(candidate)] = f"passed where {function} is called, which replaces the default"
                    break
    return replaced
