"""The noise floor (baseline repeats with other seeds, sub-2-sigma improvements marked as noise and
optionally refused) and `arrl reproduce`."""

from __future__ import annotations

import json
import statistics
import types
from pathlib import Path

import pytest

import arrl
from arrl.config import Settings
from arrl.journal import RunDirectory
from arrl.manager import Registry, make_plugin_manager
from arrl.run.components import build_components
from arrl.run.loop import ExperimentLoop
from arrl.run.noise import in_noise_units, noise_floor, within_noise
from arrl.script import apply_values
from support import make_repo, records, run_arrl

# Its metric moves with the seed by +-0.01 (the noise), and falls by 10 x each step of the
# learning rate above 0.01 (the signal).
SCRIPT = """
import os
LEARNING_RATE = 0.01
SEED = int(os.environ.get("ARRL_SEED", "0"))
NOISE = {0: 0.0, 1: 0.01, 2: -0.01}.get(SEED, 0.0)
print(f"arrl: val_loss={1.0 + NOISE - (LEARNING_RATE - 0.01) * 10:.6f}")
"""


class Scripted(arrl.Proposer):
    """Proposes the given learning rates in order, and keeps the observations it was shown."""

    def __init__(self, rates: list[float], context: arrl.PluginContext) -> None:
        self.rates = list(rates)
        self.context = context
        self.seen: list[arrl.Observation] = []

    def propose(self, observation: arrl.Observation) -> arrl.Proposal:
        self.seen.append(observation)
        rate = self.rates.pop(0)
        edit = arrl.Edit({"learning_rate": rate}, f"learning_rate -> {rate:g}")
        script = apply_values(observation.script, edit.changes, self.context.script_path)
        return arrl.Proposal(script, edit, proposer="scripted")


def _run(tmp_path: Path, rates: list[float], **settings) -> tuple[list[arrl.ExperimentRecord], Scripted, Path]:
    proposers: list[Scripted] = []

    def factory(options, context):
        proposers.append(Scripted(rates, context))
        return proposers[-1]

    manager = make_plugin_manager(entry_points=False)
    plugin = types.ModuleType("scripted")
    plugin.arrl_proposers = arrl.hookimpl(  # type: ignore[attr-defined]
        lambda: [arrl.Registration(name="scripted", factory=factory)], specname="arrl_proposers")
    manager.register(plugin, name="scripted")
    repo = make_repo(tmp_path / "project", {"train.py": SCRIPT})
    config = Settings(script="train.py", budget=20, max_experiments=3 + len(rates), baseline_runs=3,
                      plugins={"proposer": "scripted"}, **settings)
    run = RunDirectory.create(repo / ".arrl", {"baseline_runs": 3, **settings}, repo)
    context = arrl.PluginContext(run.path, repo, "train.py", "val_loss", arrl.Direction.MINIMIZE, 20, 0)
    components = build_components(Registry(manager), config, context)
    loop = ExperimentLoop(config, run, components, manager, context, report=lambda _: None)
    try:
        assert loop.run().exit_code == 0
    finally:
        loop.close()
    return run.records(), proposers[0], repo


def test_noise_floor_from_seeded_baseline_repeats(tmp_path: Path) -> None:
    recs, proposer, _ = _run(tmp_path, [0.0105, 0.02])
    # Three runs of the unmodified script, seeds 0, 1, 2, counted as experiments.
    assert [(r.proposer, r.seed) for r in recs[:3]] == [("baseline", 0), ("baseline", 1), ("baseline", 2)]
    assert [r.value for r in recs[:3]] == [1.0, 1.01, 0.99]
    assert [r.kept for r in recs[:3]] == [True, False, False]
    assert recs[1].commit == recs[2].commit == recs[0].commit and not recs[1].diff_parent
    assert len(recs) == 5  # --max-experiments counts the repeats
    # Proposals run with the run's own seed, and compare with the first baseline (seed 0).
    assert [r.seed for r in recs[3:]] == [0, 0]
    # The proposer saw the floor: the sample standard deviation of 1.00, 1.01, 0.99.
    assert [o.noise_floor for o in proposer.seen] == [pytest.approx(0.01), pytest.approx(0.01)]
    assert [o.best_value for o in proposer.seen][0] == 1.0


