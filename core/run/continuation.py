"""Continuing a run only while it still describes the committed script.

A run's experiments are edits of its baseline: once the user commits a new version of the
script (a fix, a new feature), continuing the old run would keep editing the old version and
silently ignore the new one. ``arrl run`` asks instead: ``--new`` starts from the new commit,
``--continue`` goes on from the old baseline. Nor does a run continue in another environment
(another runner, another image): its results would not be comparable with those it recorded.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from arrl.errors import ArrlError
from arrl.journal import RunDirectory
from arrl.results.tables import RunResults


class ScriptChangedError(ArrlError):
    """The script was committed again since the run began."""


def _git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True)
    return done.stdout.strip() if done.returncode == 0 else ""


def run_baseline_commit(repo: Path, run: RunDirectory) -> str:
    """The commit the run started from: its baseline experiment's, else the rollback's ref."""
    recorded = RunResults.load(run).baseline_commit
    return recorded or _git(repo, "rev-parse", "--verify", "--quiet", f"refs/arrl/{run.run_id}/baseline^{{commit}}")


def check_script_unchanged(repo: Path, script: str, run: RunDirectory) -> None:
    """Raise when HEAD's version of ``script`` differs from the run's baseline version."""
    baseline = run_baseline_commit(repo, run)
    head = _git(repo, "rev-parse", "--verify", "--quiet", "HEAD^{commit}")
    if not baseline or not head or baseline == head:
        return
    if _git(repo, "rev-parse", f"{baseline}:{script}") == _git(repo, "rev-parse", f"{head}:{script}"):
        return  # other files moved on; the script the run edits is the same

    def name(commit: str) -> str:
        return f"{commit[:10]} ({_git(repo, 'log', '-1', '--format=%s', commit)[:60]})"

    raise ScriptChangedError(
        f"{script} changed since run {run.run_id} began: the run's baseline is {name(baseline)}, "
        f"your latest commit is {name(head)}. `arrl run --new` starts a run from {head[:10]}; "
        f"`arrl run --continue` goes on editing {baseline[:10]}")


def check_fingerprint(run: RunDirectory, runner_name: str, fingerprint: dict[str, str]) -> None:
    """Refuse to mix experiments run in different environments into one run: their
    results would not be comparable (the design document's advice to pin digests)."""
    current = {"runner": runner_name, **fingerprint}
    meta = run.load_meta()
    if not meta.fingerprint:
        meta.fingerprint = current
        run.save_meta(meta)
        return
    differs = sorted(k for k in set(meta.fingerprint) | set(current) if meta.fingerprint.get(k) != current.get(k))
    if differs:
        detail = "; ".join(f"{k}: run has {meta.fingerprint.get(k, '-')!r}, now {current.get(k, '-')!r}" for k in differs)
        raise ArrlError(
            f"run {meta.run_id} was recorded in another environment ({detail}); results would not be "
            "comparable. Start a new run with `arrl run --new`, or restore that environment.")
