"""The PPO's search moves: what the proposer proposes besides the moves its policy draws.

- The opening (option ``opening``): each move of OPENING, then of the run's knobs, then the
  two-field moves of COUPLED, once, in order, from the best script so far.
- The line search (option ``continuation``): a move that was kept is made again while it pays by
  more than the loop's noise margin, and after a step up or down that was not kept the other
  direction on that field is tried once.
- Two-move steps (option ``exhausted``): once every single move from the script has run, a
  coupled move not yet tried, then random pairs, instead of a duplicate.

A single move of the opening or the line search is handed to the policy as its action, so it is
learned from (the policy learns whether going on paid); a proposal of two moves is not the
policy's choice, its id has no pending action, and its result is not learned from.
"""

from __future__ import annotations

import random
from collections.abc import Mapping

import arrl
from arrl.run.noise import within_noise
from arrl.schema import SchemaError, Value, config_hash
from arrl.script.actions import Domains, Move, apply_move, field_domains, random_edit
from arrl.script.reader import edit_observed

from .memory import Memory
from .moves import action_list, actions_for, describe, tried_programs

# The opening's moves, most promising first: the learning rate up, model size, the activation and
# optimizer, batch size, mixed precision and the scheduler, then the other directions and choices.
# The order was searched on the pre-training members 100-119 of benchmarks/common/simfamily.py (never the
# held-out ones) by benchmarks/search/opening_search.py: first a greedy construction ranked by the regret
# of this opening plus the line search after 16 and 32 experiments, then swaps and insertions
# (docs/benchmarks.md). It is the usual ranking for training scripts: learning rate, size, optimizer
# and batch matter most; clip, dropout and weight decay least, and they are left to the policy.
OPENING: tuple[Move, ...] = (
    Move("learning_rate", "up"), Move("num_layers", "up"), Move("activation", "switch", "silu"),
    Move("optimizer", "switch", "adam"), Move("batch_size", "up"), Move("mixed_precision", "switch", True),
    Move("scheduler", "switch", "constant"), Move("hidden_dim", "up"), Move("optimizer", "switch", "lion"),
    Move("activation", "switch", "tanh"), Move("num_layers", "down"), Move("scheduler", "switch", "warmup_cosine"),
    Move("attention_heads", "up"), Move("learning_rate", "down"), Move("scheduler", "switch", "linear"),
    Move("optimizer", "switch", "sgd"), Move("batch_size", "down"), Move("activation", "switch", "gelu"),
)


def opening_moves(observation: arrl.Observation) -> tuple[Move, ...]:
    """OPENING, then every move of the run's ``[space]`` knobs: a knob is one the user asked to
    have tuned, so the opening tries it too, after the schema's list (whose order was measured;
    the knobs' is the ``[space]`` order)."""
    space = observation.space
    return OPENING if space is None or not space.knobs else OPENING + tuple(action_list(space.knobs))


# Two-field moves an engineer makes because the fields trade against each other, which one move at
# a time cannot cross: depth for width (a deep-narrow optimum is a poor shape for a wide model and
# the reverse: from 9 layers of 128, one layer fewer is worse and a wider model may not fit), and
# the linear scaling rule, a larger batch with a proportionally larger learning rate (or both
# smaller; the rate moves by the batch's own ratio, so 12 to 16 multiplies it by 4/3, see
# _scale_with_batch). Tried after the single moves of the opening, and before random pairs once
# every single move from the best script has run. Through the real loop they lowered the upper
# quartile of the regret after 64 experiments, where single moves had stopped paying
# (docs/benchmarks.md, "Coupled moves").
COUPLED: tuple[tuple[Move, Move], ...] = (
    (Move("hidden_dim", "up"), Move("num_layers", "down")), (Move("num_layers", "up"), Move("hidden_dim", "down")),
    (Move("batch_size", "up"), Move("learning_rate", "up")), (Move("batch_size", "down"), Move("learning_rate", "down")),
)

# Where a switch of optimizer in the opening moves the learning rate, relative to Adam and AdamW:
# SGD wants about ten times their learning rate, Lion three to ten times less.
OPTIMIZER_LEARNING_RATE = {"sgd": 8.0, "lion": 0.25}


