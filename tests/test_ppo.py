"""The PPO proposer: it learns from rewards, saves and reloads what it learned, and runs in arrl."""

from __future__ import annotations

import math
from pathlib import Path

import attrs
import pytest

import arrl
from arrl.plugins.ppo.proposer import ACTIONS, PPOOptions, PPOProposer
from arrl.schema import config_hash
from arrl.script.reader import extract, program_hash
from support import make_repo, records, run_arrl

SCRIPT = "LEARNING_RATE = 0.01\nDROPOUT = 0.1\nBATCH_SIZE = 32\nACTIVATION = 'relu'\n" \
         "print(f'arrl: val_loss={LEARNING_RATE + DROPOUT}')\n"


def _observation() -> arrl.Observation:
    found = extract(SCRIPT)
    return arrl.Observation(SCRIPT, dict(found.values), (), editable=tuple(found.editable))


# The policy alone, without the opening and the line search that choose the first moves by default.
POLICY_ONLY = {"opening": "off", "continuation": "off"}


def _proposer(tmp_path: Path, seed: int = 0) -> PPOProposer:
    context = arrl.PluginContext(tmp_path, tmp_path, "train.py", "val_loss", arrl.Direction.MINIMIZE, 60, seed)
    return PPOProposer(PPOOptions(batch_size=8, **POLICY_ONLY), context)


def test_policy_learns_the_rewarded_move(tmp_path: Path) -> None:
    proposer = _proposer(tmp_path)
    observation = _observation()
    good = next(i for i, m in enumerate(ACTIONS) if (m.field, m.direction) == ("learning_rate", "down"))
    before = proposer.probabilities(observation)
    assert len(before) >= 8 and before[good] < 0.2  # the masked softmax starts near uniform
    chosen_good = 0
    for step in range(240):
        proposal = proposer.propose(observation)
        is_good = proposal.edit.changes == {"learning_rate": 0.005}
        chosen_good += is_good and step >= 160
        record = arrl.ExperimentRecord(id=step, parent_id=0, outcome=arrl.Outcome.OK, config={}, config_hash="",
                                       program_hash="", metric_name="val_loss",
                                       direction=arrl.Direction.MINIMIZE, value=1.0)
        proposer.learn(record, 1.0 if is_good else -1.0)
    after = proposer.probabilities(observation)
    assert proposer.updates == 30
    assert after[good] > 0.6, f"{before[good]:.3f} -> {after[good]:.3f}"
    assert chosen_good > 40  # of the last 80 proposals, most are the rewarded move


def test_masks_keep_proposals_valid_and_new(tmp_path: Path) -> None:
    proposer = _proposer(tmp_path, seed=1)
    observation = _observation()
    seen = set()
    for _ in range(30):
        proposal = proposer.propose(observation)
        assert extract(proposal.script).values == {**observation.config, **proposal.edit.changes}
        seen.add(tuple(sorted(proposal.edit.changes.items())))
    assert len(seen) >= 5  # it explores many moves, not one
    # A program already in the window is never proposed again.
    scripts = {proposer.propose(observation).script for _ in range(40)}
    proposed = {program_hash(s) for s in scripts}
    # The loop records the config it reads back from each proposed script, and its program.
    history = tuple(arrl.HistoryEntry(config_hash(extract(s).values), 1.0, 1.0, False, program_hash=program_hash(s))
                    for s in sorted(scripts))
    crowded = arrl.Observation(SCRIPT, observation.config, history, editable=observation.editable)
    fresh = [m for m in proposer._candidates(crowded)]
    for _ in range(10):
        proposal = proposer.propose(crowded)
        # New programs while there are any; once every move was tried, a two-move step that is
        # new again (the default: a coupled move, else a random pair) rather than an error.
        assert program_hash(proposal.script) not in proposed
        if not fresh:
            assert "hill climb" in proposal.edit.description or "coupled" in proposal.edit.description


