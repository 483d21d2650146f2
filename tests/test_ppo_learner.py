"""The PPO's asynchronous learner (arrl.plugins.ppo.learner) and why samples from an older policy
are weighted against the policy that produced them."""

from __future__ import annotations

import copy
import math
from pathlib import Path

import arrl
from arrl.plugins.ppo.learner import AsyncPPOProposer
from arrl.plugins.ppo.proposer import ACTIONS, PPOOptions, PPOProposer
from arrl.script import extract

SCRIPT = "LEARNING_RATE = 0.01\nDROPOUT = 0.1\nBATCH_SIZE = 32\nACTIVATION = 'relu'\n" \
         "print(f'arrl: val_loss={LEARNING_RATE + DROPOUT}')\n"
GOOD = next(i for i, m in enumerate(ACTIONS) if (m.field, m.direction) == ("learning_rate", "down"))


def _observation() -> arrl.Observation:
    found = extract(SCRIPT)
    return arrl.Observation(SCRIPT, dict(found.values), (), editable=tuple(found.editable))


def _context(tmp_path: Path) -> arrl.PluginContext:
    return arrl.PluginContext(tmp_path, tmp_path, "train.py", "val_loss", arrl.Direction.MINIMIZE, 60, 0)


def _record(step: int, proposal_id: str) -> arrl.ExperimentRecord:
    return arrl.ExperimentRecord(id=step, parent_id=0, outcome=arrl.Outcome.OK, config={}, config_hash="",
                                 program_hash="", metric_name="val_loss", direction=arrl.Direction.MINIMIZE,
                                 value=1.0, proposal_id=proposal_id)


def test_the_async_learner_learns_the_rewarded_move_at_the_single_workers_cadence(tmp_path: Path) -> None:
    proposer = AsyncPPOProposer(PPOOptions(batch_size=8, learner="async", opening="off", continuation="off"), _context(tmp_path))
    observation = _observation()
    before = proposer.probabilities(observation)[GOOD]
    # Four experiments in flight at a time, results learned in another order than proposed.
    in_flight: list[tuple[arrl.Proposal, bool]] = []
    for step in range(240):
        proposal = proposer.propose(observation)
        in_flight.append((proposal, proposal.edit.changes == {"learning_rate": 0.005}))
        if len(in_flight) == 4:
            for done, is_good in reversed(in_flight):
                proposer.learn(_record(step, done.id), 1.0 if is_good else -1.0)
            in_flight.clear()
            if step % 8 == 7 and proposer.learner is not None:
                # Experiments take seconds, a step milliseconds: the learner keeps up. Without
                # this wait a loaded machine (CI at load 2+) lets it fall behind and catch up in
                # fewer, larger steps, which the cadence asserted below is not about.
                proposer.learner.drain()
    assert proposer.learner is not None
    proposer.learner.drain()
    proposer.propose(observation)  # takes the newest published weights
    after = proposer.probabilities(observation)[GOOD]
    assert after > 0.6, f"{before:.3f} -> {after:.3f}"
    # One step per 8 results, as one worker takes them.
    steps = proposer.learner.version
    assert steps == 240 // 8 and proposer.updates == steps, steps
    assert all(update >= 0 and latency >= update for latency, update in proposer.learner.latencies)


def test_proposals_record_the_behaviour_log_probability_and_weights_version(tmp_path: Path) -> None:
    proposer = AsyncPPOProposer(PPOOptions(batch_size=4, learner="async", opening="off", continuation="off"), _context(tmp_path))
    observation = _observation()
    for step in range(4):
        proposal = proposer.propose(observation)
        assert proposer.pending[proposal.id]["weights_version"] == 0
        proposer.learn(_record(step, proposal.id), 1.0 if proposal.edit.changes == {"learning_rate": 0.005} else -1.0)
    assert proposer.learner is not None
    proposer.learner.drain()
    proposal = proposer.propose(observation)
    pending = proposer.pending[proposal.id]
    assert pending["weights_version"] == 1  # sampled from the weights published after the step
    # The stored log-probability is that of the policy that sampled it, the published one.
    learned = proposer.learner.model.probabilities(observation)[pending["action"]]
    assert math.isclose(math.exp(pending["log_probability"]), learned, rel_tol=1e-5)


def test_stale_samples_are_weighted_against_the_policy_that_produced_them(tmp_path: Path) -> None:
    """Eight results sampled by the policy at version 0 arrive after the learner has already moved
    the policy towards the rewarded move (probability 0.11 -> ~0.7). PPO's ratio against their
    behaviour log-probability (0.7 / 0.11 for the rewarded move) lies outside the clip range: the
    policy has already gone further than these samples support, so they move it no further. Taken
    as on-policy (ratio 1), the same samples push it on as if they were new evidence, counting the
    same results twice. Only the policy term is learned (no entropy bonus, no value loss, a fresh
    optimizer), so the difference is the ratio's alone."""
    options = PPOOptions(batch_size=8, entropy=0.0, value_coefficient=0.0, opening="off", continuation="off")
    proposer = PPOProposer(options, _context(tmp_path))
    observation = _observation()
    candidates = proposer._candidates(observation)
    other = next(i for i in candidates if i != GOOD)
    outcomes = [(GOOD, 1.0)] * 4 + [(other, -1.0)] * 4

    def sampled_now() -> list[dict]:
        state, mask, probabilities, value = proposer._policy(observation, candidates)
        return [{"state": state.tolist(), "mask": mask.tolist(), "action": action, "value": value,
                 "log_probability": math.log(float(probabilities[action])), "reward": reward}
                for action, reward in outcomes]

    stale = sampled_now()  # version 0: behaviour probability of the rewarded move ~0.11
    behaviour = proposer.probabilities(observation)[GOOD]
    for _ in range(3):  # meanwhile, other results move the policy: versions 1-3
        proposer.buffer = sampled_now()
        proposer.update()
    moved = {name: copy.deepcopy(getattr(proposer, name).state_dict()) for name in ("body", "policy", "value")}
    current = proposer.probabilities(observation)[GOOD]
    assert current > behaviour + 0.3

    def learn_stale(on_policy: bool) -> float:
        for name, weights in moved.items():
            getattr(proposer, name).load_state_dict(weights)
        proposer._new_optimizer()
        now = sampled_now()
        # On-policy pretence: the current policy's log-probability stands in for the behaviour's.
        proposer.buffer = [{**t, "log_probability": now[i]["log_probability"]} if on_policy else dict(t)
                           for i, t in enumerate(stale)]
        proposer.update()
        return proposer.probabilities(observation)[GOOD]

    weighted, pretended = learn_stale(on_policy=False), learn_stale(on_policy=True)
    assert abs(weighted - current) < 0.01, (behaviour, current, weighted)
    assert pretended > current + 0.1, (behaviour, current, pretended)

