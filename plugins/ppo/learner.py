"""The PPO's asynchronous learner: PPO steps off the propose path, published as versioned weights.

With several workers (``arrl run --workers N``, on this machine or on Ray) results arrive while
other experiments run, and a PPO step inside the loop's one-at-a-time conclude phase holds up
every worker waiting to propose. With ``-o proposer.learner=async`` the PPO proposer hands each
result to a learner thread instead and goes on proposing:

- **The learner** keeps its own copy of the networks and optimizer. It holds the results not yet
  learned in a rollout buffer of ``rollout_size`` transitions (N x 32 for N workers: room for a
  full window of results from every worker while a step is under way; beyond it the oldest are
  dropped, never the newest). Every ``batch_size`` new results it takes one PPO step on all of
  them and **publishes** the new weights with a version number.
- **The proposer** acts with the last published weights: before each proposal it takes the
  newest version (a copy of a few small tensors), and records with the action the behaviour
  log-probability and the version of the weights that sampled it.

The cadence -- one step per ``batch_size`` results, as arrive -- is the single worker's: one
worker learns after every 8 results, and so does a pool of 32. Waiting for a full buffer of N x 32
results before each step would learn 128 times less often per experiment at N = 32 (one step per
1,024 results instead of per 8), and the first step would come after 1,024 experiments. The buffer
is a bound on memory and on how far the learner may fall behind, not a wait.

Samples from an older policy: by the time a result arrives the policy may have moved (other
results were learned while the experiment ran). PPO's ratio is taken against the behaviour
log-probability stored with the action -- the policy that actually sampled it, at whatever
version -- not against the current policy, so the clipped objective bounds how far a stale sample
can move the policy beyond what its behaviour policy supports. tests/test_ppo_learner.py shows
the difference: the same stale samples, learned as if on-policy, push the policy further in the
direction it has already gone.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Any

import arrl

from .policy import NETWORKS
from .proposer import PPOOptions, PPOProposer


class AsyncLearner:
    """A thread that takes PPO steps on a copy of ``proposer``'s networks and publishes them."""

    def __init__(self, proposer: PPOProposer) -> None:
        import torch

        options = proposer.options
        # The learner's own networks: a proposer built from the same options, given the acting
        # networks' shapes and weights; its update() is the PPO step, unchanged.
        self.model = PPOProposer(_synchronous(options), proposer.context)
        self.model._grow(proposer.network.inputs, proposer.network.outputs)
        self.model.trainer.new_optimizer()
        for name in NETWORKS:
            getattr(self.model.network, name).load_state_dict(getattr(proposer.network, name).state_dict())
        self.model.trainer.optimizer.load_state_dict(proposer.trainer.optimizer.state_dict())
        self.batch_size = options.batch_size
        self.torch = torch
        self.condition = threading.Condition()
        # Transitions not yet learned, each with the monotonic time its result arrived.
        self.waiting: deque[tuple[float, dict[str, Any]]] = deque(maxlen=options.rollout_size)
        self.version = 0
        self.published: dict[str, Any] | None = None
        self.busy = False
        self.closing = False
        self.error: BaseException | None = None
        # Per step: seconds from the arrival of the result that completed the batch to the
        # publication of the weights learned from it, and the step's own seconds.
        self.latencies: list[tuple[float, float]] = []
        self.thread = threading.Thread(target=self._run, name="arrl-ppo-learner", daemon=True)
        self.thread.start()

    # -- the proposer's side ------------------------------------------------------------------
    def submit(self, transition: dict[str, Any]) -> None:
        with self.condition:
            if self.error is not None:
                raise arrl.ArrlError(f"the PPO learner failed: {type(self.error).__name__}: {self.error}")
            self.waiting.append((time.monotonic(), transition))
            self.condition.notify_all()

    def newest(self, than: int) -> tuple[int, dict[str, Any]] | None:
        """The published (version, weights) when newer than version ``than``."""
        with self.condition:
            if self.published is None or self.version <= than:
                return None
            return self.version, self.published

    def drain(self, timeout: float = 60.0) -> None:
        """Wait until every full batch submitted so far is learned and published."""
        with self.condition:
            self.condition.wait_for(lambda: self.error is not None or (not self.busy and len(self.waiting) < self.batch_size),
                                    timeout)

    def unlearned(self) -> list[dict[str, Any]]:
        with self.condition:
            return [transition for _, transition in self.waiting]

    def close(self) -> None:
        with self.condition:
            self.closing = True
            self.condition.notify_all()
        self.thread.join(timeout=60)

    # -- the learner's thread -------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            with self.condition:
                self.condition.wait_for(lambda: self.closing or len(self.waiting) >= self.batch_size)
                if self.closing:
                    return
                # Everything waiting, in one step: a learner that fell behind catches up at once.
                batch = list(self.waiting)
                self.waiting.clear()
                self.busy = True
            try:
                began = time.perf_counter()
                self.model.trainer.buffer = [transition for _, transition in batch]
                self.model.trainer.update()
                weights = {name: {k: v.detach().clone() for k, v in state.items()}
                           for name, state in self.model.network.state_dicts().items()}
                weights["optimizer"] = self.model.trainer.optimizer.state_dict()
                stepped = time.perf_counter() - began
            except BaseException as error:  # noqa: BLE001 - reported to the proposer on its next submit
                with self.condition:
                    self.error, self.busy = error, False
                    self.condition.notify_all()
                return
            with self.condition:
                self.version += 1
                self.published = weights
                self.busy = False
                self.latencies.append((time.monotonic() - batch[-1][0], stepped))
                self.condition.notify_all()


