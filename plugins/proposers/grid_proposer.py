"""The grid proposer: the design document's manual grid search, in a fixed, documented order.

The grid is learning rate x width x depth x batch size around the baseline (the script as the
user wrote it), every other field left as the baseline has it:

- learning rate: the baseline's times 10^(k/2), k = 0, -1, +1, -2, +2 (five half-decades);
- width (hidden_dim): the baseline's value and its neighbours among the values the script allows;
- depth (num_layers): the baseline's, half of it and twice it;
- batch size: the baseline's value and its neighbours.

Values are clamped to the script's domain and repeated values dropped, so the grid has at most
5 x 3 x 3 x 3 = 135 points, one of them the baseline itself (never proposed: experiment 0 ran
it). A field the script lacks, or that arrl cannot rewrite, stays at the baseline's value.

Order, as someone tuning by hand would go: first every point that changes one field from the
baseline (the learning rate's sweep, then width's, then depth's, then batch's), then every point
that changes two fields (learning rate and width first, batch size with others last), then
three, then four. Within one set of moved fields, levels go in the order listed above: nearer
the baseline first, the step down before the step up. Attention heads follow a width change (lowered to a divisor of the new width). Once the
grid is exhausted the proposer keeps going with random one- or two-move edits of the best, so a
run with more experiments than grid points still does something useful.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import attrs

import arrl
from arrl.journal import write_atomic
from arrl.schema import SchemaError, Value
from arrl.script.actions import random_edit

from .domains import Domain, describe, domain, editable_fields, repair_heads

GRID_FIELDS: tuple[str, ...] = ("learning_rate", "hidden_dim", "num_layers", "batch_size")


@attrs.frozen
class GridOptions:
    # How many half-decade steps of the learning rate each way (2: five values).
    learning_rate_steps: int = attrs.field(default=2, validator=attrs.validators.ge(0))


def levels(name: str, baseline: Value, space: Domain, learning_rate_steps: int = 2) -> list[Value]:
    """The values one grid field takes, the baseline's first, then nearer before farther."""
    if name == "learning_rate":
        steps = [0] + [s for k in range(1, learning_rate_steps + 1) for s in (-k, k)]
        # Half-decades, to two significant digits as a person writes them (3.2e-4, not 0.000316227766).
        candidates: list[Value] = [baseline] + [space.clamp(float(f"{float(baseline) * 10 ** (s / 2):.2g}"))
                                                for s in steps[1:]]
    elif name == "num_layers":
        candidates = [baseline, space.clamp(max(int(baseline) // 2, 1)), space.clamp(int(baseline) * 2)]
    else:  # a choice field: the neighbours among the allowed values, in their order
        ordered = list(space.choices)
        if baseline not in ordered:
            return [baseline]
        at = ordered.index(baseline)
        candidates = [baseline] + [ordered[i] for i in (at - 1, at + 1) if 0 <= i < len(ordered)]
    unique: list[Value] = []
    for value in candidates:
        if value not in unique:
            unique.append(value)
    return unique


def grid_points(baseline: dict[str, Value], axes: dict[str, list[Value]]) -> list[dict[str, Value]]:
    """Every grid point except the baseline, in the documented order."""
    names = list(axes)
    indices = itertools.product(*(range(len(axes[n])) for n in names))
    ordered = sorted(
        (index for index in indices if any(index)),
        # Fewer moved fields first; then which fields moved (learning rate first); then nearer levels.
        key=lambda index: (sum(1 for i in index if i), tuple(0 if i else 1 for i in index), index),
    )
    points = []
    for index in ordered:
        point = dict(baseline)
        point.update({name: axes[name][i] for name, i in zip(names, index)})
        points.append(repair_heads(point))
    return points


class GridProposer(arrl.Proposer):

    # Its proposals change only the values of knobs the script reader found.
    writes_code = False
    def __init__(self, options: GridOptions, context: arrl.PluginContext) -> None:
        self.options = options
        self.context = context
        self.rng = context.rng("grid-proposer")
        self.baseline: dict[str, Value] | None = None
        self.position = 0  # index of the next grid point to try

    def points(self, observation: arrl.Observation) -> list[dict[str, Value]]:
        assert self.baseline is not None
        editable = set(editable_fields(observation))
        axes = {
            name: (levels(name, self.baseline[name], domain(name, observation), self.options.learning_rate_steps)
                   if name in editable else [self.baseline[name]])
            for name in GRID_FIELDS if name in self.baseline
        }
        return grid_points(self.baseline, axes)

    def propose(self, observation: arrl.Observation) -> arrl.Proposal:
        from arrl.script.reader import edit_observed  # libcst: not at registration

        if self.baseline is None:
            # The first proposal follows the baseline run: the last good version is the baseline.
            self.baseline = dict(observation.config)
        points = self.points(observation)
        tried = {entry.program_hash for entry in observation.history}
        while self.position < len(points):
            point = points[self.position]
            self.position += 1
            changes = {k: v for k, v in point.items() if observation.config.get(k) != v}
            if not changes:
                continue
            try:
                program = edit_observed(observation, changes, self.context)
            except SchemaError:
                continue  # a value this script cannot take: the grid skips it
            if program.hash(observation.files) in tried:
                continue
            label = f"grid {self.position}/{len(points)}: {describe(observation.config, changes)}"
            return arrl.Proposal(program.script, arrl.Edit(changes, label), "grid", files=program.files)
        edit = random_edit(observation.config, self.rng, 2, observation.editable, observation.choices,
                           space=observation.space)
        program = edit_observed(observation, edit.changes, self.context)
        return arrl.Proposal(program.script, arrl.Edit(edit.changes, f"after the grid: {edit.description}"), "grid",
                             files=program.files)

    def save(self, path: Path) -> None:
        version, internal, gauss = self.rng.getstate()
        write_atomic(path, json.dumps({"baseline": self.baseline, "position": self.position,
                                    "rng": [version, list(internal), gauss]}))

    def load(self, path: Path) -> None:
        state = json.loads(path.read_text())
        self.baseline, self.position = state["baseline"], state["position"]
        version, internal, gauss = state["rng"]
        self.rng.setstate((version, tuple(internal), gauss))


@arrl.hookimpl
def arrl_proposers():
    yield arrl.Registration(
        name="grid",
        summary="manual grid: learning rate x width x depth x batch around the baseline, nearest first",
        factory=lambda options, context: GridProposer(options, context),
        options=GridOptions,
    )
