"""The PPO proposer: a small actor-critic that learns which edit to make next.

The proposer composes the parts of this package: the policy (:mod:`arrl.plugins.ppo.policy`: the
network, the masked action distribution, sampling), its trainer (:mod:`arrl.plugins.ppo.training`:
the rollout buffer and the PPO step), the search moves besides the policy's draws
(:mod:`arrl.plugins.ppo.search`: the opening, the line search, two-move steps), what it remembers
of its proposals (:mod:`arrl.plugins.ppo.memory`), its action space (:mod:`arrl.plugins.ppo.moves`),
its saved state (:mod:`arrl.plugins.ppo.state`) and its prior (:mod:`arrl.plugins.ppo.prior_file`).
What is left here is arrl's proposer contract: propose (an action made into an edit and a
rendered script), learn (each result against the action that produced it), save and load.

torch is imported only when a PPO proposer is built, never by listing plugins.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import arrl
from arrl.schema import SchemaError
from arrl.script.observation import observation_size
from arrl.script.reader import edit_observed

from .memory import Memory
from .moves import ACTIONS, actions_for, describe, valid_actions
from .options import PPOOptions
from .policy import ActorCritic
from .search import COUPLED, OPENING, OPTIMIZER_LEARNING_RATE, LineSearch, TwoMoves, coupled_config, opening_moves
from .state import load_state, save_state
from .training import Trainer

# Imported from here by the asynchronous learner, the prior maker, benchmarks and tests.
__all__ = ["ACTIONS", "COUPLED", "OPENING", "OPTIMIZER_LEARNING_RATE", "PPOOptions", "PPOProposer", "actions_for",
           "coupled_config", "opening_moves"]


class _Part:
    """An attribute of one of the proposer's parts, read and written under the proposer's own
    name: the names the asynchronous learner, prior files, benchmarks and tests have always used
    (``proposer.policy`` is the network's policy head, ``proposer.buffer`` the trainer's)."""

    def __init__(self, part: str, name: str = "") -> None:
        self.part = part
        self.name = name

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = self.name or name

    def __get__(self, proposer: Any, owner: type | None = None) -> Any:
        return self if proposer is None else getattr(getattr(proposer, self.part), self.name)

    def __set__(self, proposer: Any, value: Any) -> None:
        setattr(getattr(proposer, self.part), self.name, value)


class PPOProposer(arrl.Proposer):
    """Proposes one move at a time, chosen by the search moves or drawn from the policy, and
    learns from the result of each move the policy made."""

    # Its proposals change only the values of knobs the script reader found.
    writes_code = False

    body = _Part("network")
    policy = _Part("network")
    value = _Part("network")
    attribution = _Part("network")
    generator = _Part("network")
    optimizer = _Part("trainer")
    buffer = _Part("trainer")
    updates = _Part("trainer")
    _new_optimizer = _Part("trainer", "new_optimizer")
    lineage = _Part("memory")
    opened = _Part("memory")
    coupled_used = _Part("memory")
    _apply_coupled = _Part("two_moves", "apply_coupled")

    def __init__(self, options: PPOOptions, context: arrl.PluginContext) -> None:
        import torch

        self.torch = torch
        self.options = options
        self.context = context
        if options.threads:
            torch.set_num_threads(options.threads)
        torch.manual_seed(context.seed)
        self.network = ActorCritic(torch, options, context.seed)
        self.trainer = Trainer(self.network, options)
        self.memory = Memory()
        # Actions awaiting their result, by proposal id: with several workers results arrive in
        # any order, and each must be learned against the action that produced it.
        self.pending: dict[str, dict[str, Any]] = {}
        self.line_search = LineSearch(self.memory)
        self.two_moves = TwoMoves(self.memory, context, context.rng("ppo-hill-climb"))
        if options.prior != "none":
            from .prior_file import load_prior

            load_prior(self, options.prior)

    def _grow(self, inputs: int, outputs: int) -> None:
        """Widen the network to a run with more knobs than it saw (ActorCritic.grow); the
        optimizer restarts on the new shapes and buffered transitions are padded to them."""
        before = self.network.inputs, self.network.outputs
        if self.network.grow(inputs, outputs):
            self.trainer.grown(*before)

    def _candidates(self, observation: arrl.Observation, skip_tried: bool = True) -> dict[int, dict]:
        """Valid actions -> the changes they make (:func:`arrl.plugins.ppo.moves.valid_actions`)."""
        return valid_actions(observation, skip_tried)

    def _policy(self, observation: arrl.Observation, candidates: dict[int, Any]) -> tuple[Any, Any, Any, float]:
        """(state, mask, action probabilities, value) of an observation, without gradients."""
        self._grow(observation_size(observation.space), len(actions_for(observation)))
        return self.network.evaluate(observation, candidates, self.memory.lineage, self.context.budget_seconds)

    def propose(self, observation: arrl.Observation) -> arrl.Proposal:
        o = self.options
        # Moves to programs already in the window are masked; once every move from here has been
        # tried, they are allowed again: the loop records such a proposal as a duplicate (not
        # run, penalised) and the policy learns to leave this neighbourhood.
        candidates = self._candidates(observation)
        if o.continuation == "on":
            coupled = self.two_moves.coupled_continuation(observation)
            if coupled is not None:
                return coupled
        if not candidates and o.exhausted == "two_moves":
            step = (self.two_moves.first_coupled(observation) if o.coupled == "on" else None) \
                or self.two_moves.random_pair(observation)
            if step is not None:
                return step
        forced = self.line_search.continuation(observation, candidates) if o.continuation == "on" else None
        if forced is None and o.opening != "off":
            forced = self.line_search.opening(observation, candidates)
            step = self.two_moves.opening(observation) if forced is None and o.coupled == "on" else None
            if step is not None:
                return step
        return self._act(observation, candidates or self._candidates(observation, skip_tried=False), forced)

    def _act(self, observation: arrl.Observation, candidates: dict[int, dict], forced: int | None) -> arrl.Proposal:
        """The proposal of the policy's action, pending until its result comes: ``forced`` (the
        line search's or the opening's move) when given, else a move drawn from the policy."""
        while candidates:
            state, mask, probabilities, value = self._policy(observation, candidates)
            if forced is not None and forced in candidates:
                # Not sampled: the transition keeps this move's probability under the current
                # policy, so PPO's ratio starts at 1 and the update is the policy gradient of
                # the move as if the policy had drawn it (it learns that continuing paid or not).
                action, forced = forced, None
            else:
                action = self.network.sample(probabilities)
            changes = candidates[action]
            try:
                # Only the chosen move is rendered; one the script cannot take after all (a site
                # arrl cannot rewrite to that value) is masked and the policy samples again.
                program = edit_observed(observation, changes, self.context)
            except SchemaError:
                del candidates[action]
                continue
            log_probability = float(self.torch.log(probabilities[action]))
            self.remember(observation, action, changes)
            proposal_id = self.memory.next_id()
            self.pending[proposal_id] = {"state": state.tolist(), "mask": mask.tolist(), "action": action,
                                         "log_probability": log_probability, "value": value}
            return arrl.Proposal(program.script, arrl.Edit(changes, describe(observation.config, changes)), "ppo",
                                 id=proposal_id, files=program.files)
        raise SchemaError("no field can be moved: the script exposes no editable schema value")

    def remember(self, observation: arrl.Observation, action: int, changes: dict) -> None:
        """Note that ``action`` from ``observation`` makes the program with these changes: its
        result, once in the history, is attributed to that move."""
        self.memory.remember(observation, actions_for(observation)[action], changes)

    def learn(self, record: arrl.ExperimentRecord, reward: float) -> None:
        # A record without an id (a caller running one proposal at a time) is the oldest's.
        pending = self.pending.pop(record.proposal_id or next(iter(self.pending), ""), None)
        if pending is None:
            return
        self.trainer.add({**pending, "reward": float(reward)})

    def update(self) -> dict[str, float]:
        """One PPO step on the buffered transitions; returns the losses for inspection."""
        return self.trainer.update()

    def probabilities(self, observation: arrl.Observation) -> dict[int, float]:
        """The policy's current probability of each valid action (for tests and inspection)."""
        candidates = self._candidates(observation)
        probabilities = self._policy(observation, candidates)[2]
        return {index: float(probabilities[index]) for index in candidates}

    def save(self, path: Path) -> None:
        save_state(path, self.network, self.trainer, self.memory)

    def load(self, path: Path) -> None:
        load_state(path, self.network, self.trainer, self.memory)