def test_sub_two_sigma_improvement_is_marked_as_noise(tmp_path: Path) -> None:
    recs, _, repo = _run(tmp_path, [0.0105, 0.02])
    small, large = recs[3], recs[4]
    assert small.value == pytest.approx(0.995)  # 0.005 better: under 2 x 0.01
    assert small.within_noise and small.kept  # marked, and (by default) still accepted
    assert large.value == pytest.approx(0.9) and not large.within_noise and large.kept
    history = run_arrl("history", cwd=repo)
    assert history.returncode == 0, history.output
    rows = {line.split()[0]: line for line in history.stdout.splitlines()[2:]}
    assert "yes noise" in rows["3"] and "noise" not in rows["4"]
    log = {line.split()[1]: line for line in (next((repo / ".arrl").glob("*/run.log"))).read_text().splitlines()
           if " ok " in line}
    assert "kept (noise)" in log["#3"] and "(noise)" not in log["#4"]


def test_refuse_noise_keeps_a_sub_two_sigma_change_from_becoming_the_best(tmp_path: Path) -> None:
    recs, proposer, _ = _run(tmp_path, [0.0105, 0.0106, 0.02], refuse_noise=True)
    first, second, large = recs[3], recs[4], recs[5]
    assert first.within_noise and not first.kept
    # The best stayed the baseline's: the next proposal was made from it and compared with it.
    assert proposer.seen[1].best_value == 1.0
    assert proposer.seen[1].config["learning_rate"] == 0.01
    assert second.within_noise and not second.kept and second.parent_id == 0
    assert large.kept and not large.within_noise and proposer.seen[2].best_value == 1.0


@pytest.mark.parametrize("rates, refuse", [([0.009], False), ([0.0105, 0.009], True)])
def test_a_lucky_repeat_of_the_unmodified_script_is_never_the_best(
        rates: list[float], refuse: bool, tmp_path: Path) -> None:
    # The repeat with seed 2 scores 0.99, below the first run's 1.0 (seed luck: proposals run with
    # seed 0); the proposals score 1.01, and 0.995 inside the noise when the run refuses those.
    recs, _, repo = _run(tmp_path, rates, refuse_noise=refuse)
    assert recs[2].value == 0.99 and all(r.value > 0.99 for r in recs[3:])
    best = run_arrl("best", "--json", cwd=repo)
    assert best.returncode == 0, best.output
    assert json.loads(best.stdout)["id"] == 0
    assert "is still the best" in run_arrl("best", cwd=repo).stdout
    rows = {line.split()[0]: line for line in run_arrl("history", cwd=repo).stdout.splitlines()[2:]}
    marked = [key for key, row in rows.items() if "*" in row.split()]
    assert marked == ["0"], rows
    exported = run_arrl("export", "--format", "csv", cwd=repo).stdout.splitlines()
    header = exported[0].split(",")
    assert [line.split(",")[header.index("id")] for line in exported[1:]
            if line.split(",")[header.index("best")] == "true"] == ["0"]


def test_a_gain_inside_the_noise_is_the_best_unless_the_run_refused_it() -> None:
    from arrl.results.best import becomes_best
    record = arrl.ExperimentRecord(id=3, parent_id=0, outcome=arrl.Outcome.OK, config={}, config_hash="h",
                                   program_hash="p", metric_name="val_loss", direction=arrl.Direction.MINIMIZE,
                                   value=0.995, proposer="ppo", within_noise=True, kept=True)
    assert becomes_best(record, 1.0)  # kept: the run took it (refuse_noise off)
    record.kept = False
    assert not becomes_best(record, 1.0)  # refused: the record says so by itself


