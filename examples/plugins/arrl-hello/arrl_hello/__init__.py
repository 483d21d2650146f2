"""An example arrl plugin: one role implementation and one observer."""

from __future__ import annotations

import os

import attrs

import arrl
from arrl.schema import FIELDS_BY_NAME
from arrl.script import apply_values


@attrs.frozen
class HelloOptions:
    factor: float = attrs.field(default=0.5, validator=[attrs.validators.gt(0), attrs.validators.lt(1)])


class Halving(arrl.Proposer):
    """Multiplies the learning rate by ``factor`` each time, staying inside the schema."""

    def __init__(self, options: HelloOptions) -> None:
        self.factor = options.factor

    def propose(self, observation: arrl.Observation) -> arrl.Proposal:
        current = float(observation.config["learning_rate"])
        lowest = FIELDS_BY_NAME["learning_rate"].low
        new = max(current * self.factor, lowest)
        edit = arrl.Edit({"learning_rate": new}, f"hello: learning_rate {current:g} -> {new:g}")
        return arrl.Proposal(apply_values(observation.script, edit.changes), edit, proposer="hello")


@arrl.hookimpl
def arrl_proposers():
    yield arrl.Registration(
        name="hello",
        summary="halve the learning rate each time (example plugin)",
        factory=lambda options, context: Halving(options),
        options=HelloOptions,
    )


@arrl.hookimpl
def arrl_experiment_finished(record, run_id):
    log = os.environ.get("HELLO_LOG")
    if log:
        with open(log, "a") as handle:
            handle.write(f"{run_id} {record.id} {record.outcome.value}\n")
