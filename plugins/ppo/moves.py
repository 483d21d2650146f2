"""The PPO's action list: every single move the schema's fields allow, in the fixed order of the
policy's output layer (a prior file pins it)."""

from __future__ import annotations

from arrl.schema import FIELDS, Field
from arrl.script.actions import Move


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
