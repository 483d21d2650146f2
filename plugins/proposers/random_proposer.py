"""The random proposer: one or two in-bounds moves of the fields and knobs the script exposes.

A baseline every learning proposer must beat, and the simplest way to exercise the loop.
"""

from __future__ import annotations

import json
from pathlib import Path

import attrs

import arrl
from arrl.journal import write_atomic
from arrl.schema import config_hash
from arrl.script.actions import random_edit


@attrs.frozen
class RandomOptions:
    max_moves: int = attrs.field(default=2, validator=attrs.validators.ge(1))
    redraws: int = attrs.field(default=20, validator=attrs.validators.ge(0))


class RandomProposer(arrl.Proposer):
    # Its proposals change only the values of knobs the script reader found.
    writes_code = False

    def __init__(self, options: RandomOptions, context: arrl.PluginContext) -> None:
        self.options = options
        self.rng = context.rng("random-proposer")
        self.context = context

    def propose(self, observation: arrl.Observation) -> arrl.Proposal:
        from arrl.script.reader import edit_observed  # libcst: not at registration

        # Redraw a few times rather than waste a proposal on a program the run already ran (or
        # runs now); when the neighbourhood is exhausted the loop records the duplicate.
        tried = {entry.program_hash for entry in observation.history}
        for attempt in range(self.options.redraws + 1):
            edit = random_edit(observation.config, self.rng, self.options.max_moves,
                               observation.editable, observation.choices, observation.space)
            last = attempt == self.options.redraws
            if config_hash({**observation.config, **edit.changes}) in observation.tried and not last:
                continue
            program = edit_observed(observation, edit.changes, self.context)
            if program.hash(observation.files) not in tried:
                break
        return arrl.Proposal(script=program.script, edit=edit, proposer="random", files=program.files)

    # The generator's state is all it has learned; saving it makes a resumed run continue the
    # same sequence instead of replaying proposals it already tried.
    def save(self, path: Path) -> None:
        version, internal, gauss = self.rng.getstate()
        write_atomic(path, json.dumps({"version": version, "internal": list(internal), "gauss": gauss}))

    def load(self, path: Path) -> None:
        state = json.loads(path.read_text())
        self.rng.setstate((state["version"], tuple(state["internal"]), state["gauss"]))


@arrl.hookimpl
def arrl_proposers():
    yield arrl.Registration(
        name="random",
        summary="random in-bounds moves of one or two schema values",
        factory=lambda options, context: RandomProposer(options, context),
        options=RandomOptions,
    )
