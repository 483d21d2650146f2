"""The proposer contract, for every registered proposer: with several workers results arrive in
any order, and each must be learned against the proposal that produced it."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

import arrl
from arrl.manager import Registry, build_options, make_plugin_manager
from arrl.script.reader import extract, program_hash

PROPOSERS = Registry(make_plugin_manager()).names("proposer")
SCRIPT = ("LEARNING_RATE = 0.01\nDROPOUT = 0.1\nBATCH_SIZE = 32\nACTIVATION = 'relu'\n"
          "print(f'arrl: val_loss={LEARNING_RATE + DROPOUT}')\n")
IN_FLIGHT = 4  # proposals made before the first of their results comes back


def build(name: str, tmp_path: Path, **options: object) -> arrl.Proposer:
    registration = Registry(make_plugin_manager()).get("proposer", name)
    context = arrl.PluginContext(tmp_path, tmp_path, "train.py", "val_loss", arrl.Direction.MINIMIZE, 60, seed=4)
    return registration.factory(build_options(registration, options), context)


def observation() -> arrl.Observation:
    found = extract(SCRIPT)
    return arrl.Observation(SCRIPT, dict(found.values), (), editable=tuple(found.editable))


def result(experiment_id: int, proposal: arrl.Proposal) -> tuple[arrl.ExperimentRecord, float]:
    """A record of ``proposal`` and a reward that depends on what it proposed, so a result
    learned against the wrong proposal teaches something else."""
    digest = hashlib.sha256(proposal.script.encode()).digest()
    reward = digest[0] / 127.5 - 1.0
    record = arrl.ExperimentRecord(
        id=experiment_id, parent_id=0, outcome=arrl.Outcome.OK, config={}, config_hash="",
        program_hash=program_hash(proposal.script), metric_name="val_loss", direction=arrl.Direction.MINIMIZE,
        value=reward, edit=proposal.edit, proposer=proposal.proposer, proposal_id=proposal.id)
    return record, reward


@pytest.mark.parametrize("name", PROPOSERS)
def test_results_in_any_order_are_learned_against_their_own_proposals(name: str, tmp_path: Path) -> None:
    # Two identical proposers make the same proposals; one learns the results in the order they
    # were proposed, the other in reverse. Learning must not depend on the order, so they keep
    # making the same proposals (a proposer that pairs a result with the wrong action diverges).
    # The PPO without its coupled moves: it does not learn from them, so they shift where its
    # batches of 8 transitions end; results in another order then fill a batch with other
    # transitions, which is no mispairing. (The opening's single moves are learned from: kept.)
    options = {"coupled": "off"} if name == "ppo" else {}
    in_order, reversed_order = build(name, tmp_path / "a", **options), build(name, tmp_path / "b", **options)
    experiment_id = 0
    for _ in range(16):
        batch = [(in_order.propose(observation()), reversed_order.propose(observation())) for _ in range(IN_FLIGHT)]
        assert [a.script for a, _ in batch] == [b.script for _, b in batch]
        ids = [a.id for a, _ in batch]
        assert all(ids) or not any(ids), "ids are set on every proposal or on none"
        assert len(set(ids)) == len(ids) or not any(ids), "two proposals in flight share an id"
        results = []
        for a, b in batch:
            results.append((result(experiment_id, a), result(experiment_id, b)))
            experiment_id += 1
        for (record, reward), _ in results:
            in_order.learn(record, reward)
        for _, (record, reward) in reversed(results):
            reversed_order.learn(record, reward)
    assert [in_order.propose(observation()).script for _ in range(8)] == \
        [reversed_order.propose(observation()).script for _ in range(8)]


def test_a_learning_proposer_sets_ids(tmp_path: Path) -> None:
    # The PPO learns per proposal, so it must say which proposal a result belongs to.
    proposer = build("ppo", tmp_path)
    proposals = [proposer.propose(observation()) for _ in range(3)]
    assert len({p.id for p in proposals}) == 3 and all(p.id for p in proposals)
