"""The rollback contract (arrl.roles.Rollback), one test body for every registered rollback
(parametrized over the registry, as Optuna tests every sampler), against real git repositories:
every version retrievable, the workspace exactly the version asked for, a continued run reopened
at the last good one, nothing of the user's touched, and a new run refused early where it could
not start.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

import arrl
from arrl.errors import WorkspaceError
from arrl.manager import Registry, build_options, make_plugin_manager
from support import git, make_repo, user_state

ROLLBACKS = Registry(make_plugin_manager()).names("rollback")
SCRIPT = "LEARNING_RATE = 0.01\nprint(f'arrl: val_loss={LEARNING_RATE}')\n"
FIRST, SECOND = SCRIPT.replace("0.01", "0.02"), SCRIPT.replace("0.01", "0.03")


def build(name: str, repo: Path, run_dir: Path) -> arrl.Rollback:
    """The rollback for ``train.py`` of ``repo``, as the loop builds it (a fresh one each call, as
    a continued run or a later `arrl show` gets)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    registration = Registry(make_plugin_manager()).get("rollback", name)
    context = arrl.PluginContext(run_dir, repo, "train.py", "val_loss", arrl.Direction.MINIMIZE, 60, seed=0)
    return registration.factory(build_options(registration, {}), context)


@pytest.fixture(params=ROLLBACKS)
def project(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, Path, Path]:
    """The parametrized rollback's name, a user's repository with a committed script (and a
    file the user is still editing), and the run's folder."""
    repo = make_repo(tmp_path / "project", {"train.py": SCRIPT, "notes.md": "mine\n"})
    (repo / "notes.md").write_text("mine, edited\n")  # the user's own work in progress
    (repo / "untracked.txt").write_text("scratch\n")
    return request.param, repo, tmp_path / "runs" / "run-1"


def script_in(workspace: Path) -> str:
    return (workspace / "train.py").read_text()


def test_every_snapshot_is_readable_and_the_workspace_holds_the_version_asked_for(project) -> None:
    name, repo, run_dir = project
    before = user_state(repo)
    rollback = build(name, repo, run_dir)
    workspace = rollback.open("run-1")
    base, text = rollback.baseline()
    assert text == SCRIPT and rollback.read(base) == SCRIPT and script_in(workspace) == SCRIPT
    first, first_ref = rollback.snapshot(FIRST, 1, "experiment 1", base)
    assert script_in(workspace) == FIRST, "the loop runs the snapshot it just made, in the workspace"
    (workspace / "checkpoint.pt").write_text("an experiment's leftover")
    second, second_ref = rollback.snapshot(SECOND, 2, "experiment 2", first)
    assert len({base, first, second}) == 3 and first_ref != second_ref
    assert [rollback.read(c) for c in (base, first, second)] == [SCRIPT, FIRST, SECOND]
    rollback.restore(first)
    assert script_in(workspace) == FIRST and not (workspace / "checkpoint.pt").exists(), "exactly the commit"
    (workspace / "train.py").write_text("garbage")
    rollback.restore(base)
    assert script_in(workspace) == SCRIPT
    assert isinstance(rollback.keep(base, 0), str)
    assert user_state(repo) == before, "the user's branch, index and working tree are untouched"


def test_a_continued_run_reopens_at_the_last_good_version(project) -> None:
    name, repo, run_dir = project
    rollback = build(name, repo, run_dir)
    rollback.open("run-1")
    base, _ = rollback.baseline()
    first, _ = rollback.snapshot(FIRST, 1, "experiment 1", base)
    rollback.mark_good(first)
    second, _ = rollback.snapshot(SECOND, 2, "experiment 2", first)  # tried, not good
    # The user commits on; the run, continued by a new arrl process, starts from where it was.
    (repo / "train.py").write_text(SECOND)
    git(repo, "-c", "user.name=Test", "-c", "user.email=t@example.com", "commit", "-qam", "onwards")
    again = build(name, repo, run_dir)
    workspace = again.open("run-1")
    assert script_in(workspace) == FIRST
    assert again.baseline() == (base, SCRIPT)
    assert again.read(second) == SECOND


def test_a_finished_run_lets_its_workspace_go_and_keeps_every_version(project) -> None:
    name, repo, run_dir = project
    before = user_state(repo)
    rollback = build(name, repo, run_dir)
    workspace = rollback.open("run-1")
    base, _ = rollback.baseline()
    first, _ = rollback.snapshot(FIRST, 1, "experiment 1", base)
    rollback.restore(base)  # the loop's "not good": restored, no ref moved but the snapshot's
    rollback.finish()
    assert not workspace.exists()
    # Retrievable for `arrl show`, `apply` and `reproduce` even once git collects its garbage.
    subprocess.run(["git", "-C", str(repo), "gc", "--quiet", "--prune=now"], check=True)
    later = build(name, repo, run_dir)
    assert later.read(first) == FIRST and later.read(base) == SCRIPT
    assert user_state(repo) == before


def test_a_discarded_run_leaves_nothing_a_new_start_would_find(project) -> None:
    name, repo, run_dir = project
    rollback = build(name, repo, run_dir)
    workspace = rollback.open("run-1")
    rollback.discard()
    assert not workspace.exists()
    # The user fixes the script and starts again under the same run: from the fix, not the old one.
    (repo / "train.py").write_text(FIRST)
    git(repo, "-c", "user.name=Test", "-c", "user.email=t@example.com", "commit", "-qam", "fixed")
    again = build(name, repo, run_dir)
    workspace = again.open("run-1")
    assert again.baseline()[1] == FIRST and script_in(workspace) == FIRST


@pytest.mark.parametrize("mistake", ["no repository", "script not committed", "script changed since"])
def test_a_new_run_that_could_not_start_is_refused_cheaply_and_by_open(mistake: str, project, tmp_path: Path) -> None:
    name, repo, run_dir = project
    build(name, repo, tmp_path / "runs" / "fine").check()  # the positive control: the user's own edits elsewhere are fine
    if mistake == "no repository":
        repo = tmp_path / "plain"
        repo.mkdir()
        (repo / "train.py").write_text(SCRIPT)
    elif mistake == "script not committed":
        repo = make_repo(tmp_path / "other", {"README.md": "no script yet\n"})
        (repo / "train.py").write_text(SCRIPT)
    else:
        (repo / "train.py").write_text(FIRST)
    with pytest.raises(WorkspaceError):
        build(name, repo, run_dir).check()  # the refusal may come from building it already
    with pytest.raises(WorkspaceError):
        build(name, repo, run_dir).open("run-1")
