"""What the PPO proposer remembers of its own proposals: the move behind each program it made,
how far it is through the opening, and how many proposals it has numbered.

The policy's attribution features read the lineage, the line search reads the origins and pairs
(:mod:`arrl.plugins.ppo.search`), and a saved state keeps all but the count (:mod:`arrl.plugins.ppo.state`).
"""

from __future__ import annotations

from typing import Any

import attrs

import arrl
from arrl.schema import HISTORY_WINDOW, Value, config_hash
from arrl.script.actions import Move
from arrl.script.observation import Attributed

# How many proposals the proposer remembers the making of (lineage, origins, pairs): only the
# window's programs matter, with room for results that arrive late from other workers.
REMEMBERED = 4 * HISTORY_WINDOW


def _remember(table: dict[str, Any], key: str, value: Any) -> None:
    table[key] = value
    if len(table) > REMEMBERED:  # forget the oldest
        del table[next(iter(table))]


@attrs.define
class Memory:
    """The proposer's record of its proposals, shared by its parts."""

    # The move behind each program the policy proposed, by config hash, and the best value
    # it was proposed against: what the attribution features are computed from.
    lineage: dict[str, Attributed] = attrs.Factory(dict)
    # The move behind each program the proposer made with one move, and the config hash it
    # was made from: what the continuation reads to tell "kept" from "not kept".
    origins: dict[str, tuple[Move, str]] = attrs.Factory(dict)
    opened: int = 0  # how many of the opening's moves (opening_moves) it has used or skipped
    coupled_used: int = 0  # how many of COUPLED the opening has used or skipped
    # The coupled move behind each program the proposer made with one, and the best value it
    # was proposed against: the line search repeats a coupled move that was kept.
    pairs: dict[str, tuple[tuple[Move, ...], float | None]] = attrs.Factory(dict)
    proposed: int = 0  # proposals made: each one's id takes the next number

    def remember(self, observation: arrl.Observation, move: Move, changes: dict[str, Value]) -> None:
        """Note that ``move`` from ``observation`` makes the program with these changes: its
        result, once in the history, is attributed to that move."""
        new_hash = config_hash({**observation.config, **changes})
        _remember(self.lineage, new_hash, Attributed(move.field, move.direction, move.target, observation.best_value))
        _remember(self.origins, new_hash, (move, config_hash(observation.config)))

    def remember_pair(self, new_hash: str, pair: tuple[Move, ...], parent_value: float | None) -> None:
        _remember(self.pairs, new_hash, (tuple(pair), parent_value))

    def next_id(self, kind: str = "") -> str:
        """The id of a new proposal: ``ppo-N`` for the policy's, ``ppo-KIND-N`` for the others."""
        self.proposed += 1
        return f"ppo-{kind.replace(' ', '-')}-{self.proposed}" if kind else f"ppo-{self.proposed}"

    def saved(self) -> dict[str, Any]:
        """The remembered moves and the opening's progress, as JSON (in a saved state's order)."""
        return {"lineage": {key: [m.field, m.direction, m.target, m.parent_value] for key, m in self.lineage.items()},
                "origins": {key: [m.field, m.direction, m.target, parent] for key, (m, parent) in self.origins.items()},
                "opened": self.opened, "coupled_used": self.coupled_used,
                "pairs": {key: [[[m.field, m.direction, m.target] for m in pair], parent_value]
                          for key, (pair, parent_value) in self.pairs.items()}}

    def restore(self, state: dict[str, Any]) -> None:
        """Take what :meth:`saved` wrote; a state saved before a part existed starts it afresh."""
        self.lineage = {key: Attributed(*value) for key, value in state.get("lineage", {}).items()}
        self.origins = {key: (Move(*value[:3]), value[3]) for key, value in state.get("origins", {}).items()}
        self.opened = state.get("opened", 0)
        self.coupled_used = state.get("coupled_used", 0)
        self.pairs = {key: (tuple(Move(*move) for move in pair), parent_value)
                      for key, (pair, parent_value) in state.get("pairs", {}).items()}