def _scaled_rate(config: Mapping[str, Value], factor: float, space: Domains) -> Value:
    """The script's learning rate times ``factor``, checked against its domain (grown around the
    script's own value); SchemaError when the product is outside it."""
    rate = config["learning_rate"]
    return field_domains(space)["learning_rate"].grown(rate).check(round(float(rate) * factor, 12))


def _scale_with_batch(before: Mapping[str, Value], after: dict[str, Value], pair: tuple[Move, ...],
                      space: Domains) -> dict[str, Value]:
    """``after`` with the learning rate moved by the batch size's own ratio when ``pair`` moves
    both (the linear scaling rule): a batch of 12 that becomes 16 takes 4/3 of the rate, not the
    learning rate's usual step. SchemaError when there is no ratio (a batch of 0) or the rate
    leaves its domain."""
    if {move.field for move in pair} != {"batch_size", "learning_rate"}:
        return after
    old, new = float(before["batch_size"]), float(after["batch_size"])
    if old <= 0 or new <= 0:
        raise SchemaError(f"batch_size {before['batch_size']} -> {after['batch_size']} has no ratio to scale by")
    return {**after, "learning_rate": _scaled_rate(before, new / old, space)}


def coupled_config(config: Mapping[str, Value], pair: tuple[Move, ...], space: Domains = None) -> dict[str, Value]:
    """``config`` after every move of ``pair``, the learning rate scaled with the batch
    (_scale_with_batch); SchemaError when a move or the scaled rate leaves its domain."""
    moved = dict(config)
    for move in pair:
        moved = apply_move(moved, move, space)
    return _scale_with_batch(config, moved, pair, space)


class LineSearch:
    """The single move the policy is steered to, when there is one: the line search's next move,
    else the opening's. Each returns an action index of the candidates, or None to let the policy
    choose."""

    def __init__(self, memory: Memory) -> None:
        self.memory = memory

    def opening(self, observation: arrl.Observation, candidates: dict[int, dict]) -> int | None:
        """The next move of the opening (:func:`opening_moves`) the script can make to a program
        not yet tried, or None once the list is used up; its changes in ``candidates`` get the
        optimizer's learning rate."""
        moves = actions_for(observation)
        opening = opening_moves(observation)
        while self.memory.opened < len(opening):
            wanted = opening[self.memory.opened]
            self.memory.opened += 1
            index = moves.index(wanted) if wanted in moves else None
            if index in candidates:
                self._scale_with_optimizer(observation, candidates, index)
                return index
        return None

    def _scale_with_optimizer(self, observation: arrl.Observation, candidates: dict[int, dict], index: int) -> None:
        """Scale the learning rate with a switch of optimizer (OPTIMIZER_LEARNING_RATE), unless
        the script's learning rate is not editable or the result is out of bounds or tried."""
        changes = candidates[index]
        before, after = observation.config.get("optimizer"), changes.get("optimizer")
        editable = observation.editable if observation.editable is not None else tuple(observation.config)
        if after is None or "learning_rate" not in editable or "learning_rate" not in observation.config:
            return
        factor = OPTIMIZER_LEARNING_RATE.get(str(after), 1.0) / OPTIMIZER_LEARNING_RATE.get(str(before), 1.0)
        if factor == 1.0:
            return
        try:
            rate = _scaled_rate(observation.config, factor, observation.space)
        except (SchemaError, TypeError, ValueError):
            return
        scaled = {**changes, "learning_rate": rate}
        if config_hash({**observation.config, **scaled}) in tried_programs(observation):
            return
        candidates[index] = scaled

    def continuation(self, observation: arrl.Observation, candidates: dict[int, dict]) -> int | None:
        """The line search's next action, or None to let the policy choose: the last result's
        move again when it was kept (the current script is that result), the other direction of
        an up/down move that was not kept (the current script is still its parent)."""
        if not observation.history:
            return None
        last = observation.history[-1]
        origin = self.memory.origins.get(last.config_hash)
        if origin is None:
            return None
        move, parent = origin
        here = config_hash(observation.config)
        if last.config_hash == here:
            if self._within_noise(observation, last):
                return None  # a gain inside the noise is no evidence that this direction pays
            wanted = move
        elif parent == here and move.direction in ("up", "down"):
            wanted = Move(move.field, "down" if move.direction == "up" else "up")
        else:
            return None
        moves = actions_for(observation)
        index = moves.index(wanted) if wanted in moves else None
        return index if index in candidates else None

    def _within_noise(self, observation: arrl.Observation, kept: arrl.HistoryEntry) -> bool:
        """Whether the kept result improved on the best it was proposed against by less than the
        loop's noise margin (arrl.run.noise.within_noise). Without a floor, no."""
        attributed = self.memory.lineage.get(kept.config_hash)
        if attributed is None:
            return False
        return within_noise(kept.val_loss, attributed.parent_value, observation.noise_floor, observation.direction)


