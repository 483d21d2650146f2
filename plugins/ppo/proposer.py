"""The PPO proposer: a small actor-critic that learns which edit to make next.

State: the observation vector of :mod:`arrl.script.observation` (the current config and the 32-slot
history, every entry in [0, 1]). Action: one move of the shared action space
(:mod:`arrl.script.actions`), from a fixed list of every move the schema allows; moves the script cannot
make (absent fields, choices it lacks, no-ops, programs already in the window) are masked out.
Each proposal is a one-step episode, so the advantage is the reward minus the critic's value.
Every ``batch_size`` proposals the policy takes a PPO step: the clipped objective with
``clip = 0.2`` (the design document's standard; 0.1 for conservative search), an entropy bonus
against premature convergence, and a value loss.

torch is imported only when a PPO proposer is built, never by listing plugins.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import arrl
from arrl.run.noise import within_noise
from arrl.schema import HISTORY_WINDOW, SchemaError, Value, config_hash
from arrl.script.actions import Domains, Move, apply_move, field_domains, random_edit
from arrl.script.observation import (
    ATTRIBUTION_FEATURES,
    OBSERVATION_SIZE,
    Attributed,
    encode,
    encode_attribution,
    observation_size,
)
from arrl.script.reader import apply_values

from .moves import ACTIONS, action_list
from .options import PPOOptions

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


def actions_for(observation: arrl.Observation) -> list[Move]:
    """The schema's moves, then the moves of the run's knobs (``[space]`` order): the output
    layer grows with the knobs and the schema's actions keep their indices."""
    space = observation.space
    return ACTIONS if space is None or not space.knobs else ACTIONS + action_list(space.knobs)

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


def _describe(config: Mapping[str, Value], changes: Mapping[str, Value]) -> str:
    return "; ".join(f"{k} {config[k]} -> {v}" for k, v in changes.items())


def _tried(observation: arrl.Observation) -> set[str]:
    """Config hashes of every program the run has run or runs now (the window and beyond)."""
    return {entry.config_hash for entry in observation.history} | observation.tried


# How many proposals the proposer remembers the making of (lineage, origins, pairs): only the
# window's programs matter, with room for results that arrive late from other workers.
REMEMBERED = 4 * HISTORY_WINDOW


def _remember(table: dict[str, Any], key: str, value: Any) -> None:
    table[key] = value
    if len(table) > REMEMBERED:  # forget the oldest
        del table[next(iter(table))]


