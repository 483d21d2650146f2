"""The PPO's trainer: the rollout buffer of transitions and the PPO step on the policy's networks.

Each proposal is a one-step episode, so the advantage is the reward minus the critic's value.
Every ``batch_size`` results the policy takes a PPO step: the clipped objective with
``clip = 0.2`` (the design document's standard; 0.1 for conservative search), an entropy bonus
against premature convergence, and a value loss. A transition is what the proposer recorded when
it acted (state, mask, action, the behaviour log-probability, the value) with its reward.

The proposer steps its trainer inside ``learn()``; the asynchronous learner
(:mod:`arrl.plugins.ppo.learner`) steps a copy on a thread of its own.
"""

from __future__ import annotations

from typing import Any

from arrl.script.observation import ATTRIBUTION_FEATURES

from .options import PPOOptions
from .policy import ActorCritic


class Trainer:
    """The optimizer of an :class:`ActorCritic`, the transitions not yet learned, and the steps taken."""

    def __init__(self, network: ActorCritic, options: PPOOptions) -> None:
        self.torch = network.torch
        self.network = network
        self.options = options
        self.new_optimizer()
        self.buffer: list[dict[str, Any]] = []
        self.updates = 0

    def new_optimizer(self) -> None:
        self.parameters = self.network.parameters()
        self.optimizer = self.torch.optim.Adam(self.parameters, lr=self.options.learning_rate)

    def add(self, transition: dict[str, Any]) -> None:
        """Buffer a transition; a full batch is learned at once."""
        self.buffer.append(transition)
        if len(self.buffer) >= self.options.batch_size:
            self.update()

    def grown(self, old_inputs: int, old_outputs: int) -> None:
        """The network grew from these sizes: the optimizer restarts on the new shapes, and the
        transitions recorded before growing are padded in both parts of their state."""
        self.new_optimizer()
        inputs, outputs = self.network.inputs, self.network.outputs
        features = len(ATTRIBUTION_FEATURES)
        for transition in self.buffer:
            state = transition["state"]
            observed, attributed = state[:old_inputs], state[old_inputs:]
            transition["state"] = (observed + [0.0] * (inputs - old_inputs)
                                   + attributed + [0.0] * (outputs - old_outputs) * features)
            transition["mask"] += [False] * (outputs - len(transition["mask"]))

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
            probabilities, values = self.network.forward(states, masks)
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
