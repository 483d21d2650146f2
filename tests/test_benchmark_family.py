"""The search benchmark's simulated family differs between members the way the docs claim."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest

from support import ROOT, make_repo, records, run_arrl, run_dir

sys.path.insert(0, str(ROOT / "benchmarks" / "common"))  # simfamily, simloop, measures
sys.path.insert(0, str(ROOT / "benchmarks" / "search"))  # plateau, remeasure
import simfamily  # noqa: E402

from arrl.script import extract  # noqa: E402


def test_members_differ_and_the_baseline_always_runs() -> None:
    members = [simfamily.member(seed) for seed in range(12)]
    optima = [simfamily.optimum(m)[1] for m in members]
    rates = [c["learning_rate"] for c in optima]
    assert max(rates) / min(rates) > 10  # the best learning rate moves by more than a decade
    assert len({(c["hidden_dim"], c["num_layers"]) for c in optima}) >= 4
    assert len({round(m["memory"]) for m in members}) == 12 and len({m["divergence"] for m in members}) == 12
    for m in members:
        assert math.isfinite(simfamily.true_final(simfamily.BASELINE, m))
        assert simfamily.optimum(m)[0] < simfamily.true_final(simfamily.BASELINE, m)
    # Big models crash somewhere, high learning rates diverge (nan from some point on).
    huge = {**simfamily.BASELINE, "hidden_dim": 1024, "num_layers": 64, "batch_size": 256}
    assert all(simfamily.curve(huge, m) == [] for m in members)
    hot = {**simfamily.BASELINE, "learning_rate": 1.0}
    assert all(math.isnan(simfamily.curve(hot, m)[-1]) for m in members)
    # Bigger models see fewer tokens in the same budget.
    wide = {**simfamily.BASELINE, "hidden_dim": 512}
    assert simfamily.tokens(wide, members[0]) < simfamily.tokens(simfamily.BASELINE, members[0])


def test_a_member_script_exposes_the_twelve_knobs_at_the_baseline() -> None:
    found = extract(simfamily.script(3))
    assert found.missing == () and found.values == simfamily.BASELINE


def test_drawn_baselines_run_on_their_member_and_stay_in_the_schema() -> None:
    from arrl.schema import FIELDS_BY_NAME, check_config, check_heads

    drawn = [simfamily.drawn_baseline(seed) for seed in range(12)]
    assert len({tuple(sorted(c.items())) for c in drawn}) == 12
    assert {c["optimizer"] for c in drawn} != {simfamily.BASELINE["optimizer"]}
    for seed, config in enumerate(drawn):
        assert math.isfinite(simfamily.true_final(config, simfamily.member(seed)))
        check_config(config, FIELDS_BY_NAME)
        check_heads(config)
        assert extract(simfamily.script(seed, config)).values == config
    assert simfamily.drawn_baseline(4) == drawn[4]  # seeded


def test_simloop_runs_the_noise_floor_repeats_before_the_first_proposal(tmp_path) -> None:
    import simloop

    rows = simloop.episode(simloop.make_proposer("random", {}, 0, tmp_path), 3, 6)
    assert len(rows) == 7  # the first baseline, then six experiments
    assert [r["outcome"] for r in rows[:3]] == ["ok", "baseline", "baseline"]
    assert all(r["config"] == rows[0]["config"] for r in rows[:3])
    assert len({r["value"] for r in rows[:3]}) == 3  # each repeat with a seed of its own
    assert all(r["config"] != rows[0]["config"] for r in rows[3:])  # then proposals
    single = simloop.episode(simloop.make_proposer("random", {}, 0, tmp_path), 3, 6, baseline_runs=1)
    assert "baseline" not in [r["outcome"] for r in single]
    drawn = simloop.episode(simloop.make_proposer("random", {}, 0, tmp_path), 3, 2, drawn=True)
    assert drawn[0]["config"] == simfamily.drawn_baseline(3)
    # --noise-scale: the same true losses, measured with more (or no) noise.
    quiet = simloop.episode(simloop.make_proposer("random", {}, 0, tmp_path), 3, 2, noise_scale=0.0)
    assert quiet[0]["value"] == quiet[1]["value"] == quiet[2]["value"] == pytest.approx(quiet[0]["true"])
    loud = simloop.episode(simloop.make_proposer("random", {}, 0, tmp_path), 3, 2, noise_scale=3.0)
    assert loud[0]["true"] == rows[0]["true"]
    assert abs(loud[1]["value"] - loud[0]["value"]) == pytest.approx(3 * abs(rows[1]["value"] - rows[0]["value"]))


def test_two_workers_complete_a_run_on_a_member_of_the_family(tmp_path, arrl_env) -> None:
    """The scaling benchmark's set-up, small: the default PPO with two workers on a member's
    script (crashes, divergence and noise included) finishes with every experiment recorded once."""
    files = {"train.py": simfamily.script(5), "simfamily.py": Path(simfamily.__file__).read_text()}
    repo = make_repo(tmp_path / "member", files, 'script = "train.py"\nbudget = 20\nseed = 5\nfailure_limit = 1000\n')
    result = run_arrl("run", "--workers", "2", "--max-experiments", "12", cwd=repo, env=arrl_env)
    assert result.returncode == 0, result.output
    recs = records(repo)
    assert sorted(r["id"] for r in recs) == list(range(12))  # in the order results arrived
    assert sum(r["proposer"] == "baseline" for r in recs) == 3
    # No program ran twice (the baseline's noise-floor repeats aside), and what was kept improved.
    ran = [r["program_hash"] for r in recs
           if r["proposer"] != "baseline" and r["outcome"] not in ("duplicate", "interrupted")]
    assert len(ran) == len(set(ran))
    kept = [float(r["value"]) for r in recs if r["kept"]]
    assert kept == sorted(kept, reverse=True) and len(set(kept)) == len(kept)
    # The second worker had its own worktree (that two run at once: tests/test_workers.py).
    assert (run_dir(repo) / "workers" / "1").is_dir()


def test_the_search_benchmark_reports_a_labelled_version_beside_the_plain_rows(tmp_path, arrl_env) -> None:
    """`search.py run --label` names its rows, so a version of a proposer is reported beside the
    rows already in the file instead of replacing them; a second run with the same label resumes
    (runs nothing)."""
    import subprocess

    out = tmp_path / "search.jsonl"
    script = [sys.executable, str(ROOT / "benchmarks" / "search" / "search.py")]

    def run(*extra: str) -> subprocess.CompletedProcess:
        return subprocess.run([*script, "run", "--seeds", "3", "--experiments", "3", "--proposers", "random",
                               "--jobs", "1", "--out", str(out), *extra], env=arrl_env, capture_output=True,
                              text=True, timeout=300)

    assert run().returncode == 0
    labelled = run("--label", "random (labelled)")
    assert labelled.returncode == 0 and "random (labelled) seed 3" in labelled.stdout
    assert run("--label", "random (labelled)").stdout == ""  # done already
    rows = [line for line in out.read_text().splitlines() if line]
    assert len(rows) == 2
    report = subprocess.run([*script, "report", "--out", str(out)], capture_output=True, text=True, timeout=120)
    assert report.returncode == 0, report.stderr
    assert "| random | 1 |" in report.stdout and "| random (labelled) | 1 |" in report.stdout
    assert subprocess.run([*script, "run", "--proposers", "random", "grid", "--label", "x", "--out", str(out)],
                          capture_output=True, text=True).returncode != 0  # one proposer per label


def test_the_plateau_check_scores_every_single_and_coupled_neighbour_by_its_true_loss() -> None:
    import plateau

    from arrl.plugins.ppo.proposer import COUPLED

    found = plateau.neighbours(dict(simfamily.BASELINE))
    changed = [{k for k in c if c[k] != simfamily.BASELINE[k]} for c in found]
    assert {"hidden_dim", "num_layers"} in changed and {"batch_size", "learning_rate"} in changed
    assert len(found) > len(COUPLED) and simfamily.BASELINE not in found
    row = plateau.member_row(3, "random", 6, 1.0)
    member = simfamily.member(3)
    assert row["regret"] >= 0 and row["noise"] == member["noise"]
    assert isinstance(row["ran"], bool)


def test_measuring_again_matches_simloop_when_off_and_only_differs_at_the_plateau(tmp_path) -> None:
    import remeasure
    import simloop
    from measures import best_true_after

    rows = simloop.episode(simloop.make_proposer("ppo", {}, 1, tmp_path), 1, 24)
    off = remeasure.episode(simloop.make_proposer("ppo", {}, 1, tmp_path), 1, 24, "off")
    assert len(off) == 25 and [off[c] for c in (8, 16, 24)] == [best_true_after(rows, c) for c in (8, 16, 24)]
    # Before the PPO runs out of single moves, measuring again at the plateau changes nothing.
    assert remeasure.episode(simloop.make_proposer("ppo", {}, 1, tmp_path), 1, 24, "plateau") == off
