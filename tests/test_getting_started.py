"""docs/getting-started.md as a user follows it: its script and arrl.toml, written out as printed,
inspected, run, read back, and the winner applied to a branch that has moved on."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from arrl.config import Settings
from support import ROOT, git, make_repo, records, run_arrl

PAGE = ROOT / "docs" / "getting-started.md"


def _files() -> dict[str, str]:
    """The page's code blocks that start with a comment naming their file."""
    files = {}
    for body in re.findall(r"^```(?:python|toml)\n(.*?)^```", PAGE.read_text(), flags=re.MULTILINE | re.DOTALL):
        match = re.match(r"# ([\w.]+)", body)
        if match:
            files[match.group(1)] = body
    return files


@pytest.mark.slow
def test_getting_started_works_as_written(tmp_path: Path, arrl_env) -> None:
    files = _files()
    assert set(files) == {"train.py", "arrl.toml"}
    repo = make_repo(tmp_path / "mine", {"train.py": files["train.py"]}, files["arrl.toml"])

    inspected = run_arrl("inspect", "train.py", cwd=repo, env=arrl_env)
    assert inspected.returncode == 0, inspected.output
    rows = {line.split()[0]: line for line in inspected.stdout.splitlines()[1:] if line.strip()}
    for field, name in [("learning_rate", "LEARNING_RATE"), ("hidden_dim", "HIDDEN_DIM"),
                        ("num_layers", "NUM_LAYERS"), ("batch_size", "BATCH_SIZE")]:
        assert name in rows[field] and " ok" in rows[field], rows[field]

    # The unmodified script's runs (the baseline, and its noise-floor repeats), then two proposals.
    count = Settings().baseline_runs + 2
    result = run_arrl("run", "--max-experiments", str(count), cwd=repo, env=arrl_env)
    assert result.returncode == 0, result.output
    recs = records(repo)
    assert [r["outcome"] for r in recs][0] == "ok" and len(recs) == count
    history = run_arrl("history", cwd=repo, env=arrl_env)
    assert history.returncode == 0 and "baseline" in history.stdout

    # Step 7: an experiment's change from the baseline (the best one that ran; which proposal
    # wins is the proposer's business, not this page's), applied on a branch that has moved on.
    ran = [r for r in recs if r["id"] > 0 and r["commit"] and r["diff_baseline"]]
    assert ran, "at least one of the two proposals ran"
    best = min(ran, key=lambda r: r["value"])
    (repo / "NOTES.md").write_text("the user's own work, committed after the run started\n")
    git(repo, "add", "NOTES.md")
    git(repo, "-c", "user.name=U", "-c", "user.email=u@example.com", "commit", "-qm", "notes")
    before = git(repo, "rev-parse", "HEAD").strip()
    applied = run_arrl("apply", str(best["id"]), cwd=repo,
                       env={**arrl_env, "GIT_AUTHOR_NAME": "U", "GIT_AUTHOR_EMAIL": "u@example.com",
                            "GIT_COMMITTER_NAME": "U", "GIT_COMMITTER_EMAIL": "u@example.com"})
    assert applied.returncode == 0, applied.output
    assert git(repo, "rev-parse", "HEAD~1").strip() == before  # exactly one commit on top
    assert (repo / "train.py").read_text() == git(repo, "show", f"{best['commit']}:train.py")
    assert (repo / "NOTES.md").exists()