class TwoMoves:
    """Proposals of two or more moves at once: the coupled moves of COUPLED (at the end of the
    opening, once the neighbourhood is exhausted, and again after one that was kept) and random
    pairs (a hill-climb step). None is the policy's choice; none is learned from."""

    def __init__(self, memory: Memory, context: arrl.PluginContext, rng: random.Random) -> None:
        self.memory = memory
        self.context = context
        self.rng = rng

    def opening(self, observation: arrl.Observation) -> arrl.Proposal | None:
        """The next move of COUPLED the opening has not used or skipped that the script can make."""
        while self.memory.coupled_used < len(COUPLED):
            self.memory.coupled_used += 1
            step = self.apply_coupled(observation, COUPLED[self.memory.coupled_used - 1])
            if step is not None:
                return step
        return None

    def first_coupled(self, observation: arrl.Observation) -> arrl.Proposal | None:
        """A proposal of the first move of COUPLED the script can make to a program not yet tried."""
        for pair in COUPLED:
            step = self.apply_coupled(observation, pair)
            if step is not None:
                return step
        return None

    def apply_coupled(self, observation: arrl.Observation, pair: tuple[Move, ...]) -> arrl.Proposal | None:
        """The proposal that makes every move of ``pair`` from the current script, or None when
        a field is missing or not editable, a move is stopped at a bound (it would be a single
        move), the scaled learning rate leaves its domain, or the program was tried. Not the
        policy's choice: its result is not learned from."""
        editable = set(observation.editable if observation.editable is not None else observation.config)
        if any(move.field not in editable or move.field not in observation.config for move in pair):
            return None
        try:
            config = coupled_config(observation.config, pair, observation.space)
        except (SchemaError, TypeError, ValueError):
            return None
        changes = {k: v for k, v in config.items() if observation.config.get(k) != v}
        new_hash = config_hash(config)
        if not {move.field for move in pair} <= set(changes) or new_hash in tried_programs(observation):
            return None
        proposal = self._unlearned(observation, changes, describe(observation.config, changes), "coupled")
        if proposal is not None:
            self.memory.remember_pair(new_hash, pair, observation.best_value)
        return proposal

    def coupled_continuation(self, observation: arrl.Observation) -> arrl.Proposal | None:
        """The last coupled move again when it was kept (the current script is its result) by
        more than the noise margin, as the line search does with single moves."""
        if not observation.history:
            return None
        last = observation.history[-1]
        made = self.memory.pairs.get(last.config_hash)
        if made is None or last.config_hash != config_hash(observation.config):
            return None
        pair, parent_value = made
        if within_noise(last.val_loss, parent_value, observation.noise_floor, observation.direction):
            return None
        return self.apply_coupled(observation, pair)

    def random_pair(self, observation: arrl.Observation) -> arrl.Proposal | None:
        tried = tried_programs(observation)
        # Two moves first; when every pair near the script has run too, wider steps (three, then
        # four moves) before giving up and letting the loop record a duplicate.
        for attempt in range(60):
            edit = random_edit(observation.config, self.rng, 2 + attempt // 20, observation.editable,
                               observation.choices, observation.space)
            if config_hash({**observation.config, **edit.changes}) in tried:
                continue
            step = self._unlearned(observation, edit.changes, edit.description, "hill climb")
            if step is not None:
                return step
        return None

    def _unlearned(self, observation: arrl.Observation, changes: dict[str, Value], description: str,
                   kind: str) -> arrl.Proposal | None:
        """The proposal of ``changes`` that is not the policy's choice (a coupled move, a hill-climb
        step): its id has no pending action, so learn() skips its result. None when the script
        cannot take the values."""
        try:
            program = edit_observed(observation, changes, self.context)
        except SchemaError:
            return None
        return arrl.Proposal(program.script, arrl.Edit(changes, f"{description} ({kind})"), "ppo",
                             id=self.memory.next_id(kind), files=program.files)