def test_save_and_load_restore_what_was_learned(tmp_path: Path) -> None:
    proposer = _proposer(tmp_path)
    observation = _observation()
    for step in range(16):
        proposal = proposer.propose(observation)
        proposer.learn(arrl.ExperimentRecord(id=step, parent_id=0, outcome=arrl.Outcome.OK, config={},
                                             config_hash="", program_hash="", metric_name="m",
                                             direction=arrl.Direction.MINIMIZE, value=1.0),
                       1.0 if "dropout_rate" in proposal.edit.changes else -1.0)
    state = tmp_path / "proposer.state"
    proposer.save(state)
    fresh = _proposer(tmp_path, seed=99)
    assert fresh.probabilities(observation) != proposer.probabilities(observation)
    fresh.load(state)
    assert fresh.probabilities(observation) == pytest.approx(proposer.probabilities(observation))
    assert fresh.updates == proposer.updates == 2
    assert fresh.propose(observation).script == proposer.propose(observation).script  # same generator state


def test_ppo_runs_through_arrl(tmp_path: Path, arrl_env) -> None:
    repo = make_repo(tmp_path / "project", {"train.py": SCRIPT}, 'script = "train.py"\nbudget = 20\n')
    result = run_arrl("--plugin", "proposer=ppo", "-o", "proposer.batch_size=2", "run", "--max-experiments", "7",
                      cwd=repo, env=arrl_env)
    assert result.returncode == 0, result.output
    recs = records(repo)
    assert [r["proposer"] for r in recs] == ["baseline"] * 3 + ["ppo"] * 4  # the noise floor's repeats first
    assert all(r["outcome"] in ("ok", "duplicate") for r in recs)
    state = repo / ".arrl" / Path(recs[0]["stdout_path"]).parts[-4]
    assert (state / "proposer.state").exists() and (state / "proposer.pt").exists()


def test_a_prior_starts_the_policy_and_none_learns_from_scratch(tmp_path: Path) -> None:
    import torch

    from arrl.plugins.ppo.prior_file import save_prior

    trained = _proposer(tmp_path)
    observation = _observation()
    for step in range(16):
        proposal = trained.propose(observation)
        trained.learn(arrl.ExperimentRecord(id=step, parent_id=0, outcome=arrl.Outcome.OK, config={}, config_hash="",
                                            program_hash="", metric_name="m", direction=arrl.Direction.MINIMIZE,
                                            value=1.0), 1.0 if "dropout_rate" in proposal.edit.changes else -1.0)
    prior = tmp_path / "prior.pt"
    save_prior(trained, prior, "a test")
    assert torch.load(prior, weights_only=True)["format"] == "arrl-ppo-prior"  # plain tensors and a header
    context = arrl.PluginContext(tmp_path, tmp_path, "train.py", "val_loss", arrl.Direction.MINIMIZE, 60, 7)
    started = PPOProposer(PPOOptions(prior=str(prior)), context)
    scratch = PPOProposer(PPOOptions(prior="none"), context)
    assert started.probabilities(observation) == pytest.approx(trained.probabilities(observation))
    assert scratch.probabilities(observation) != pytest.approx(trained.probabilities(observation))
    wider = PPOOptions(prior=str(prior), hidden=64)
    with pytest.raises(arrl.ConfigError, match="does not fit this arrl \\(different hidden\\)"):
        PPOProposer(wider, context)
    with pytest.raises(arrl.ConfigError, match="does not exist"):
        PPOProposer(PPOOptions(prior=str(tmp_path / "missing.pt")), context)


