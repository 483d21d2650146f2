"""Reading a recorded run (show, diff, best, runs, history, export), taking the winner home
(apply), and refusing to continue a run whose script was committed again."""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

import pytest

from support import TOY_CONFIG, TOY_SCRIPT, git, make_repo, records, run_arrl, run_dir, user_state

IDENTITY = ("-c", "user.name=Test User", "-c", "user.email=test@example.com")


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """A real run of ten experiments, some failed, some kept; never modified by a test."""
    root = tmp_path_factory.mktemp("recorded")
    home = root / "home"
    home.mkdir()
    env = {"HOME": str(home), "GIT_CONFIG_NOSYSTEM": "1"}
    repo = make_repo(root / "project", {"train.py": TOY_SCRIPT, "README.md": "toy\n"}, TOY_CONFIG)
    result = run_arrl("run", "--max-experiments", "10", cwd=repo, env=env)
    assert result.returncode == 0, result.output
    recs = records(repo)
    assert any(r["outcome"] == "failed" for r in recs), "the seed gives failures"
    assert any(r["kept"] and r["id"] > 0 for r in recs), "the seed gives an improvement"
    return repo, env


def _best(recs: list[dict]) -> dict:
    ok = [r for r in recs if r["outcome"] == "ok"]
    return min(ok, key=lambda r: (float(r["value"]), r["id"]))


def _changed_lines(diff: str) -> list[str]:
    return [line for line in diff.splitlines()
            if line[:1] in "+-" and not line.startswith(("+++", "---"))]


def test_baseline_has_an_exp_0_ref_and_the_best_line_names_the_experiment(recorded) -> None:
    repo, _ = recorded
    recs = records(repo)
    run_id = run_dir(repo).name
    assert recs[0]["ref"] == f"refs/arrl/{run_id}/exp/0"
    assert git(repo, "rev-parse", recs[0]["ref"]).strip() == recs[0]["commit"]
    # Every experiment that ran is under exp/<id>, the baseline like the rest.
    refs = git(repo, "for-each-ref", "--format=%(refname)", f"refs/arrl/{run_id}/exp/").split()
    assert f"refs/arrl/{run_id}/exp/0" in refs
    assert {r["ref"] for r in recs if r["commit"]} <= set(refs)


def test_history_json_and_table_mark_the_best(recorded) -> None:
    repo, env = recorded
    recs = records(repo)
    best = _best(recs)
    result = run_arrl("history", "--json", cwd=repo, env=env)
    assert result.returncode == 0, result.output
    data = json.loads(result.stdout)
    assert data["run_id"] == run_dir(repo).name and data["best_id"] == best["id"]
    assert [e["id"] for e in data["experiments"]] == [r["id"] for r in recs]
    for shown, recorded_ in zip(data["experiments"], recs):
        # A failed experiment has no value: null here, where the journal keeps "inf".
        expected = {**recorded_, "value": None if recorded_["value"] in ("inf", "-inf") else recorded_["value"]}
        assert {k: shown[k] for k in recorded_} == expected
        assert shown["best"] == (shown["id"] == best["id"])
    assert any(e["value"] is None for e in data["experiments"])  # the recording holds a failure
    table = run_arrl("history", "--tsv", cwd=repo, env=env).stdout.splitlines()
    header = table[0].split("\t")
    marked = [row.split("\t")[0] for row in table[1:] if row.split("\t")[header.index("BEST")] == "*"]
    assert marked == [str(best["id"])]


def test_show_and_diff_give_the_recorded_experiment_failed_ones_included(recorded) -> None:
    repo, env = recorded
    recs = records(repo)
    failed = next(r for r in recs if r["outcome"] == "failed")
    shown = run_arrl("show", str(failed["id"]), cwd=repo, env=env)
    assert shown.returncode == 0, shown.output
    assert "failed" in shown.stdout and "does not fit this toy" in shown.stdout
    assert failed["commit"] in shown.stdout and failed["diff_parent"].strip() in shown.stdout
    as_json = json.loads(run_arrl("show", str(failed["id"]), "--json", cwd=repo, env=env).stdout)
    assert {k: as_json[k] for k in failed} == {**failed, "value": None} and as_json["status"] == "crash"
    assert "inf" not in shown.stdout

    diff = run_arrl("diff", str(failed["id"]), cwd=repo, env=env)
    assert diff.stdout == failed["diff_parent"]
    against = run_arrl("diff", str(failed["id"]), "--baseline", cwd=repo, env=env)
    assert against.stdout == failed["diff_baseline"]
    # The recorded diff is the commit's real change from the baseline.
    assert _changed_lines(failed["diff_baseline"]) == _changed_lines(
        git(repo, "diff", recs[0]["commit"], failed["commit"]))

    missing = run_arrl("show", "999", cwd=repo, env=env)
    assert missing.returncode != 0 and "no experiment 999" in missing.stderr


