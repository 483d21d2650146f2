"""Taking a winner home: one experiment's change from the baseline, as one commit on the user's
branch (or as a patch file).

The change is applied three-way in a private index (``git apply --3way --cached`` with
``GIT_INDEX_FILE``), so a branch that has moved on since the run began still takes it, and a
conflict is found before anything of the user's is touched. Only a clean result becomes a commit,
which then fast-forwards the branch (``git merge --ff-only``): the user's branch, index and
working tree change together or not at all.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

import attrs

from arrl.errors import ArrlError
from arrl.records import ExperimentRecord

from .tables import RunResults, describe, format_value


class ApplyError(ArrlError):
    """The change could not be applied; nothing of the user's was changed."""


@attrs.frozen
class Applied:
    commit: str
    branch: str
    files: tuple[str, ...]


def _git(repo: Path, *args: str, env: dict[str, str] | None = None,
         input: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, input=input)


def _ok(repo: Path, *args: str, env: dict[str, str] | None = None, strip: bool = True) -> str:
    done = _git(repo, *args, env=env)
    if done.returncode != 0:
        raise ApplyError(f"git {' '.join(args[:2])} failed: {done.stderr.strip() or done.stdout.strip()}; "
                         "nothing was changed")
    return done.stdout.strip() if strip else done.stdout


def change_from_baseline(repo: Path, results: RunResults, record: ExperimentRecord) -> str:
    """The experiment's change from the run's baseline as a patch git can apply three-way
    (with full blob ids). An experiment that was never committed (a rejection) has only its
    recorded diff."""
    baseline = results.baseline_commit
    if record.commit and baseline:
        # Not stripped: a last context line that is blank is a lone space, and git calls a patch
        # that lost it corrupt.
        return _ok(repo, "diff", "--full-index", "--binary", baseline, record.commit, strip=False)
    return record.diff_baseline


def commit_message(results: RunResults, record: ExperimentRecord) -> str:
    baseline = results.baseline
    # The subject names the whole change from the baseline, not only the experiment's last step.
    changed = {k: v for k, v in record.config.items() if baseline is not None and baseline.config.get(k) != v}
    what = "; ".join(f"{k} {baseline.config.get(k)} -> {v}" for k, v in changed.items()) if baseline and changed \
        else describe(record)
    lines = [f"{what} (arrl experiment {record.id})", ""]
    value = format_value(record.value)
    if value:
        summary = results.baseline_summary
        gain = summary.gain_text(record.value, record.direction)
        against = f" against the baseline's {summary.text()}: {gain}" if gain else ""
        lines.append(f"{record.metric_name} {value}, {record.outcome.value}{against}.")
    lines.append(f"From run {results.run_id}, {record.ref or record.commit or 'uncommitted'}.")
    return "\n".join(lines) + "\n"


def write_patch(path: Path, repo: Path, results: RunResults, record: ExperimentRecord) -> None:
    """The change as a file ``git apply`` takes; the commit message leads it as a preamble."""
    patch = change_from_baseline(repo, results, record)
    if not patch.strip():
        raise ApplyError(f"experiment {record.id} changes nothing relative to the baseline")
    try:
        path.write_text(commit_message(results, record) + "\n" + patch)
    except OSError as error:
        raise ApplyError(f"cannot write {path}: {error.strerror or error}") from None


def apply_to_branch(repo: Path, results: RunResults, record: ExperimentRecord) -> Applied:
    """One commit on the current branch holding the experiment's change from the baseline."""
    if not record.commit:
        raise ApplyError(f"experiment {record.id} was never committed ({record.outcome.value}); "
                         "`arrl apply --patch` writes its recorded diff instead")
    head = _git(repo, "rev-parse", "--verify", "--quiet", "HEAD^{commit}").stdout.strip()
    if not head:
        raise ApplyError(f"{repo} has no commit to apply onto")
    branch = _git(repo, "symbolic-ref", "--quiet", "--short", "HEAD").stdout.strip() or "HEAD (detached)"
    # Not stripped: each porcelain line starts with a two-letter status that may be a space.
    dirty = [line[3:] for line in _ok(repo, "status", "--porcelain", "--untracked-files=no",
                                      strip=False).splitlines() if line.strip()]
    if dirty:
        files = ", ".join(dirty[:5])
        raise ApplyError(f"your working tree has uncommitted changes ({files}); commit or stash "
                         "them first. Nothing was changed")
    patch = change_from_baseline(repo, results, record)
    if not patch.strip():
        raise ApplyError(f"experiment {record.id} changes nothing relative to the baseline; nothing to apply")
    with tempfile.TemporaryDirectory(prefix="arrl-apply-") as scratch:
        env = {"GIT_INDEX_FILE": str(Path(scratch) / "index")}
        _ok(repo, "read-tree", head, env=env)
        applied = _git(repo, "apply", "--3way", "--cached", "--whitespace=nowarn", "-", env=env, input=patch)
        unmerged = _git(repo, "ls-files", "--unmerged", env=env).stdout.strip()
        if applied.returncode != 0 or unmerged:
            conflicted = sorted({line.split("\t", 1)[-1] for line in unmerged.splitlines()})
            detail = ", ".join(conflicted) or (applied.stderr.strip().splitlines() or ["patch failed"])[-1]
            raise ApplyError(f"experiment {record.id}'s change conflicts with {branch} ({detail}); "
                             f"nothing was changed. `arrl apply {record.id} --patch FILE` writes it to "
                             "merge by hand")
        tree = _ok(repo, "write-tree", env=env)
    if tree == _ok(repo, "rev-parse", f"{head}^{{tree}}"):
        raise ApplyError(f"{branch} already has experiment {record.id}'s change; nothing to apply")
    message = commit_message(results, record)
    made = _git(repo, "commit-tree", tree, "-p", head, "-F", "-", input=message)
    if made.returncode != 0:
        raise ApplyError(f"cannot make the commit: {made.stderr.strip()}; nothing was changed")
    commit = made.stdout.strip()
    # A fast-forward to a child of HEAD: branch, index and working tree move together, and git
    # refuses (changing nothing) should an untracked file stand in the way.
    merged = _git(repo, "merge", "--ff-only", "--quiet", commit)
    if merged.returncode != 0:
        raise ApplyError(f"cannot move {branch} to the new commit: {merged.stderr.strip()}; nothing was changed")
    changed = tuple(_ok(repo, "diff-tree", "--no-commit-id", "--name-only", "-r", commit).splitlines())
    return Applied(commit=commit, branch=branch, files=changed)