def test_the_shipped_prior_loads_with_weights_only(tmp_path: Path, capsys) -> None:
    import torch

    from arrl.plugins.ppo.prior_file import BUILTIN
    from arrl.script.observation import OBSERVATION_SIZE

    assert BUILTIN.exists(), "the package ships a prior"
    saved = torch.load(BUILTIN, weights_only=True)  # plain tensors and a header, nothing pickled
    assert saved["format"] == "arrl-ppo-prior" and saved["version"] == 2 and "simfamily" in saved["trained_on"]
    context = arrl.PluginContext(tmp_path, tmp_path, "train.py", "val_loss", arrl.Direction.MINIMIZE, 60, 3)
    proposer = PPOProposer(PPOOptions(prior="builtin"), context)
    fits = saved["observation_size"] == OBSERVATION_SIZE and saved["actions"] == [
        f"{m.field}:{m.direction}:{m.target}" for m in ACTIONS]
    if fits:
        assert torch.equal(proposer.policy.weight, saved["policy"]["weight"])
        assert torch.equal(proposer.attribution[0].weight, saved["attribution"]["0.weight"])
    else:  # the encoding grew since the prior was made: it is skipped by name, not misread
        assert "does not fit this arrl" in capsys.readouterr().err


def test_a_prior_made_from_a_users_runs_is_used_by_the_next_run(tmp_path: Path, arrl_env) -> None:
    repo = make_repo(tmp_path / "project", {"train.py": SCRIPT}, 'script = "train.py"\nbudget = 20\n')
    # Three runs of the unmodified script (the noise floor) and five proposals: the prior learns
    # from the proposals only.
    first = run_arrl("--plugin", "proposer=ppo", "run", "--max-experiments", "8", cwd=repo, env=arrl_env)
    assert first.returncode == 0, first.output
    journal = next((repo / ".arrl").glob("*/journal.jsonl"))
    import subprocess
    import sys

    made = subprocess.run([sys.executable, "-m", "arrl.plugins.ppo.prior", str(journal), "--out",
                           str(tmp_path / "mine.pt")], capture_output=True, text=True, timeout=300)
    assert made.returncode == 0, made.stderr
    assert "from 5 proposals" in made.stdout
    second = run_arrl("--plugin", "proposer=ppo", "-o", f"proposer.prior={tmp_path / 'mine.pt'}", "run", "--new",
                      "--max-experiments", "2", cwd=repo, env=arrl_env)
    assert second.returncode == 0, second.output
    bad = run_arrl("--plugin", "proposer=ppo", "-o", f"proposer.prior={tmp_path / 'nothing.pt'}", "run", "--new",
                   "--max-experiments", "2", cwd=repo, env=arrl_env)
    assert bad.returncode != 0 and "nothing.pt' does not exist" in bad.output


def test_an_exhausted_neighbourhood_gets_a_two_move_step_instead_of_a_duplicate(tmp_path: Path) -> None:
    observation = _observation()
    context = arrl.PluginContext(tmp_path, tmp_path, "train.py", "val_loss", arrl.Direction.MINIMIZE, 60, 0)
    proposer = PPOProposer(PPOOptions(exhausted="two_moves"), context)
    neighbours = proposer._candidates(observation)
    history = tuple(arrl.HistoryEntry(config_hash({**observation.config, **changes}), 1.0, 1.0, False)
                    for changes in neighbours.values())
    crowded = arrl.Observation(SCRIPT, observation.config, history, editable=observation.editable)
    assert not proposer._candidates(crowded)
    made = []
    for _ in range(7):
        proposal = proposer.propose(crowded)
        config = extract(proposal.script).values
        assert config_hash(config) not in {h.config_hash for h in history}
        assert proposal.id not in proposer.pending  # two moves, new, not the policy's choice
        made.append(proposal.edit)
        crowded = attrs.evolve(crowded, history=(*crowded.history, arrl.HistoryEntry(config_hash(config), 1.0, 1.0,
                                                                                    False)))
    # The coupled moves this script can make first (batch and learning rate together), then random pairs.
    assert [e.changes for e in made[:2]] == [{"batch_size": 64, "learning_rate": 0.02},
                                             {"batch_size": 16, "learning_rate": 0.005}]
    assert all("hill climb" in e.description for e in made[2:])
    assert PPOOptions().exhausted == "two_moves"  # the default, since a run looped on duplicates
    repeating = PPOProposer(PPOOptions(exhausted="repeat"), context)  # repeats a move: a duplicate
    assert config_hash(extract(repeating.propose(crowded).script).values) in {h.config_hash for h in history}