def test_best_and_runs(recorded) -> None:
    repo, env = recorded
    recs = records(repo)
    best = _best(recs)
    data = json.loads(run_arrl("best", "--json", cwd=repo, env=env).stdout)
    assert data["id"] == best["id"] and data["value"] == best["value"] and data["commit"] == best["commit"]
    text = run_arrl("best", cwd=repo, env=env).stdout
    assert f"experiment {best['id']} " in text and "arrl apply best" in text

    runs = json.loads(run_arrl("runs", "--json", cwd=repo, env=env).stdout)
    assert len(runs) == 1
    (summary,) = runs
    assert summary["run_id"] == run_dir(repo).name and summary["experiments"] == len(recs)
    assert summary["best_id"] == best["id"] and summary["best_value"] == pytest.approx(float(best["value"]))
    assert summary["baseline_value"] == pytest.approx(float(recs[0]["value"]))
    assert summary["status"] == "finished"


def test_export_tsv_and_csv_hold_autoresearch_columns(recorded, tmp_path: Path) -> None:
    repo, env = recorded
    recs = records(repo)
    result = run_arrl("export", cwd=repo, env=env)
    assert result.returncode == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout), delimiter="\t"))
    assert list(rows[0])[:5] == ["commit", "val_loss", "memory_gb", "status", "description"]
    assert len(rows) == len(recs)
    for row, rec in zip(rows, recs):
        assert row["id"] == str(rec["id"]) and row["outcome"] == rec["outcome"]
        assert rec["commit"].startswith(row["commit"])
        if rec["outcome"] == "ok":
            assert float(row["val_loss"]) == pytest.approx(float(rec["value"]))
        else:
            assert row["val_loss"] == ""  # not measured: blank, never a made-up number
        assert row["memory_gb"] == ""  # the subprocess runner does not measure memory
        expected = "keep" if rec["kept"] else ("crash" if rec["outcome"] in ("failed", "timed_out") else "discard")
        assert row["status"] == expected
        # The gain over the mean of the unmodified script's runs (lower is better here).
        runs = [float(r["value"]) for r in recs if r["proposer"] == "baseline" and r["outcome"] == "ok"]
        if rec["outcome"] == "ok":
            assert float(row["gain_over_baseline_mean"]) == pytest.approx(sum(runs) / len(runs) - float(rec["value"]))
        else:
            assert row["gain_over_baseline_mean"] == row["gain_in_noise_floors"] == ""
    target = tmp_path / "results.csv"
    assert run_arrl("export", "-O", str(target), cwd=repo, env=env).returncode == 0
    assert list(csv.DictReader(target.open())) == rows


