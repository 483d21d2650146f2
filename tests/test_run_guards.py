"""Guards around a run: settings checked before anything is created, one arrl per runs
directory (a real lock, two real processes), and a damaged journal that explains itself."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from support import ARRL, git, make_repo, records, run_arrl, run_dir

# No torch import: these tests are about the harness, and must not depend on how fast torch loads.
SCRIPT = """
import os, time
LEARNING_RATE = 0.01
DROPOUT = 0.1
BATCH_SIZE = 32
for step in range(3):
    print(f"arrl: step={step} val_loss={abs(LEARNING_RATE - 0.004) * 100 + DROPOUT + 3 / (step + 1):.6f}", flush=True)
    time.sleep(float(os.environ.get("TRAIN_SLEEP", "0.02")))
    while os.environ.get("TRAIN_UNTIL") and not os.path.exists(os.environ["TRAIN_UNTIL"]):
        time.sleep(0.05)  # held until the test releases it
"""
CONFIG = ('script = "train.py"\nbudget = 60\nfailure_limit = 1000\n'
          '[plugins]\nproposer = "random"\n[early_stopping]\nenabled = false\n')


def _project(tmp_path: Path) -> Path:
    # The sandbox passes only the variables it is told, and shows the test's folder (where the
    # release file appears) only when asked.
    sandbox = f'[options.runner]\nforward_env = ["TRAIN_SLEEP", "TRAIN_UNTIL"]\nread_paths = ["{tmp_path}"]\n'
    return make_repo(tmp_path / "project", {"train.py": SCRIPT}, CONFIG + sandbox)


def _mark_interrupted(repo: Path) -> None:
    meta = run_dir(repo) / "run.json"
    meta.write_text(meta.read_text().replace('"finished"', '"interrupted"'))


def _wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


# --- settings -------------------------------------------------------------------------------

@pytest.mark.parametrize("spelling", ["inf", "+inf", "nan", "1e400"])
def test_an_infinite_budget_is_refused_in_the_file(spelling: str, tmp_path: Path, arrl_env) -> None:
    repo = _project(tmp_path)
    (repo / "arrl.toml").write_text(CONFIG.replace("budget = 60", f"budget = {spelling}"))
    result = run_arrl("run", "--max-experiments", "1", cwd=repo, env=arrl_env)
    assert result.returncode == 2, result.output
    assert "budget must be greater than 0 and finite" in result.stderr
    assert not (repo / ".arrl").exists() or not list((repo / ".arrl").glob("*/run.json"))


@pytest.mark.parametrize("line, message", [
    ("max_hours = -1", "max_hours must be greater than 0 and finite (hours)"),
    ("max_experiments = 0", "'max_experiments' must be >= 1"),
    ("plateau = 0", "'plateau' must be >= 1"),
])
def test_a_stop_condition_out_of_range_is_refused_in_the_file(line: str, message: str, tmp_path: Path,
                                                              arrl_env) -> None:
    repo = _project(tmp_path)
    (repo / "arrl.toml").write_text(line + "\n" + CONFIG)  # before the tables
    result = run_arrl("run", cwd=repo, env=arrl_env)
    assert result.returncode == 2, result.output
    assert message in result.stderr
    assert not list(repo.glob(".arrl/*/run.json"))


@pytest.mark.parametrize("spelling", ["inf", "Infinity", "nan", "-inf"])
def test_an_infinite_budget_is_refused_on_the_command_line(spelling: str, tmp_path: Path, arrl_env) -> None:
    repo = _project(tmp_path)
    result = run_arrl("run", "--budget", spelling, "--max-experiments", "1", cwd=repo, env=arrl_env)
    assert result.returncode == 2, result.output
    assert "--budget must be greater than 0 and finite" in result.stderr
    assert not list(repo.glob(".arrl/*/run.json"))


@pytest.mark.parametrize("script", ["../other/train.py", "{other}/train.py", "link/train.py"])
def test_a_script_outside_the_repository_is_refused(script: str, tmp_path: Path, arrl_env) -> None:
    repo = _project(tmp_path)
    other = make_repo(tmp_path / "other", {"train.py": SCRIPT})
    (repo / "link").symlink_to(other)
    before = git(other, "for-each-ref")
    config = CONFIG.replace('script = "train.py"', f'script = "{script.format(other=other)}"')
    (repo / "arrl.toml").write_text(config)
    result = run_arrl("run", "--max-experiments", "1", cwd=repo, env=arrl_env)
    assert result.returncode == 2, result.output
    assert "outside this project's repository" in result.stderr
    assert git(other, "for-each-ref") == before  # no refs written into the other repository
    assert git(other, "worktree", "list").count("\n") == 1
    # The same script given on the command line is refused as well.
    result = run_arrl("run", str(other / "train.py"), "--max-experiments", "1", cwd=repo, env=arrl_env)
    assert result.returncode == 2 and "outside this project's repository" in result.stderr


@pytest.mark.parametrize("option", [
    "runner.no_such_option=1",        # unknown option
    "runner.term_grace=99",           # out of range
    "runner.term_grace=fast",         # wrong type
    "proposer.redraws=-x",            # wrong type for the chosen proposer
    "validator.ast.nope=1",           # unknown option of one chain member
])
def test_a_bad_option_is_refused_before_a_run_is_created_or_continued(
        option: str, tmp_path: Path, arrl_env) -> None:
    repo = _project(tmp_path)
    bad = run_arrl("-o", option, "run", "--max-experiments", "1", cwd=repo, env=arrl_env)
    assert bad.returncode == 2, bad.output
    assert "Traceback" not in bad.stderr and " @ " not in bad.stderr  # in the user's words, not cattrs'
    assert not list(repo.glob(".arrl/*/run.json")), "a run was created with the bad option"
    good = run_arrl("run", "--max-experiments", "1", cwd=repo, env=arrl_env)
    assert good.returncode == 0, good.output
    # Continuing an unfinished run with a bad option leaves it as it was.
    _mark_interrupted(repo)
    meta = (run_dir(repo) / "run.json").read_text()
    bad = run_arrl("-o", option, "run", "--max-experiments", "2", cwd=repo, env=arrl_env)
    assert bad.returncode == 2 and (run_dir(repo) / "run.json").read_text() == meta
    good = run_arrl("run", "--max-experiments", "2", cwd=repo, env=arrl_env)
    assert good.returncode == 0, good.output
    assert [r["id"] for r in records(repo)] == [0, 1]


# --- the lock -------------------------------------------------------------------------------

def _start(repo: Path, env: dict, *args: str, extra: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen([str(ARRL), "run", *args], cwd=repo, env={**os.environ, **env, **(extra or {})},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _holder(repo: Path) -> str:
    try:
        return (repo / ".arrl" / "lock").read_text().strip()
    except FileNotFoundError:
        return ""


def test_a_second_arrl_run_is_refused_with_the_first_ones_pid(tmp_path: Path, arrl_env) -> None:
    repo = _project(tmp_path)
    # The baseline is held until the three refused commands are done, however long a busy
    # machine takes over them.
    release = tmp_path / "release"
    slow = {"TRAIN_UNTIL": str(release)}
    first = _start(repo, arrl_env, "--max-experiments", "1", extra=slow)
    try:
        _wait_for(lambda: list(repo.glob(".arrl/*/experiments/0/stdout.log")), 60, "the first run's experiment")
        assert _holder(repo) == str(first.pid)
        for args in (("run",), ("run", "--new"), ("resume",)):
            second = run_arrl(*args, cwd=repo, env={**arrl_env, **slow}, timeout=60)
            assert second.returncode == 1, second.output
            assert f"another arrl (pid {first.pid}) is running" in second.stderr
        release.touch()
        out, err = first.communicate(timeout=120)
    finally:
        if first.poll() is None:
            first.kill()
    # The refused runs neither killed the first one's experiment nor wrote anything.
    assert first.returncode == 0, err
    recorded = records(repo)
    assert [(r["id"], r["outcome"]) for r in recorded] == [(0, "ok")]
    assert len(list(repo.glob(".arrl/*/run.json"))) == 1


def test_sigkill_frees_the_lock(tmp_path: Path, arrl_env) -> None:
    repo = _project(tmp_path)
    first = _start(repo, arrl_env, "--max-experiments", "100", extra={"TRAIN_SLEEP": "1"})
    _wait_for(lambda: _holder(repo) == str(first.pid) and list(repo.glob(".arrl/*/experiments/0/stdout.log")),
              60, "the first run to hold the lock")
    first.send_signal(signal.SIGKILL)
    first.wait()
    # The experiment the killed arrl left behind is removed by the next one, under the lock.
    again = run_arrl("run", "--max-experiments", "2", cwd=repo, env=arrl_env, timeout=120)
    assert again.returncode == 0, again.output
    assert [r["id"] for r in records(repo)] == [0, 1]


# --- a damaged journal ------------------------------------------------------------------------

@pytest.mark.parametrize("damage", [
    b"{not json at all\n",
    b'{"id": "seven", "outcome": "ok"}\n',
    b"\xff\xfe\x00garbage\n",
    b"\n",
])
def test_a_damaged_journal_line_is_reported_and_can_be_skipped(damage: bytes, tmp_path: Path, arrl_env) -> None:
    repo = _project(tmp_path)
    assert run_arrl("run", "--max-experiments", "3", cwd=repo, env=arrl_env).returncode == 0
    _mark_interrupted(repo)
    journal = run_dir(repo) / "journal.jsonl"
    lines = journal.read_bytes().splitlines(keepends=True)
    journal.write_bytes(lines[0] + damage + lines[2])  # line 2 of 3 is damaged
    damaged = journal.read_bytes()

    for command in (("run", "--max-experiments", "5"), ("history",)):
        result = run_arrl(*command, cwd=repo, env=arrl_env)
        assert result.returncode == 1, result.output
        assert f"{journal}:2: damaged record" in result.stderr
        assert "--skip-damaged" in result.stderr and "Traceback" not in result.stderr
        assert journal.read_bytes() == damaged  # nothing changed by refusing

    result = run_arrl("run", "--skip-damaged", "--max-experiments", "4", cwd=repo, env=arrl_env)
    assert result.returncode == 0, result.output
    assert "skipped damaged journal line 2" in result.stderr
    assert (run_dir(repo) / "journal.damaged.jsonl").read_bytes() == damage
    assert [r["id"] for r in records(repo)] == [0, 2, 3, 4]
    assert journal.read_bytes().startswith(lines[0] + lines[2])


def test_run_log_is_rebuilt_from_the_journal(tmp_path: Path, arrl_env) -> None:
    repo = _project(tmp_path)
    # Killed right after experiment 1 reached the journal, before run.log heard of it.
    killed = subprocess.run([str(ARRL), "run", "--max-experiments", "5"], cwd=repo, capture_output=True,
                            env={**os.environ, **arrl_env, "ARRL_TEST_CRASH_AT": "journal-appended:2"})
    assert killed.returncode == -signal.SIGKILL
    log = run_dir(repo) / "run.log"
    assert [r["id"] for r in records(repo)] == [0, 1]

    def finished() -> list[str]:  # "#N started: ..." lines announce a start, not a record
        return [line.split(" ")[1] for line in log.read_text().splitlines()
                if " #" in line and " started: " not in line]

    assert "#1" not in finished()
    assert run_arrl("run", "--max-experiments", "3", cwd=repo, env=arrl_env).returncode == 0
    assert finished() == ["#0", "#1", "#2"]
    times = [line.split(" ")[0] for line in log.read_text().splitlines()]
    assert times == sorted(times)


# Each, with the default proposer (the PPO, which imports torch), is refused before torch, an
# engine client or the script reader's libcst is imported, before a run is announced, and without
# a folder left behind.
REFUSALS = {
    "not a repository": ("is not a git repository; arrl keeps every experiment as a commit", None),
    "no commit": ("has no commits; commit your script first", "init"),
    "not committed": ("train.py is not committed in", "add-other"),
    "uncommitted change": ("train.py has uncommitted changes; commit or stash them", "dirty"),
    "syntax error": ("the training script cannot be read: train.py:2: syntax error: '(' was never closed", "broken"),
}
PROBE_IMPORTS = ("import atexit, sys\n"
                 "atexit.register(lambda: print('heavy modules:', sorted(m for m in ('torch', 'docker', 'redis', 'ray', 'libcst') "
                 "if m in sys.modules), file=sys.stderr))\n"
                 "from arrl.cli import main\nsys.argv[0] = 'arrl'\nmain()\n")


@pytest.mark.parametrize("case", list(REFUSALS))
def test_a_new_run_is_refused_before_anything_heavy_or_created(case: str, tmp_path: Path, arrl_env) -> None:
    message, state = REFUSALS[case]
    project = tmp_path / "project"
    project.mkdir()
    (project / "train.py").write_text(SCRIPT)
    (project / "arrl.toml").write_text('script = "train.py"\nbudget = 60\n')
    if state is not None:
        git(project, "init", "-q", "-b", "main")
    identity = ["-c", "user.name=Test User", "-c", "user.email=test@example.com"]
    if state in ("add-other", "dirty", "broken"):
        git(project, "add", "arrl.toml" if state == "add-other" else ".")
        git(project, *identity, "commit", "-qm", "baseline")
    if state == "dirty":
        (project / "train.py").write_text(SCRIPT + "# changed\n")
    if state == "broken":
        (project / "train.py").write_text("import os\nx = (\n")
        git(project, *identity, "commit", "-qam", "broken")
    before = sorted(p.name for p in project.iterdir())
    python = ARRL.with_name("python")
    done = subprocess.run([str(python), "-c", PROBE_IMPORTS, "run", "--max-experiments", "1"], cwd=project,
                          capture_output=True, text=True, timeout=120, env={**os.environ, **arrl_env})
    assert done.returncode != 0
    assert message in done.stderr, done.stderr
    assert "heavy modules: []" in done.stderr, done.stderr
    assert "arrl: run " not in done.stderr  # no run announced
    assert sorted(p.name for p in project.iterdir()) == before  # no .arrl left behind


def test_a_machine_without_git_is_told_so(tmp_path: Path, arrl_env) -> None:
    """No git on PATH is not "not a git repository": the user is told what is missing."""
    repo = _project(tmp_path)
    done = subprocess.run([str(ARRL), "run", "--max-experiments", "1"], cwd=repo, capture_output=True, text=True,
                          timeout=120, env={**os.environ, **arrl_env, "PATH": str(tmp_path / "nothing-here")})
    assert done.returncode != 0
    assert "git is not installed (no `git` on PATH)" in done.stderr, done.stderr
    assert not (repo / ".arrl").exists()


def test_a_finished_run_leaves_no_worktree_and_no_lock(tmp_path: Path, arrl_env) -> None:
    """A finished run is not continued: its worktrees leave `git worktree list`, and the lock
    file goes with the lock; every version stays (refs), for show, apply and reproduce."""
    repo = _project(tmp_path)
    done = run_arrl("run", "--workers", "2", "--max-experiments", "5", cwd=repo, env=arrl_env)
    assert done.returncode == 0, done.output
    assert git(repo, "worktree", "list", "--porcelain").count("worktree ") == 1  # the user's own
    assert not (repo / ".arrl" / "lock").exists()
    folder = run_dir(repo)
    assert not (folder / "workspace").exists() and not list(folder.glob("workers/*/workspace"))
    refs = git(repo, "for-each-ref", "--format=%(refname)", f"refs/arrl/{folder.name}/").split()
    assert len(refs) >= 5
    shown = run_arrl("show", "4", cwd=repo, env=arrl_env)
    assert shown.returncode == 0, shown.output