def test_programs_the_run_already_ran_are_avoided_beyond_the_window(tmp_path: Path) -> None:
    # The loop refuses any program the run ran (or runs now), not only the last 32: the
    # observation's `tried` carries them, and the proposer never spends an experiment on one.
    observation = _observation()
    proposer = _proposer(tmp_path)
    neighbours = proposer._candidates(observation)
    ran = frozenset(config_hash({**observation.config, **changes}) for changes in neighbours.values())
    long_ago = attrs.evolve(observation, history=(), tried=ran)
    assert not proposer._candidates(long_ago)
    for _ in range(5):
        proposal = proposer.propose(long_ago)
        assert config_hash(extract(proposal.script).values) not in ran


# --- move-to-result attribution -------------------------------------------------------------

def _entry(config: dict, value: float, outcome: arrl.Outcome = arrl.Outcome.OK) -> arrl.HistoryEntry:
    return arrl.HistoryEntry(config_hash(config), value, 1.0, outcome is arrl.Outcome.EARLY_STOPPED,
                             outcome=outcome)


def test_attribution_says_what_the_last_move_on_each_field_did() -> None:
    from arrl.script.actions import Move
    from arrl.script.observation import ATTRIBUTION_FEATURES, Attributed, encode_attribution

    base = {"learning_rate": 0.01, "dropout_rate": 0.1, "batch_size": 32}
    faster = {**base, "learning_rate": 0.02}
    wetter = {**faster, "dropout_rate": 0.2}
    bigger = {**faster, "batch_size": 64}
    lineage = {config_hash(faster): Attributed("learning_rate", "up", None, 1.0),
               config_hash(wetter): Attributed("dropout_rate", "up", None, 0.8),
               config_hash(bigger): Attributed("batch_size", "up", None, 0.8)}
    history = (_entry(base, 1.0), _entry(faster, 0.8), _entry(wetter, 0.9),
               _entry(bigger, math.inf, arrl.Outcome.FAILED))
    observation = arrl.Observation("", faster, history, best_value=0.8)
    moves = [Move("learning_rate", "up"), Move("learning_rate", "down"), Move("dropout_rate", "down"),
             Move("batch_size", "up"), Move("batch_size", "down"), Move("activation", "switch", "gelu")]
    vector = encode_attribution(observation, lineage, moves)
    width = len(ATTRIBUTION_FEATURES)
    rows = [dict(zip(ATTRIBUTION_FEATURES, vector[i * width:(i + 1) * width])) for i in range(len(moves))]
    on = [{name for name, value in row.items() if value == 1.0 and name not in ("recent", "gain")} for row in rows]
    assert on == [{"paid_same"}, {"paid_other"}, {"hurt_other"}, {"failed_same"}, {"failed_other"}, {"untouched"}]
    # The latest event is the most recent: the crash was the last experiment, the paying step three ago.
    assert rows[3]["recent"] == 1.0 and 0 < rows[0]["recent"] < rows[2]["recent"] < 1.0
    # Within twice the noise floor a result is flat, whichever way it went.
    noisy = attrs.evolve(observation, noise_floor=0.2)
    assert encode_attribution(noisy, lineage, moves[:1])[ATTRIBUTION_FEATURES.index("flat")] == 1.0