class PPOProposer(arrl.Proposer):

    # Its proposals change only the values of knobs the script reader found.
    writes_code = False
    def __init__(self, options: PPOOptions, context: arrl.PluginContext) -> None:
        import torch
        from torch import nn

        self.torch = torch
        self.options = options
        self.context = context
        if options.threads:
            torch.set_num_threads(options.threads)
        torch.manual_seed(context.seed)
        self.generator = torch.Generator().manual_seed(context.seed)
        width = options.hidden
        self.body = nn.Sequential(nn.Linear(OBSERVATION_SIZE, width), nn.Tanh(), nn.Linear(width, width), nn.Tanh())
        self.policy = nn.Linear(width, len(ACTIONS))
        self.value = nn.Linear(width, 1)
        # Scores every move from what the last move on its field did (arrl.script.observation's
        # attribution features), with weights shared by all moves: a search strategy, not a
        # preference for some fields. Its output starts at zero, so an untrained policy is
        # unchanged by it.
        self.attribution = nn.Sequential(nn.Linear(len(ATTRIBUTION_FEATURES), 16), nn.Tanh(), nn.Linear(16, 1))
        with torch.no_grad():
            last: Any = self.attribution[2]
            last.weight.zero_()
            last.bias.zero_()
        # The move behind each program the policy proposed, by config hash, and the best value
        # it was proposed against: what the attribution features are computed from.
        self.lineage: dict[str, Attributed] = {}
        # The move behind each program the proposer made with one move, and the config hash it
        # was made from: what the continuation reads to tell "kept" from "not kept".
        self.origins: dict[str, tuple[Move, str]] = {}
        self.opened = 0  # how many of the opening's moves (opening_moves) it has used or skipped
        self.coupled_used = 0  # how many of COUPLED the opening has used or skipped
        # The coupled move behind each program the proposer made with one, and the best value it
        # was proposed against: the line search repeats a coupled move that was kept.
        self.pairs: dict[str, tuple[tuple[Move, ...], float | None]] = {}
        self._new_optimizer()
        self.buffer: list[dict[str, Any]] = []
        # Actions awaiting their result, by proposal id: with several workers results arrive in
        # any order, and each must be learned against the action that produced it.
        self.pending: dict[str, dict[str, Any]] = {}
        self.proposed = 0
        self.updates = 0
        self.hill_rng = context.rng("ppo-hill-climb")
        if options.prior != "none":
            from .prior_file import load_prior

            load_prior(self, options.prior)

    def _new_optimizer(self) -> None:
        self.parameters = [*self.body.parameters(), *self.policy.parameters(), *self.value.parameters(),
                           *self.attribution.parameters()]
        self.optimizer = self.torch.optim.Adam(self.parameters, lr=self.options.learning_rate)

    def _inputs(self) -> int:
        first: Any = self.body[0]
        return int(first.in_features)

    def _grow(self, inputs: int, outputs: int) -> None:
        """Widen the input layer to ``inputs`` and the output layer to ``outputs`` with zero
        weights (a run with more knobs than the saved policy saw): the learned part behaves as
        before and new entries start neutral. The optimizer restarts on the new shapes."""
        torch = self.torch
        first: Any = self.body[0]
        policy = self.policy
        if first.in_features >= inputs and policy.out_features >= outputs:
            return
        old_inputs, old_outputs = first.in_features, policy.out_features
        with torch.no_grad():
            if first.in_features < inputs:
                grown = torch.nn.Linear(inputs, first.out_features)
                grown.weight.zero_()
                grown.weight[:, :first.in_features] = first.weight
                grown.bias.copy_(first.bias)
                self.body[0] = grown
            if policy.out_features < outputs:
                wider = torch.nn.Linear(policy.in_features, outputs)
                wider.weight.zero_()
                wider.bias.zero_()
                wider.weight[:policy.out_features] = policy.weight
                wider.bias[:policy.out_features] = policy.bias
                self.policy = wider
        self._new_optimizer()
        inputs, outputs = self._inputs(), self.policy.out_features
        features = len(ATTRIBUTION_FEATURES)
        for transition in self.buffer:  # transitions recorded before growing: pad both parts
            state = transition["state"]
            observed, attributed = state[:old_inputs], state[old_inputs:]
            transition["state"] = (observed + [0.0] * (inputs - old_inputs)
                                   + attributed + [0.0] * (outputs - old_outputs) * features)
            transition["mask"] += [False] * (outputs - len(transition["mask"]))

    # -- acting -----------------------------------------------------------------------------
    def _forward(self, observations: Any, masks: Any) -> tuple[Any, Any]:
        """(probabilities over the actions, value): the masked softmax mixed with the uniform
        distribution over valid moves (the exploration floor), used to act and to learn alike."""
        torch = self.torch
        # A state is the observation vector (the body's input) then the attribution features of
        # every action, ``len(ATTRIBUTION_FEATURES)`` each.
        inputs = self._inputs()
        hidden = self.body(observations[..., :inputs])
        attributed = observations[..., inputs:].reshape(*masks.shape, len(ATTRIBUTION_FEATURES))
        logits = self.policy(hidden) + self.attribution(attributed).squeeze(-1)
        logits = logits.masked_fill(~masks, float("-inf"))
        uniform = masks.float() / masks.float().sum(-1, keepdim=True)
        floor = self.options.exploration
        probabilities = (1 - floor) * torch.softmax(logits, dim=-1) + floor * uniform
        return probabilities, self.value(hidden).squeeze(-1)

    def _candidates(self, observation: arrl.Observation, skip_tried: bool = True) -> dict[int, dict]:
        """Valid actions -> the changes they make, judged at the schema level alone.

        Nothing is rendered here: applying every move to the script with libcst cost seconds per
        proposal on a real script. A move is valid when the field is editable, the target is a
        value the script can take and the resulting config passes the schema; a program already
        in the window is recognised by its config hash (the loop hashes the config it reads back
        from the proposed script, and moves change nothing but config values).
        """
        editable = set(observation.editable if observation.editable is not None else observation.config)
        tried = _tried(observation) if skip_tried else set()
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

    def _policy(self, observation: arrl.Observation, candidates: dict[int, Any]) -> tuple[Any, Any, Any, float]:
        """(state, mask, action probabilities, value) of an observation, without gradients."""
        torch = self.torch
        actions = len(actions_for(observation))
        self._grow(observation_size(observation.space), actions)
        state = torch.tensor(encode(observation, self.context.budget_seconds), dtype=torch.float32)
        state = torch.nn.functional.pad(state, (0, self._inputs() - len(state)))
        moves = actions_for(observation)
        attributed = encode_attribution(observation, self.lineage, moves)
        attributed += [0.0] * (self.policy.out_features - len(moves)) * len(ATTRIBUTION_FEATURES)
        state = torch.cat([state, torch.tensor(attributed, dtype=torch.float32)])
        mask = torch.zeros(self.policy.out_features, dtype=torch.bool)
        mask[list(candidates)] = True
        with torch.no_grad():
            probabilities, value = self._forward(state.unsqueeze(0), mask.unsqueeze(0))
        return state, mask, probabilities[0], float(value[0])

    def propose(self, observation: arrl.Observation) -> arrl.Proposal:
        torch = self.torch
        # Moves to programs already in the window are masked; once every move from here has been
        # tried, they are allowed again: the loop records such a proposal as a duplicate (not
        # run, penalised) and the policy learns to leave this neighbourhood.
        candidates = self._candidates(observation)
        if self.options.continuation == "on":
            coupled = self._coupled_continuation(observation)
            if coupled is not None:
                return coupled
        if not candidates and self.options.exhausted == "two_moves":
            step = (self._first_coupled(observation) if self.options.coupled == "on" else None) \
                or self._two_moves(observation)
            if step is not None:
                return step
        forced = self._continuation(observation, candidates) if self.options.continuation == "on" else None
        if forced is None and self.options.opening != "off":
            forced = self._opening(observation, candidates)
            while forced is None and self.options.coupled == "on" and self.coupled_used < len(COUPLED):
                self.coupled_used += 1
                step = self._apply_coupled(observation, COUPLED[self.coupled_used - 1])
                if step is not None:
                    return step
        candidates = candidates or self._candidates(observation, skip_tried=False)
        while candidates:
            state, mask, probabilities, value = self._policy(observation, candidates)
            if forced is not None and forced in candidates:
                # Not sampled: the transition keeps this move's probability under the current
                # policy, so PPO's ratio starts at 1 and the update is the policy gradient of
                # the move as if the policy had drawn it (it learns that continuing paid or not).
                action, forced = forced, None
            else:
                action = int(torch.multinomial(probabilities, 1, generator=self.generator))
            changes = candidates[action]
            try:
                # Only the chosen move is rendered; one the script cannot take after all (a site
                # arrl cannot rewrite to that value) is masked and the policy samples again.
                script = apply_values(observation.script, changes, self.context.script_path, self.context.field_map,
                                      observation.space)
            except SchemaError:
                del candidates[action]
                continue
            log_probability = float(torch.log(probabilities[action]))
            self.remember(observation, action, changes)
            self.proposed += 1
            proposal_id = f"ppo-{self.proposed}"
            self.pending[proposal_id] = {"state": state.tolist(), "mask": mask.tolist(), "action": action,
                                         "log_probability": log_probability, "value": value}
            return arrl.Proposal(script, arrl.Edit(changes, _describe(observation.config, changes)), "ppo",
                                 id=proposal_id)
        raise SchemaError("no field can be moved: the script exposes no editable schema value")

    def remember(self, observation: arrl.Observation, action: int, changes: dict) -> None:
        """Note that ``action`` from ``observation`` makes the program with these changes: its
        result, once in the history, is attributed to that move."""
        move = actions_for(observation)[action]
        new_hash = config_hash({**observation.config, **changes})
        _remember(self.lineage, new_hash, Attributed(move.field, move.direction, move.target, observation.best_value))
        _remember(self.origins, new_hash, (move, config_hash(observation.config)))

    def _opening(self, observation: arrl.Observation, candidates: dict[int, dict]) -> int | None:
        """The next move of the opening (:func:`opening_moves`) the script can make to a program
        not yet tried, or None once the list is used up; its changes in ``candidates`` get the
        optimizer's learning rate."""
        moves = actions_for(observation)
        opening = opening_moves(observation)
        while self.opened < len(opening):
            wanted = opening[self.opened]
            self.opened += 1
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
        if config_hash({**observation.config, **scaled}) in _tried(observation):
            return
        candidates[index] = scaled

    def _continuation(self, observation: arrl.Observation, candidates: dict[int, dict]) -> int | None:
        """The line search's next action, or None to let the policy choose: the last result's
        move again when it was kept (the current script is that result), the other direction of
        an up/down move that was not kept (the current script is still its parent)."""
        if not observation.history:
            return None
        last = observation.history[-1]
        origin = self.origins.get(last.config_hash)
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
        attributed = self.lineage.get(kept.config_hash)
        if attributed is None:
            return False
        return within_noise(kept.val_loss, attributed.parent_value, observation.noise_floor, observation.direction)

    def _first_coupled(self, observation: arrl.Observation) -> arrl.Proposal | None:
        """A proposal of the first move of COUPLED the script can make to a program not yet tried."""
        for pair in COUPLED:
            step = self._apply_coupled(observation, pair)
            if step is not None:
                return step
        return None

    def _apply_coupled(self, observation: arrl.Observation, pair: tuple[Move, ...]) -> arrl.Proposal | None:
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
        if not {move.field for move in pair} <= set(changes) or new_hash in _tried(observation):
            return None
        proposal = self._unlearned(observation, changes, _describe(observation.config, changes), "coupled")
        if proposal is not None:
            _remember(self.pairs, new_hash, (tuple(pair), observation.best_value))
        return proposal

    def _unlearned(self, observation: arrl.Observation, changes: dict[str, Value], description: str,
                   kind: str) -> arrl.Proposal | None:
        """The proposal of ``changes`` that is not the policy's choice (a coupled move, a hill-climb
        step): its id has no pending action, so learn() skips its result. None when the script
        cannot take the values."""
        try:
            script = apply_values(observation.script, changes, self.context.script_path, self.context.field_map,
                                  observation.space)
        except SchemaError:
            return None
        self.proposed += 1
        return arrl.Proposal(script, arrl.Edit(changes, f"{description} ({kind})"), "ppo",
                             id=f"ppo-{kind.replace(' ', '-')}-{self.proposed}")

    def _coupled_continuation(self, observation: arrl.Observation) -> arrl.Proposal | None:
        """The last coupled move again when it was kept (the current script is its result) by
        more than the noise margin, as the line search does with single moves."""
        if not observation.history:
            return None
        last = observation.history[-1]
        made = self.pairs.get(last.config_hash)
        if made is None or last.config_hash != config_hash(observation.config):
            return None
        pair, parent_value = made
        if within_noise(last.val_loss, parent_value, observation.noise_floor, observation.direction):
            return None
        return self._apply_coupled(observation, pair)

    def _two_moves(self, observation: arrl.Observation) -> arrl.Proposal | None:
        tried = _tried(observation)
        # Two moves first; when every pair near the script has run too, wider steps (three, then
        # four moves) before giving up and letting the loop record a duplicate.
        for attempt in range(60):
            edit = random_edit(observation.config, self.hill_rng, 2 + attempt // 20, observation.editable,
                               observation.choices, observation.space)
            if config_hash({**observation.config, **edit.changes}) in tried:
                continue
            step = self._unlearned(observation, edit.changes, edit.description, "hill climb")
            if step is not None:
                return step
        return None

    # -- learning ---------------------------------------------------------------------------
    def learn(self, record: arrl.ExperimentRecord, reward: float) -> None:
        # A record without an id (a caller running one proposal at a time) is the oldest's.
        pending = self.pending.pop(record.proposal_id or next(iter(self.pending), ""), None)
        if pending is None:
            return
        self.buffer.append({**pending, "reward": float(reward)})
        if len(self.buffer) >= self.options.batch_size:
            self.update()

    def update(self) -> dict[str, float]:
        """One PPO step on the buffered transitions; returns the losses for inspection."""
        torch = self.torch
        o = self.options
        states = torch.tensor([t["state"] for t in self.buffer], dtype=torch.float32)
        masks = torch.tensor([t["mask"] for t in self.buffer], dtype=torch.bool)
        actions = torch.tensor([t["action"] for t in self.buffer])
        old_log_probabilities = torch.tensor([t["log_probability"] for t in self.buffer])
        rewards = torch.tensor([t["reward"] for t in self.buffer], dtype=torch.float32)
        advantages = rewards - torch.tensor([t["value"] for t in self.buffer])
        if len(self.buffer) > 1:
            advantages = (advantages - advantages.mean()) / (advantages.std() + 1e-8)
        losses: dict[str, float] = {}
        for _ in range(o.epochs):
            probabilities, values = self._forward(states, masks)
            distribution = torch.distributions.Categorical(probs=probabilities)
            ratio = torch.exp(distribution.log_prob(actions) - old_log_probabilities)
            clipped = torch.clamp(ratio, 1 - o.clip, 1 + o.clip)
            policy_loss = -torch.min(ratio * advantages, clipped * advantages).mean()
            value_loss = torch.nn.functional.mse_loss(values, rewards)
            entropy = distribution.entropy().mean()
            loss = policy_loss + o.value_coefficient * value_loss - o.entropy * entropy
            self.optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(self.parameters, 1.0)
            self.optimizer.step()
            losses = {"policy": policy_loss.item(), "value": value_loss.item(), "entropy": entropy.item()}
        self.buffer.clear()
        self.updates += 1
        return losses

    def probabilities(self, observation: arrl.Observation) -> dict[int, float]:
        """The policy's current probability of each valid action (for tests and inspection)."""
        candidates = self._candidates(observation)
        probabilities = self._policy(observation, candidates)[2]
        return {index: float(probabilities[index]) for index in candidates}

    # -- persistence --------------------------------------------------------------------------
    # Weights go through torch.save of plain state dicts (loaded with weights_only=True: no
    # pickled objects); everything else is JSON.
    def save(self, path: Path) -> None:
        torch = self.torch
        weights = path.with_suffix(".pt")
        # Each file written aside and renamed into place: a kill mid-save leaves the previous
        # state readable, never an empty or half-written file that stops the next start.
        torch.save({"body": self.body.state_dict(), "policy": self.policy.state_dict(),
                    "value": self.value.state_dict(), "attribution": self.attribution.state_dict(),
                    "optimizer": self.optimizer.state_dict(),
                    "generator": self.generator.get_state()}, weights.with_suffix(".pt.tmp"))
        os.replace(weights.with_suffix(".pt.tmp"), weights)
        aside = path.with_suffix(path.suffix + ".tmp")
        lineage = {key: [m.field, m.direction, m.target, m.parent_value] for key, m in self.lineage.items()}
        origins = {key: [m.field, m.direction, m.target, parent] for key, (m, parent) in self.origins.items()}
        pairs = {key: [[[m.field, m.direction, m.target] for m in pair], parent_value]
                 for key, (pair, parent_value) in self.pairs.items()}
        aside.write_text(json.dumps({"weights": weights.name, "buffer": self.buffer, "updates": self.updates,
                                     "lineage": lineage, "origins": origins, "opened": self.opened,
                                     "coupled_used": self.coupled_used, "pairs": pairs}))
        os.replace(aside, path)

    def load(self, path: Path) -> None:
        torch = self.torch
        state = json.loads(path.read_text())
        saved = torch.load(path.with_name(state["weights"]), weights_only=True)
        # Take the saved shapes (a policy saved with fewer knobs); the first proposal grows them.
        inputs, outputs = saved["body"]["0.weight"].shape[1], saved["policy"]["weight"].shape[0]
        if inputs != self._inputs() or outputs != self.policy.out_features:
            self.body[0] = torch.nn.Linear(inputs, self.options.hidden)
            self.policy = torch.nn.Linear(self.policy.in_features, outputs)
            self._new_optimizer()
        self.body.load_state_dict(saved["body"])
        self.policy.load_state_dict(saved["policy"])
        self.value.load_state_dict(saved["value"])
        if "attribution" in saved:
            self.attribution.load_state_dict(saved["attribution"])
            self.optimizer.load_state_dict(saved["optimizer"])
        # A state saved before the attribution scorer (observation version 2): its transitions
        # lack the attribution part and its optimizer the scorer's parameters; both start afresh.
        self.lineage = {key: Attributed(*value) for key, value in state.get("lineage", {}).items()}
        self.origins = {key: (Move(*value[:3]), value[3]) for key, value in state.get("origins", {}).items()}
        self.opened = state.get("opened", 0)
        self.coupled_used = state.get("coupled_used", 0)
        self.pairs = {key: (tuple(Move(*move) for move in pair), parent_value)
                      for key, (pair, parent_value) in state.get("pairs", {}).items()}
        self.generator.set_state(saved["generator"])
        self.buffer = state["buffer"] if "attribution" in saved else []
        self.updates = state["updates"]