def _clone(recorded, tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A copy of the recorded project (refs and run directory too) that a test may change."""
    repo, env = recorded
    copy = tmp_path / "project"
    shutil.copytree(repo, copy, symlinks=True)
    # The run directory names its repository; the copy must point at itself.
    meta_path = run_dir(copy) / "run.json"
    meta = json.loads(meta_path.read_text())
    meta["repo_root"] = str(copy)
    meta_path.write_text(json.dumps(meta))
    git(copy, "worktree", "prune")
    return copy, env


def _commit(repo: Path, message: str) -> str:
    git(repo, *IDENTITY, "commit", "-qam", message)
    return git(repo, "rev-parse", "HEAD").strip()


def test_apply_best_is_one_commit_with_the_best_change_on_a_moved_on_branch(recorded, tmp_path: Path) -> None:
    repo, env = _clone(recorded, tmp_path)
    recs = records(repo)
    best = _best(recs)
    # The user moved on: another file, and the script itself far from the tuned lines.
    (repo / "README.md").write_text("toy, documented\n")
    (repo / "train.py").write_text((repo / "train.py").read_text() + "print('done')\n")
    before = _commit(repo, "moved on")
    git(repo, "config", "user.name", "Test User")
    git(repo, "config", "user.email", "test@example.com")

    result = run_arrl("apply", "best", cwd=repo, env=env)
    assert result.returncode == 0, result.output
    after = git(repo, "rev-parse", "HEAD").strip()
    assert git(repo, "rev-list", f"{before}..{after}").split() == [after]
    assert git(repo, "rev-parse", f"{after}^").strip() == before
    assert git(repo, "symbolic-ref", "HEAD").strip() == "refs/heads/main"
    best_change = git(repo, "diff", recs[0]["commit"], best["commit"])
    assert _changed_lines(git(repo, "diff", before, after)) == _changed_lines(best_change)
    assert (repo / "train.py").read_text().endswith("print('done')\n")
    assert git(repo, "status", "--porcelain", "--untracked-files=no") == ""
    # The message compares with the mean of the unmodified script's runs, in noise floors.
    message = git(repo, "log", "-1", "--format=%B")
    runs = [float(r["value"]) for r in recs if r["proposer"] == "baseline" and r["outcome"] == "ok"]
    assert f"against the baseline's {sum(runs) / len(runs):.4g}" in message and "over the baseline's mean" in message

    # --patch: the same change as a file git applies to the baseline.
    patch = tmp_path / "best.patch"
    assert run_arrl("apply", "best", "--patch", str(patch), cwd=repo, env=env).returncode == 0
    check = tmp_path / "check"
    git(repo, "worktree", "add", "-q", "--detach", str(check), recs[0]["commit"])
    git(check, "apply", str(patch))
    assert (check / "train.py").read_text() == git(repo, "show", f"{best['commit']}:train.py")


def test_apply_leaves_a_conflicting_or_dirty_branch_untouched(recorded, tmp_path: Path) -> None:
    repo, env = _clone(recorded, tmp_path)
    recs = records(repo)
    best = _best(recs)
    changed = [line[1:] for line in _changed_lines(git(repo, "diff", recs[0]["commit"], best["commit"]))
               if line.startswith("-")]
    assert changed
    # The user rewrote the very lines the best experiment changes.
    script = (repo / "train.py").read_text()
    for line in changed:
        script = script.replace(line + "\n", line.split("=")[0] + "= 0.5  # mine\n")
    (repo / "train.py").write_text(script)
    _commit(repo, "my own values")
    before = user_state(repo)
    result = run_arrl("apply", "best", cwd=repo, env=env)
    assert result.returncode != 0
    assert "conflicts" in result.stderr and "nothing was changed" in result.stderr
    assert user_state(repo) == before

    # A dirty tree: refused before anything is tried.
    (repo / "README.md").write_text("unsaved work\n")
    dirty = user_state(repo)
    result = run_arrl("apply", str(best["id"]), cwd=repo, env=env)
    assert result.returncode != 0 and "uncommitted changes (README.md)" in result.stderr
    assert user_state(repo) == dirty


def test_run_after_a_new_commit_of_the_script_refuses_naming_both_commits(tmp_path: Path, arrl_env) -> None:
    # Every change crashes and one failure pauses: an unfinished run after two experiments.
    script = TOY_SCRIPT.replace("if BATCH_SIZE != 32:", "if (LEARNING_RATE, BATCH_SIZE, DROPOUT) != (0.01, 32, 0.1):")
    config = TOY_CONFIG.replace("failure_limit = 50", "failure_limit = 1")
    repo = make_repo(tmp_path / "project", {"train.py": script, "README.md": "toy\n"}, config)
    first = run_arrl("run", "--max-experiments", "20", cwd=repo, env=arrl_env)
    assert first.returncode == 3, first.output
    recorded_ = records(repo)
    baseline = recorded_[0]["commit"]

    # Another file changed: the run still edits the same script, so it continues.
    (repo / "README.md").write_text("toy, documented\n")
    _commit(repo, "docs")
    again = run_arrl("run", "--max-experiments", "3", cwd=repo, env=arrl_env)
    assert "continuing run" in again.stderr, again.output
    recorded_ = records(repo)

    # The user fixes the script and commits it.
    (repo / "train.py").write_text(TOY_SCRIPT.lstrip())
    fixed = _commit(repo, "accept any batch size")
    refused = run_arrl("run", "--max-experiments", "8", cwd=repo, env=arrl_env)
    assert refused.returncode != 0
    assert baseline[:10] in refused.stderr and fixed[:10] in refused.stderr
    assert "--new" in refused.stderr and "--continue" in refused.stderr
    assert records(repo) == recorded_  # nothing ran

    continued = run_arrl("run", "--continue", "--max-experiments", str(len(recorded_) + 1), cwd=repo, env=arrl_env)
    assert "continuing run" in continued.stderr, continued.output
    assert len(records(repo)) == len(recorded_) + 1
    assert records(repo)[0]["commit"] == baseline

    started = run_arrl("run", "--new", "--max-experiments", "1", cwd=repo, env=arrl_env)
    assert started.returncode == 0, started.output
    assert records(repo)[0]["commit"] == fixed


def test_one_line_diff_names_what_changed() -> None:
    from arrl.results.tables import one_line_diff

    diff = """--- a/train.py
+++ b/train.py
@@ -1,4 +1,4 @@
-LEARNING_RATE = 0.01  # tuned by arrl
+LEARNING_RATE = 0.005  # tuned by arrl
-    opt = torch.optim.AdamW(model.parameters(), lr=3e-4, weight_decay=0.1)
+    opt = torch.optim.AdamW(model.parameters(), lr=3e-4, weight_decay=0.05)
+torch.backends.cudnn.benchmark = True
"""
    assert one_line_diff(diff) == (
        "LEARNING_RATE = 0.01 → 0.005; …weight_decay=0.1 → 0.05; +torch.backends.cudnn.benchmark = True")
    assert one_line_diff(diff, width=20) == "LEARNING_RATE = 0.0…"
    assert one_line_diff("") == ""


def test_new_and_continue_together_is_a_clear_error(tmp_path: Path, arrl_env) -> None:
    repo = make_repo(tmp_path / "project", {"train.py": TOY_SCRIPT}, TOY_CONFIG)
    result = run_arrl("run", "--new", "--continue", cwd=repo, env=arrl_env)
    assert result.returncode == 2 and "choose one" in result.stderr
    assert not (repo / ".arrl").exists()