def test_the_policy_learns_to_go_on_where_the_last_step_paid(tmp_path: Path) -> None:
    """Which field paid changes from episode to episode: only the attribution features can tell
    the policy which move to repeat, and it learns to."""
    import random

    from arrl.script.observation import Attributed

    fields = ["learning_rate", "dropout_rate", "batch_size"]
    proposer = PPOProposer(PPOOptions(batch_size=8, exploration=0.0), arrl.PluginContext(
        tmp_path, tmp_path, "train.py", "val_loss", arrl.Direction.MINIMIZE, 60, 0))
    rng = random.Random(0)
    base = _observation()

    def situation() -> tuple[arrl.Observation, int]:
        # The same script and the same history slots every time; only the lineage differs.
        field = rng.choice(fields)
        action = next(i for i, m in enumerate(ACTIONS) if (m.field, m.direction) == (field, "up"))
        proposer.lineage = {"paid": Attributed(field, "up", None, 1.0)}
        history = (arrl.HistoryEntry("base", 1.0, 1.0, False), arrl.HistoryEntry("paid", 0.8, 1.0, False))
        return attrs.evolve(base, history=history, best_value=0.8), action

    def repeats(observation: arrl.Observation, action: int) -> float:
        return proposer.probabilities(observation).get(action, 0.0)

    trials = [situation() for _ in range(6)]
    before = [repeats(o, a) for o, a in trials]
    # 640 steps: at 320, seed 0 on an AMD EPYC had learned one field of three (it learns all three
    # by 640 there, seeds 1-3 by 320): float rounding differs by CPU, and with it the path learning takes.
    for step in range(640):
        observation, action = situation()
        proposal = proposer.propose(observation)
        repeated = proposal.edit.changes == proposer._candidates(observation)[action]
        proposer.learn(arrl.ExperimentRecord(id=step, parent_id=0, outcome=arrl.Outcome.OK, config={},
                                             config_hash="", program_hash="", metric_name="val_loss",
                                             direction=arrl.Direction.MINIMIZE, value=1.0),
                       1.0 if repeated else -1.0)
    after = []
    for _ in range(6):
        observation, action = situation()
        after.append(repeats(observation, action))
    assert max(before) < 0.3 and min(after) > 0.5, (before, after)


def test_the_lineage_survives_save_and_a_state_saved_before_it_loads(tmp_path: Path) -> None:
    import torch

    proposer = _proposer(tmp_path)
    observation = _observation()
    for _ in range(3):
        proposer.propose(observation)
    proposer.save(tmp_path / "ppo.json")
    again = _proposer(tmp_path, seed=5)
    again.load(tmp_path / "ppo.json")
    assert again.lineage == proposer.lineage and len(proposer.lineage) == 3
    # A state from before the attribution scorer: its weights load, the scorer stays neutral.
    weights = torch.load(tmp_path / "ppo.pt", weights_only=True)
    del weights["attribution"]
    weights["optimizer"] = torch.optim.Adam([*proposer.body.parameters(), *proposer.policy.parameters(),
                                             *proposer.value.parameters()]).state_dict()
    torch.save(weights, tmp_path / "ppo.pt")
    old = _proposer(tmp_path, seed=6)
    old.load(tmp_path / "ppo.json")
    assert torch.equal(old.policy.weight, proposer.policy.weight)
    assert float(old.attribution[2].weight.detach().abs().sum()) == 0.0
    assert old.propose(observation).edit.changes


def test_the_ppo_uses_one_torch_thread_in_arrls_process_unless_told_otherwise(tmp_path: Path) -> None:
    import torch

    context = arrl.PluginContext(tmp_path, tmp_path, "train.py", "val_loss", arrl.Direction.MINIMIZE, 60, 0)
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        PPOProposer(PPOOptions(threads=0), context)
        assert torch.get_num_threads() == 2  # 0: torch's own choice stays
        PPOProposer(PPOOptions(), context)
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


# --- line search (continuation) and opening -------------------------------------------------

def _line_search(tmp_path: Path, **options) -> PPOProposer:
    context = arrl.PluginContext(tmp_path, tmp_path, "train.py", "val_loss", arrl.Direction.MINIMIZE, 60, 0)
    return PPOProposer(PPOOptions(**{"opening": "off", **options}), context)


def _moved(observation: arrl.Observation, proposal: arrl.Proposal) -> tuple[str, str]:
    """(field, "up"/"down"/"switch") of a one-field proposal."""
    (field, value), = proposal.edit.changes.items()
    before = observation.config[field]
    if isinstance(value, str) or isinstance(value, bool):
        return field, "switch"
    return field, "up" if value > before else "down"