def _synchronous(options: PPOOptions) -> PPOOptions:
    import attrs

    return attrs.evolve(options, learner="sync", prior="none")


class AsyncPPOProposer(PPOProposer):
    """The PPO proposer with its learning in an :class:`AsyncLearner`: proposals sample from the
    last published weights and record the behaviour log-probability and the weights' version."""

    def __init__(self, options: PPOOptions, context: arrl.PluginContext) -> None:
        super().__init__(options, context)
        self.learner: AsyncLearner | None = None
        self.weights_version = 0
        self.updates_before = 0  # steps taken before this learner started (a continued run)

    def _adopt_published(self) -> None:
        if self.learner is None:
            return
        newest = self.learner.newest(self.weights_version)
        if newest is None:
            return
        self.weights_version, weights = newest
        self.network.load_state_dicts(weights)
        self.trainer.optimizer.load_state_dict(weights["optimizer"])  # only for save(): the learner steps
        self.trainer.updates = self.updates_before + self.weights_version

    def propose(self, observation: arrl.Observation) -> arrl.Proposal:
        self._adopt_published()
        proposal = super().propose(observation)
        if proposal.id in self.pending:
            self.pending[proposal.id]["weights_version"] = self.weights_version
        return proposal

    def learn(self, record: arrl.ExperimentRecord, reward: float) -> None:
        pending = self.pending.pop(record.proposal_id or next(iter(self.pending), ""), None)
        if pending is None:
            return
        if self.learner is None:  # after the first proposal: the networks have their run's shapes
            self.updates_before = self.trainer.updates
            self.learner = AsyncLearner(self)
            for transition in self.trainer.buffer:  # restored by load(): learned first
                self.learner.submit(transition)
            self.trainer.buffer = []
        self.learner.submit({**pending, "reward": float(reward)})
        self._adopt_published()

    def save(self, path: Any) -> None:
        self._adopt_published()
        if self.learner is not None:
            self.trainer.buffer = self.learner.unlearned()  # kept, so a continued run learns them
        try:
            super().save(path)
        finally:
            if self.learner is not None:
                self.trainer.buffer = []

    def close(self) -> None:
        if self.learner is not None:
            self.learner.close()