def test_noise_helpers() -> None:
    assert within_noise(0.99, 1.0, 0.01, arrl.Direction.MINIMIZE)
    assert not within_noise(0.97, 1.0, 0.01, arrl.Direction.MINIMIZE)
    assert not within_noise(1.005, 1.0, 0.01, arrl.Direction.MINIMIZE)  # worse is not an improvement
    assert within_noise(1.01, 1.0, 0.01, arrl.Direction.MAXIMIZE)
    assert not within_noise(0.99, 1.0, None, arrl.Direction.MINIMIZE)
    assert in_noise_units(0.03, 0.01) == pytest.approx(3.0) and in_noise_units(0.1, None) is None
    assert noise_floor([]) is None


# --- arrl reproduce ---------------------------------------------------------------------------

REPRODUCE_CONFIG = """
script = "train.py"
budget = 20
baseline_runs = 3
[plugins]
proposer = "random"
[early_stopping]
enabled = false
"""


def test_reproduce_reruns_an_experiment_and_refuses_another_environment(tmp_path: Path, arrl_env) -> None:
    repo = make_repo(tmp_path / "project", {"train.py": SCRIPT}, REPRODUCE_CONFIG)
    result = run_arrl("run", "--max-experiments", "5", cwd=repo, env=arrl_env)
    assert result.returncode == 0, result.output
    recs = records(repo)
    floor = statistics.stdev([1.0, 1.01, 0.99])
    assert [r["seed"] for r in recs[:3]] == [0, 1, 2]

    # The second baseline repeat ran with seed 1: rerun with that seed, the same value.
    again = run_arrl("reproduce", "1", "--json", cwd=repo, env=arrl_env)
    assert again.returncode == 0, again.output
    report = json.loads(again.stdout)
    assert report["seed"] == 1 and report["value"] == pytest.approx(1.01) and report["original"] == pytest.approx(1.01)
    assert report["in_noise_floors"] == pytest.approx(0.0) and report["reproduced"] is True
    assert report["noise_floor"] == pytest.approx(floor)

    # A proposal: its own commit, and the plain-text report names the difference in floors.
    proposal = next(r for r in recs[3:] if r["commit"])
    text = run_arrl("reproduce", str(proposal["id"]), cwd=repo, env=arrl_env)
    assert text.returncode == 0, text.output
    assert f"commit {proposal['commit'][:10]}, seed 0" in text.stdout
    assert "+0.00 noise floors" in text.stdout and "reproduced" in text.stdout
    # The user's checkout and the run's worktree list are as before.
    assert (repo / "train.py").read_text().lstrip().startswith("import os")

    # The run was recorded in another environment (here: another image): refused, nothing run.
    meta_path = next((repo / ".arrl").glob("*/run.json"))
    meta = json.loads(meta_path.read_text())
    meta["fingerprint"]["image_id"] = "sha256:0123"
    meta_path.write_text(json.dumps(meta))
    refused = run_arrl("reproduce", "1", cwd=repo, env=arrl_env)
    assert refused.returncode == 1
    assert refused.stderr.strip().splitlines()[-1] == (
        f"arrl: error: cannot reproduce: run {meta['run_id']} was recorded in another environment "
        "(image_id: recorded 'sha256:0123', now '-'). Restore that environment (the same runner "
        "and image) and try again.")

    missing = run_arrl("reproduce", "99", cwd=repo, env=arrl_env)
    assert missing.returncode == 1 and "has no experiment 99 (it holds 0 to 4)" in missing.stderr


def test_with_workers_the_repeats_run_before_any_proposal(tmp_path: Path, arrl_env) -> None:
    repo = make_repo(tmp_path / "project", {"train.py": SCRIPT}, REPRODUCE_CONFIG)
    result = run_arrl("run", "--workers", "2", "--max-experiments", "6", cwd=repo, env=arrl_env)
    assert result.returncode == 0, result.output
    recs = sorted(records(repo), key=lambda r: r["id"])
    assert [(r["proposer"], r["seed"]) for r in recs[:3]] == [("baseline", 0), ("baseline", 1), ("baseline", 2)]
    assert all(r["proposer"] != "baseline" for r in recs[3:]) and len(recs) == 6
