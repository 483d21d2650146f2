"""The PPO's action space: every single move the schema's fields allow, in the fixed order of the
policy's output layer (a prior file pins it); a run's moves (the schema's, then its knobs'); and
which of them an observation allows, judged at the schema level alone."""

from __future__ import annotations

from collections.abc import Mapping

import arrl
from arrl.schema import FIELDS, Field, SchemaError, Value, config_hash
from arrl.script.actions import Move, apply_move


def action_list(fields: tuple[Field, ...] = FIELDS) -> list[Move]:
    """Every move ``fields`` allow, in a fixed order: the policy's output layer."""
    actions: list[Move] = []
    for field in fields:
        if field.kind == "bool":
            actions += [Move(field.name, "switch", True), Move(field.name, "switch", False)]
        elif field.ordinal:
            actions += [Move(field.name, "up"), Move(field.name, "down")]
        else:
            actions += [Move(field.name, "switch", choice) for choice in field.choices]
    return actions


ACTIONS = action_list()


def actions_for(observation: arrl.Observation) -> list[Move]:
    """The schema's moves, then the moves of the run's knobs (``[space]`` order): the output
    layer grows with the knobs and the schema's actions keep their indices."""
    space = observation.space
    return ACTIONS if space is None or not space.knobs else ACTIONS + action_list(space.knobs)


def tried_programs(observation: arrl.Observation) -> set[str]:
    """Config hashes of every program the run has run or runs now (the window and beyond)."""
    return {entry.config_hash for entry in observation.history} | observation.tried


def describe(config: Mapping[str, Value], changes: Mapping[str, Value]) -> str:
    return "; ".join(f"{k} {config[k]} -> {v}" for k, v in changes.items())


def valid_actions(observation: arrl.Observation, skip_tried: bool = True) -> dict[int, dict]:
    """Valid actions -> the changes they make, judged at the schema level alone.

    Nothing is rendered here: applying every move to the script with libcst cost seconds per
    proposal on a real script. A move is valid when the field is editable, the target is a
    value the script can take and the resulting config passes the schema; a program already
    in the window is recognised by its config hash (the loop hashes the config it reads back
    from the proposed script, and moves change nothing but config values).
    """
    editable = set(observation.editable if observation.editable is not None else observation.config)
    tried = tried_programs(observation) if skip_tried else set()
    found: dict[int, dict] = {}
    for index, move in enumerate(actions_for(observation)):
        if move.field not in editable:
            continue
        allowed = observation.choices.get(move.field)
        if move.direction == "switch" and allowed is not None and move.target not in allowed:
            continue
        try:
            new = apply_move(observation.config, move, observation.space)
        except SchemaError:
            continue
        changes = {k: v for k, v in new.items() if observation.config.get(k) != v}
        if not changes or (tried and config_hash(new) in tried):
            continue
        found[index] = changes
    return found
