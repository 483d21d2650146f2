"""The grid and Optuna proposers: the documented grid order, Optuna's repairs and domains, and
both running end to end through `arrl run` on the tiny GPT."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import pytest

import arrl
from arrl.plugins.proposers.grid_proposer import GridOptions, GridProposer
from arrl.schema import check_config
from arrl.script import extract
from support import ROOT, git, make_repo, records, run_arrl, scaled, with_steps

TINYGPT = ROOT / "examples" / "tinygpt"
SCRIPT = (
    "NUM_LAYERS = 2\nHIDDEN_DIM = 128\nATTENTION_HEADS = 8\nLEARNING_RATE = 1e-3\nBATCH_SIZE = 32\n"
    "DROPOUT = 0.1\nOPTIMIZER = 'adamw'\n"
    "print(f'arrl: val_loss={LEARNING_RATE * 1000 + NUM_LAYERS / HIDDEN_DIM + BATCH_SIZE / 1000}')\n"
)
needs_optuna = pytest.mark.skipif(importlib.util.find_spec("optuna") is None, reason="optuna not installed")


def _context(tmp_path: Path, seed: int = 0) -> arrl.PluginContext:
    return arrl.PluginContext(tmp_path, tmp_path, "train.py", "val_loss", arrl.Direction.MINIMIZE, 60, seed)


def _observation(script: str = SCRIPT, best: float | None = 1.5) -> arrl.Observation:
    found = extract(script)
    return arrl.Observation(script, dict(found.values), (), best_value=best, editable=tuple(found.editable),
                            choices=dict(found.choices))


def test_grid_covers_the_four_fields_around_the_baseline_one_field_at_a_time_first(tmp_path: Path) -> None:
    proposer = GridProposer(GridOptions(), _context(tmp_path))
    observation = _observation()
    changed: list[dict] = []
    for _ in range(134):
        proposal = proposer.propose(observation)
        assert proposal.proposer == "grid" and proposal.edit is not None
        config = extract(proposal.script).values
        check_config(config)
        changed.append({k: v for k, v in config.items() if observation.config[k] != v and k != "attention_heads"})
    counts = [len(c) for c in changed]
    assert counts == sorted(counts) and counts[0] == 1 and counts[-1] == 4  # one field, then two, ...
    # The first points: the learning rate's nearest half-decades, then its farther ones, then width.
    # Written as a person would (two significant digits), not 0.000316227766.
    assert changed[:4] == [{"learning_rate": 3.2e-4}, {"learning_rate": 3.2e-3},
                           {"learning_rate": 1e-4}, {"learning_rate": 1e-2}]
    assert changed[4] == {"hidden_dim": 64}
    values = {name: {c[name] for c in changed if name in c} for name in ("hidden_dim", "num_layers", "batch_size")}
    assert values == {"hidden_dim": {64, 256}, "num_layers": {1, 4}, "batch_size": {16, 64}}
    # 5 x 3 x 3 x 3 points less the baseline, every one different: a full grid.
    assert len({tuple(sorted(c.items())) for c in changed}) == 134
    # Exhausted: it goes on with a random edit of the best rather than stopping the run.
    assert "after the grid" in proposer.propose(observation).edit.description


def test_grid_resumes_where_it_stopped(tmp_path: Path) -> None:
    first = GridProposer(GridOptions(), _context(tmp_path))
    observation = _observation()
    for _ in range(7):
        first.propose(observation)
    state = tmp_path / "proposer.state"
    first.save(state)
    second = GridProposer(GridOptions(), _context(tmp_path))
    second.load(state)
    assert second.propose(observation).script == first.propose(observation).script


def _learn_all(proposer, observation: arrl.Observation, steps: int) -> list[dict]:
    configs = []
    for step in range(steps):
        proposal = proposer.propose(observation)
        config = extract(proposal.script).values
        check_config(config)  # heads divide width, every value in range
        configs.append(config)
        proposer.learn(arrl.ExperimentRecord(
            id=step + 1, parent_id=0, outcome=arrl.Outcome.OK, config=config, config_hash="", program_hash="",
            metric_name="val_loss", direction=arrl.Direction.MINIMIZE,
            value=float(config["learning_rate"]) * 1000), 0.0)
    return configs


@needs_optuna
def test_optuna_starts_from_the_baseline_and_tells_what_ran_after_repairs(tmp_path: Path) -> None:
    from arrl.contrib.optuna_proposer import OptunaOptions, OptunaProposer

    observation = _observation()
    proposer = OptunaProposer(OptunaOptions(sampler="random"), _context(tmp_path))
    configs = _learn_all(proposer, observation, 40)
    assert len({c["hidden_dim"] for c in configs}) >= 3 and len({c["attention_heads"] for c in configs}) >= 3
    trials = proposer.study.get_trials()
    assert trials[0].params == {k: v for k, v in observation.config.items() if k in trials[0].params}
    assert trials[0].value == 1.5  # the baseline's result, not a re-run
    complete = [t for t in trials if t.state.name == "COMPLETE"]
    assert len(complete) == 41
    # The sampler suggested impossible pairs (random heads in 1..128); the study was told the
    # repaired configuration that ran, never an impossible one.
    assert any(t.state.name == "FAIL" for t in trials)
    assert all(t.params["hidden_dim"] % t.params["attention_heads"] == 0 for t in complete)
    state = tmp_path / "optuna.state"
    proposer.save(state)
    resumed = OptunaProposer(OptunaOptions(), _context(tmp_path))
    resumed.load(state)
    resumed.propose(observation)
    assert len([t for t in resumed.study.get_trials() if t.state.name == "COMPLETE"]) == 41


@needs_optuna
def test_optuna_searches_only_what_the_script_can_take(tmp_path: Path) -> None:
    from arrl.contrib.optuna_proposer import OptunaOptions, OptunaProposer

    # Optimizer written as calls without Lion; the scheduler written as code arrl cannot rewrite.
    observation = _observation((ROOT / "tests" / "scripts" / "calls_style.py").read_text())
    assert "scheduler" not in observation.editable
    proposer = OptunaProposer(OptunaOptions(sampler="random"), _context(tmp_path))
    configs = _learn_all(proposer, observation, 25)
    assert {c["optimizer"] for c in configs} == {"adam", "adamw", "sgd"}
    assert {c["scheduler"] for c in configs} == {"cosine"}
    assert set(proposer.distributions) == set(observation.editable)


@needs_optuna
def test_optuna_rejects_an_unknown_sampler_by_name() -> None:
    from arrl.contrib.optuna_proposer import make_sampler

    with pytest.raises(arrl.ConfigError, match="unknown Optuna sampler 'annealing'.*tpe"):
        make_sampler("annealing", {}, 0)
    assert type(make_sampler("CmaEs", {}, 0)).__name__ == "CmaEsSampler"


def _tinygpt_repo(tmp_path: Path) -> Path:
    repo = make_repo(tmp_path / "project", {})
    for name in ("train.py", "corpus.txt", "arrl.toml"):
        shutil.copy(TINYGPT / name, repo / name)
    # 100 of its 300 steps: the proposers' edits are the subject, not how far it trains.
    (repo / "train.py").write_text(with_steps((repo / "train.py").read_text(), 100))
    # One baseline, not the noise floor's three: the tiny GPT's experiments are the slow part.
    config = repo / "arrl.toml"
    config.write_text("baseline_runs = 1\n" + config.read_text())
    git(repo, "add", "-A")
    git(repo, "-c", "user.name=T", "-c", "user.email=t@e", "commit", "-qm", "example")
    return repo


@pytest.mark.slow
@pytest.mark.parametrize("proposer", ["grid", pytest.param("optuna", marks=needs_optuna)])
def test_search_proposer_runs_the_tiny_gpt_end_to_end(tmp_path: Path, arrl_env, proposer: str) -> None:
    repo = _tinygpt_repo(tmp_path)
    # 100 steps take 5 s of one core when idle; the budget is a cap, scaled to this machine's speed
    # so that start-up and the final evaluation fit too (13 s of CPU took 36 s of wall clock on a
    # 2-core machine at load 8).
    budget = scaled(24)
    result = run_arrl("--plugin", f"proposer={proposer}", "run", "--max-experiments", "2", "--budget", str(budget),
                      cwd=repo, env=arrl_env, timeout=max(240, 8 * budget))
    assert result.returncode == 0, result.output
    recs = records(repo)
    assert [r["proposer"] for r in recs] == ["baseline", proposer]
    for r in recs[1:]:
        assert r["edit"]["changes"] and r["outcome"] in ("ok", "early_stopped", "failed", "timed_out"), r
    if proposer == "grid":  # the grid's first point: the learning rate a half-decade down
        assert set(recs[1]["edit"]["changes"]) == {"learning_rate"}
        assert recs[1]["edit"]["changes"]["learning_rate"] == 9.5e-4
    listing = run_arrl("plugins", cwd=repo, env=arrl_env)
    assert any(line.split()[:3] == ["proposer", proposer, "arrl"] for line in listing.stdout.splitlines())


def test_without_optuna_the_plugin_is_reported_and_everything_else_works(tmp_path: Path, arrl_env) -> None:
    # A machine without the extra: an import hook, first on the path, that finds no optuna.
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(
        "import sys\n"
        "class NoOptuna:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] == 'optuna':\n"
        "            raise ModuleNotFoundError(\"No module named 'optuna'\")\n"
        "sys.meta_path.insert(0, NoOptuna())\n")
    env = {**arrl_env, "PYTHONPATH": str(site)}
    listing = run_arrl("plugins", cwd=tmp_path, env=env)
    assert listing.returncode == 0, listing.output
    # Not installed is a choice not yet made, not a failure: say how to install it.
    assert "arrl's optuna plugin is not installed: pip install 'arrl[optuna]'" in listing.output
    assert "failed" not in listing.output, listing.output
    assert any(line.split()[:2] == ["proposer", "grid"] for line in listing.stdout.splitlines())
    repo = make_repo(tmp_path / "project", {"train.py": SCRIPT}, 'script = "train.py"\nbudget = 20\n')
    chosen = run_arrl("--plugin", "proposer=optuna", "run", "--max-experiments", "2", cwd=repo, env=env)
    assert chosen.returncode != 0 and "(arrl's optuna plugin is not installed: pip install" in chosen.output
    # A user who never asked for the extra is not warned about it on every command.
    plain = run_arrl("--plugin", "proposer=random", "run", "--max-experiments", "1", cwd=repo, env=env)
    assert plain.returncode == 0 and "failed to load" not in plain.output, plain.output


SPACE_SCRIPT = (
    "LEARNING_RATE = 1e-3\nBATCH_SIZE = 12\nMATRIX_LR = 0.02\n"
    "print(f'arrl: val_loss={abs(MATRIX_LR - 0.05) + LEARNING_RATE * 100 + BATCH_SIZE / 100}')\n"
)
SPACE_CONFIG = 'script = "train.py"\nbudget = 20\n[space]\nMATRIX_LR = { low = 0.005, high = 0.08, log = true }\n'


@pytest.mark.parametrize("proposer", ["grid", pytest.param("optuna", marks=needs_optuna)])
def test_search_proposers_run_a_script_with_a_space(tmp_path: Path, arrl_env, proposer: str) -> None:
    # A batch size outside the design document's choices (12) and a declared knob: the proposers
    # search the run's domains, and every proposal passes the validator's space check.
    repo = make_repo(tmp_path / "project", {"train.py": SPACE_SCRIPT}, SPACE_CONFIG)
    options = ["-o", "proposer.sampler=random"] if proposer == "optuna" else []
    result = run_arrl("--plugin", f"proposer={proposer}", *options, "run", "--max-experiments", "7",
                      cwd=repo, env=arrl_env, timeout=240)
    assert result.returncode == 0, result.output
    recs = records(repo)
    assert [r["outcome"] for r in recs] == ["ok"] * 7, [(r["outcome"], r["failure_reason"]) for r in recs]
    proposals = [r for r in recs if r["proposer"] != "baseline"]  # after the noise floor's 3
    assert len(proposals) == 4
    changed = {k for r in proposals for k in r["edit"]["changes"]}
    if proposer == "optuna":
        assert "MATRIX_LR" in changed
        assert all(0.005 <= r["config"]["MATRIX_LR"] <= 0.08 for r in recs)
    else:
        assert changed <= {"learning_rate", "batch_size"} and "learning_rate" in changed