def test_continuation_repeats_a_kept_move_and_turns_back_after_one_that_was_not_kept(tmp_path: Path) -> None:
    observation = _observation()
    for seed in range(8):  # whatever up/down move the policy draws first
        proposer = _line_search(tmp_path, continuation="on")
        proposer.generator.manual_seed(seed)
        first = proposer.propose(observation)
        field, direction = _moved(observation, first)
        if direction == "switch":
            continue
        moved = {**observation.config, **first.edit.changes}
        base = _entry(observation.config, 1.0)
        # Kept: the script is now the result; the next proposal takes the same step again.
        kept = arrl.Observation(first.script, moved, (base, _entry(moved, 0.5)), best_value=0.5,
                                editable=observation.editable)
        again = proposer.propose(kept)
        assert _moved(kept, again) == (field, direction), (first.edit, again.edit)
        assert again.id in proposer.pending  # the policy learns from the continued move too
        # Not kept (worse, early stopped or failed): the other direction on the same field, once.
        other = "down" if direction == "up" else "up"
        for outcome, value in ((arrl.Outcome.OK, 2.0), (arrl.Outcome.EARLY_STOPPED, 2.0),
                               (arrl.Outcome.FAILED, math.inf)):
            fresh = _line_search(tmp_path, continuation="on")
            fresh.generator.manual_seed(seed)
            assert fresh.propose(observation).edit.changes == first.edit.changes
            hurt = arrl.Observation(SCRIPT, observation.config, (base, _entry(moved, value, outcome)),
                                    best_value=1.0, editable=observation.editable)
            back = fresh.propose(hurt)
            assert _moved(hurt, back) == (field, other), (outcome, first.edit, back.edit)
            # ... and when that also was not kept, its opposite is the program already tried:
            # the policy chooses, never the tried program again.
            turned = {**observation.config, **back.edit.changes}
            both = attrs.evolve(hurt, history=(*hurt.history, _entry(turned, 2.0)))
            for _ in range(5):
                assert fresh.propose(both).edit.changes not in (first.edit.changes, back.edit.changes)
        # Off: the policy alone chooses, and it does not always repeat the kept step.
        plain = [_line_search(tmp_path, continuation="off") for _ in range(6)]
        for i, p in enumerate(plain):
            p.generator.manual_seed(seed)
            assert p.propose(observation).edit.changes == first.edit.changes
            p.generator.manual_seed(100 + i)
        assert {_moved(kept, p.propose(kept)) for p in plain} != {(field, direction)}
        return
    pytest.fail("no seed drew an up/down move first")


OPENING_SCRIPT = ("LEARNING_RATE = 0.001\nNUM_LAYERS = 4\nACTIVATION = 'gelu'\nOPTIMIZER = 'adamw'\n"
                  "BATCH_SIZE = 32\nprint(f'arrl: val_loss={LEARNING_RATE}')\n")


def test_the_opening_tries_its_moves_in_order_with_the_optimizers_learning_rate(tmp_path: Path) -> None:
    from arrl.plugins.ppo.proposer import OPENING

    found = extract(OPENING_SCRIPT)
    config = dict(found.values)
    proposer = _line_search(tmp_path, opening="on", continuation="off")
    history: tuple[arrl.HistoryEntry, ...] = (_entry(config, 1.0),)
    expected = [m for m in OPENING if m.field in config and not (m.direction == "switch" and m.target == config[m.field])]
    made = []
    for _ in range(len(expected)):
        observation = arrl.Observation(OPENING_SCRIPT, config, history, best_value=1.0, editable=tuple(found.editable))
        proposal = proposer.propose(observation)
        assert proposal.id in proposer.pending
        made.append(proposal.edit.changes)
        history = (*history, _entry({**config, **proposal.edit.changes}, 2.0))  # none is kept
    assert [next(iter(c)) for c in made] == [m.field for m in expected]
    lion, sgd = made[[m.target for m in expected].index("lion")], made[[m.target for m in expected].index("sgd")]
    assert lion == {"optimizer": "lion", "learning_rate": 0.00025}  # Lion: 4x less than AdamW
    assert sgd == {"optimizer": "sgd", "learning_rate": 0.008}  # SGD: 8x more
    # Used up (the rest of the list is what this script lacks or has): the policy chooses.
    proposer.propose(arrl.Observation(OPENING_SCRIPT, config, history, best_value=1.0, editable=tuple(found.editable)))
    assert proposer.opened == len(OPENING)
    assert PPOOptions().opening == "on" and PPOOptions().continuation == "on"  # the best measured


