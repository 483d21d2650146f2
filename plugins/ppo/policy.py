"""The PPO's policy: a small actor-critic network and the action distribution it acts with.

State: the observation vector of :mod:`arrl.script.observation` (the current config and the 32-slot
history, every entry in [0, 1]), then the attribution features of every action. Action: one move of
the action list (:mod:`arrl.plugins.ppo.moves`); moves the script cannot make are masked out, and
the softmax over the rest is mixed with the uniform distribution over them (the exploration
floor). Actions are drawn with the policy's own generator, seeded from the run's seed, so the
same seed and results make the same proposals.

The networks are kept apart from their optimizer (:mod:`arrl.plugins.ppo.training`) so that the
proposer acts with them, the trainer steps them, and a prior file or a saved state loads them, each
through this one object.
"""

from __future__ import annotations

from typing import Any

import arrl
from arrl.script.observation import ATTRIBUTION_FEATURES, OBSERVATION_SIZE, Attributed, encode, encode_attribution

from .moves import ACTIONS, actions_for
from .options import PPOOptions

# The networks by the names their weights are saved under: a saved state, a prior file, and the
# weights the asynchronous learner publishes (the attribution scorer too: it is part of the policy).
NETWORKS = ("body", "policy", "value", "attribution")


class ActorCritic:
    """The body, the policy head (one logit per action), the value head (the critic) and the
    attribution scorer; torch is handed in, so that importing this module never imports it."""

    def __init__(self, torch: Any, options: PPOOptions, seed: int) -> None:
        from torch import nn

        self.torch = torch
        self.exploration = options.exploration
        self.hidden = options.hidden
        self.generator = torch.Generator().manual_seed(seed)
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

    @property
    def inputs(self) -> int:
        first: Any = self.body[0]
        return int(first.in_features)

    @property
    def outputs(self) -> int:
        return int(self.policy.out_features)

    def parameters(self) -> list[Any]:
        return [*self.body.parameters(), *self.policy.parameters(), *self.value.parameters(),
                *self.attribution.parameters()]

    def state_dicts(self) -> dict[str, Any]:
        return {name: getattr(self, name).state_dict() for name in NETWORKS}

    def load_state_dicts(self, saved: dict[str, Any]) -> None:
        """Load the saved networks; one saved before the attribution scorer leaves it as it is."""
        for name in NETWORKS:
            if name in saved:
                getattr(self, name).load_state_dict(saved[name])

    def resize(self, inputs: int, outputs: int) -> bool:
        """Fresh input and output layers of these sizes (to load weights saved with fewer knobs),
        unless they have them already; whether they changed."""
        if inputs == self.inputs and outputs == self.outputs:
            return False
        self.body[0] = self.torch.nn.Linear(inputs, self.hidden)
        self.policy = self.torch.nn.Linear(self.policy.in_features, outputs)
        return True

    def grow(self, inputs: int, outputs: int) -> bool:
        """Widen the input layer to ``inputs`` and the output layer to ``outputs`` with zero
        weights (a run with more knobs than the saved policy saw): the learned part behaves as
        before and new entries start neutral. Whether it grew."""
        torch = self.torch
        first: Any = self.body[0]
        policy = self.policy
        if first.in_features >= inputs and policy.out_features >= outputs:
            return False
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
        return True

    def forward(self, observations: Any, masks: Any) -> tuple[Any, Any]:
        """(probabilities over the actions, value): the masked softmax mixed with the uniform
        distribution over valid moves (the exploration floor), used to act and to learn alike."""
        torch = self.torch
        # A state is the observation vector (the body's input) then the attribution features of
        # every action, ``len(ATTRIBUTION_FEATURES)`` each.
        inputs = self.inputs
        hidden = self.body(observations[..., :inputs])
        attributed = observations[..., inputs:].reshape(*masks.shape, len(ATTRIBUTION_FEATURES))
        logits = self.policy(hidden) + self.attribution(attributed).squeeze(-1)
        logits = logits.masked_fill(~masks, float("-inf"))
        uniform = masks.float() / masks.float().sum(-1, keepdim=True)
        floor = self.exploration
        probabilities = (1 - floor) * torch.softmax(logits, dim=-1) + floor * uniform
        return probabilities, self.value(hidden).squeeze(-1)

    def evaluate(self, observation: arrl.Observation, candidates: dict[int, Any], lineage: dict[str, Attributed],
                 budget_seconds: float) -> tuple[Any, Any, Any, float]:
        """(state, mask, action probabilities, value) of an observation, without gradients; the
        network must already have the observation's sizes (grow)."""
        torch = self.torch
        state = torch.tensor(encode(observation, budget_seconds), dtype=torch.float32)
        state = torch.nn.functional.pad(state, (0, self.inputs - len(state)))
        moves = actions_for(observation)
        attributed = encode_attribution(observation, lineage, moves)
        attributed += [0.0] * (self.outputs - len(moves)) * len(ATTRIBUTION_FEATURES)
        state = torch.cat([state, torch.tensor(attributed, dtype=torch.float32)])
        mask = torch.zeros(self.outputs, dtype=torch.bool)
        mask[list(candidates)] = True
        with torch.no_grad():
            probabilities, value = self.forward(state.unsqueeze(0), mask.unsqueeze(0))
        return state, mask, probabilities[0], float(value[0])

    def sample(self, probabilities: Any) -> int:
        return int(self.torch.multinomial(probabilities, 1, generator=self.generator))