def test_the_line_search_does_not_follow_a_gain_inside_the_noise(tmp_path: Path) -> None:
    """A kept step is taken again only when it paid by more than the loop's noise margin
    (NOISE_SIGMAS noise floors); after a gain inside it, the opening's next move comes instead."""
    from arrl.plugins.ppo.proposer import OPENING
    from arrl.run.noise import NOISE_SIGMAS

    found = extract(OPENING_SCRIPT)
    config = dict(found.values)
    base = _entry(config, 1.0)
    gain = 0.1  # kept: 1.0 -> 0.9
    nexts = {}
    for floor in (None, 0.9 * gain / NOISE_SIGMAS, 1.1 * gain / NOISE_SIGMAS):
        proposer = _line_search(tmp_path, opening="on", continuation="on")
        first = proposer.propose(arrl.Observation(OPENING_SCRIPT, config, (base,), best_value=1.0,
                                                  editable=tuple(found.editable), noise_floor=floor))
        assert first.edit.changes == {"learning_rate": 0.002}  # the opening's first move
        moved = {**config, **first.edit.changes}
        kept = arrl.Observation(first.script, moved, (base, _entry(moved, 1.0 - gain)), best_value=1.0 - gain,
                                editable=tuple(found.editable), noise_floor=floor)
        nexts[floor] = proposer.propose(kept).edit.changes
    without, outside, inside = nexts.values()
    assert without == outside == {"learning_rate": 0.004}  # the same step again, from the new best
    assert inside == {"num_layers": 5}  # OPENING's second move
    assert OPENING[1].field == "num_layers"


COUPLED_SCRIPT = ("NUM_LAYERS = 4\nHIDDEN_DIM = 128\nBATCH_SIZE = 32\nLEARNING_RATE = 0.001\nDROPOUT = 0.1\n"
                  "print(f'arrl: val_loss={LEARNING_RATE}')\n")


def test_the_opening_ends_with_coupled_moves_and_the_line_search_repeats_a_kept_one(tmp_path: Path) -> None:
    """After the single moves, the opening makes each two-field move of COUPLED (wider and
    shallower, deeper and narrower, batch and learning rate together) from the best script; a
    kept one is made again from its result, and a saved proposer goes on where it was."""
    from arrl.plugins.ppo.proposer import COUPLED
    from arrl.run.noise import NOISE_SIGMAS

    found = extract(COUPLED_SCRIPT)
    config = dict(found.values)
    base = _entry(config, 1.0)
    proposer = _line_search(tmp_path, opening="on", continuation="on")

    def observe(script: str, values: dict, history: tuple, best: float) -> arrl.Observation:
        return arrl.Observation(script, values, history, best_value=best, editable=tuple(found.editable),
                                noise_floor=0.01)

    history: tuple[arrl.HistoryEntry, ...] = (base,)
    coupled, singles = [], []
    for _ in range(40):  # none is kept: every proposal starts from the baseline
        proposal = proposer.propose(observe(COUPLED_SCRIPT, config, history, 1.0))
        if "coupled" in proposal.edit.description:
            assert proposal.id not in proposer.pending  # not the policy's choice: not learned from
            coupled.append(proposal)
        elif coupled:
            break  # the policy's turn
        else:
            singles.append(next(iter(proposal.edit.changes)))
        history = (*history, _entry({**config, **proposal.edit.changes}, 2.0))
    assert proposer.coupled_used == len(COUPLED)
    # After every single move of the opening this script can make (both directions of its four
    # opening fields), not before.
    assert sorted(singles) == sorted(["learning_rate", "num_layers", "batch_size", "hidden_dim"] * 2)
    assert [p.edit.changes for p in coupled] == [
        {"hidden_dim": 256, "num_layers": 3}, {"num_layers": 5, "hidden_dim": 64},
        {"batch_size": 64, "learning_rate": 0.002}, {"batch_size": 16, "learning_rate": 0.0005}]
    wider = coupled[0]
    moved = {**config, **wider.edit.changes}
    gain = 2 * NOISE_SIGMAS * 0.01  # kept, by more than the noise margin
    kept = observe(wider.script, moved, (*history, _entry(moved, 1.0 - gain)), 1.0 - gain)
    proposer.save(tmp_path / "ppo.json")
    again = proposer.propose(kept)
    assert again.edit.changes == {"hidden_dim": 512, "num_layers": 2}  # the same trade, from the new best
    resumed = _line_search(tmp_path, opening="on", continuation="on")
    resumed.load(tmp_path / "ppo.json")
    assert resumed.coupled_used == len(COUPLED)
    assert resumed.propose(kept).edit.changes == again.edit.changes
    # Inside the noise it is no evidence for the direction: not repeated.
    barely = observe(wider.script, moved, (*history, _entry(moved, 1.0 - 0.5 * NOISE_SIGMAS * 0.01)),
                     1.0 - 0.5 * NOISE_SIGMAS * 0.01)
    fresh = _line_search(tmp_path, opening="on", continuation="on")
    fresh.load(tmp_path / "ppo.json")
    assert fresh.propose(barely).edit.changes != again.edit.changes
    # Off: single moves, then (every one of them tried) random pairs.
    plain = _line_search(tmp_path, opening="on", continuation="on", coupled="off")
    history = (base,)
    for _ in range(14):
        proposal = plain.propose(observe(COUPLED_SCRIPT, config, history, 1.0))
        assert "coupled" not in proposal.edit.description
        assert len(proposal.edit.changes) == 1 or "hill climb" in proposal.edit.description
        history = (*history, _entry({**config, **proposal.edit.changes}, 2.0))


def test_a_coupled_batch_move_scales_the_learning_rate_by_the_batch_ratio(tmp_path: Path) -> None:
    """The linear scaling rule: nanoGPT's batch of 12 becomes 16 (the next batch size a script
    like it takes), and the learning rate moves by the same 4/3, not by its own step of 2."""
    from arrl.plugins.ppo.proposer import COUPLED

    script = "batch_size = 12\nlearning_rate = 6e-4\nprint(f'arrl: val_loss={learning_rate}')\n"
    found = extract(script)
    observation = arrl.Observation(script, dict(found.values), (_entry(dict(found.values), 1.0),), best_value=1.0,
                                   editable=tuple(found.editable))
    proposer = _line_search(tmp_path)
    up, down = (proposer._apply_coupled(observation, pair) for pair in COUPLED[2:])
    assert up is not None and down is not None
    assert up.edit.changes == {"batch_size": 16, "learning_rate": 0.0008}
    assert down.edit.changes == {"batch_size": 8, "learning_rate": 0.0004}
    assert extract(up.script).values == {"batch_size": 16, "learning_rate": 0.0008}
    # A batch of 0 has no ratio: no coupled batch move, and the proposer goes on without error.
    empty = script.replace("batch_size = 12", "batch_size = 0")
    found = extract(empty)
    observation = attrs.evolve(observation, script=empty, config=dict(found.values),
                               history=(_entry(dict(found.values), 1.0),))
    assert all(proposer._apply_coupled(observation, pair) is None for pair in COUPLED[2:])
    for _ in range(8):
        proposal = proposer.propose(observation)
        observation = attrs.evolve(observation, history=(*observation.history,
                                                         _entry({**observation.config, **proposal.edit.changes}, 2.0)))
