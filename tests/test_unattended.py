"""What an unattended run must survive: a proposer with nothing new to try, a reader of its
output that goes away, and an error before its first experiment. Found by trying arrl as a new
user would."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import pytest

import arrl
from arrl.config import Settings
from arrl.errors import ConfigError
from arrl.manager import Registry, make_plugin_manager
from arrl.run.components import build_components
from support import ARRL, git, make_repo, records, run_arrl, run_dir

# One switch and nothing else, and the switched version is no better: once it has run, every
# proposal from the baseline is the same program again.
ONE_SWITCH = """
use_amp = False
print(f"arrl: step=0 val_loss={1.5 if use_amp else 1.0}", flush=True)
"""
# The same, but the switch changes nothing the script prints: it is inert after one flip.
DEAD_SWITCH = """
use_amp = False
print("arrl: step=0 val_loss=1.0", flush=True)
"""

FAST = """
LEARNING_RATE = 0.01
DROPOUT = 0.1
for step in range(3):
    print(f"arrl: step={step} val_loss={abs(LEARNING_RATE - 0.004) * 100 + DROPOUT + 1 / (step + 1):.6f}")
"""
CONFIG = 'script = "train.py"\nbudget = 30\n[plugins]\nproposer = "random"\n[early_stopping]\nenabled = false\n'


def _meta(repo: Path) -> dict:
    return json.loads((run_dir(repo) / "run.json").read_text())


def test_a_run_whose_every_knob_is_inert_pauses(tmp_path: Path, arrl_env) -> None:
    """#26: once the only knob's flip had no effect, nothing is left to try: the run pauses and
    says so, instead of asking a proposer for a move it cannot make."""
    repo = make_repo(tmp_path / "project", {"train.py": DEAD_SWITCH}, CONFIG)
    result = run_arrl("run", "--max-experiments", "50", cwd=repo, env=arrl_env)
    assert result.returncode == 3, result.output
    assert [r["outcome"] for r in records(repo)] == ["ok"] * 3 + ["no_effect"]
    assert "every knob is inert (mixed_precision: moves had no effect)" in result.stderr


def test_a_proposer_with_nothing_new_to_try_pauses_the_run(tmp_path: Path, arrl_env) -> None:
    repo = make_repo(tmp_path / "project", {"train.py": ONE_SWITCH}, "duplicate_limit = 4\n" + CONFIG)
    result = run_arrl("run", "--max-experiments", "50", cwd=repo, env=arrl_env)
    assert result.returncode == 3, result.output
    outcomes = [r["outcome"] for r in records(repo)]
    # The baseline and the noise floor's two repeats of it, the one switch, then duplicates until
    # the limit: not 46 of them.
    assert outcomes == ["ok"] * 3 + ["ok"] + ["duplicate"] * 4
    assert "4 consecutive duplicate proposals" in result.stderr
    assert _meta(repo)["status"] == "paused"


def test_a_reader_that_goes_away_does_not_end_the_run(tmp_path: Path, arrl_env) -> None:
    repo = make_repo(tmp_path / "project", {"train.py": FAST}, CONFIG)
    process = subprocess.Popen([str(ARRL), "run", "--max-experiments", "4"], cwd=repo, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**arrl_env, "PATH": "/usr/bin:/bin"})
    assert process.stdout is not None
    process.stdout.readline()  # `arrl run | head -1`
    process.stdout.close()
    _, err = process.communicate(timeout=300)
    assert process.returncode == 0, err
    assert len(records(repo)) == 4 and _meta(repo)["status"] == "finished"


def test_a_run_that_could_not_start_is_not_left_running(tmp_path: Path, arrl_env) -> None:
    repo = make_repo(tmp_path / "project", {"train.py": "LEARNING_RATE = (0.01\n"}, CONFIG)
    broken = run_arrl("run", "--max-experiments", "2", cwd=repo, env=arrl_env)
    assert broken.returncode != 0 and "syntax error" in broken.stderr
    # It recorded nothing: no empty run, worktree or ref is left for each failed try.
    assert not list(repo.glob(".arrl/*/run.json"))
    assert len(git(repo, "worktree", "list").splitlines()) == 1
    assert not git(repo, "for-each-ref", "refs/arrl/").strip()
    # Fixed and committed: a new run starts and runs.
    (repo / "train.py").write_text(FAST)
    git(repo, "-c", "user.name=T", "-c", "user.email=t@e", "commit", "-qam", "fix")
    fixed = run_arrl("run", "--max-experiments", "2", cwd=repo, env=arrl_env)
    assert fixed.returncode == 0, fixed.output
    assert len(list(repo.glob(".arrl/*/run.json"))) == 1 and len(records(repo)) == 2
    # `arrl best` looks at the run that recorded something, not the empty one.
    best = run_arrl("best", cwd=repo, env=arrl_env)
    assert best.returncode == 0 and "val_loss" in best.output


def test_a_plugin_whose_library_is_missing_is_one_clear_error(tmp_path: Path) -> None:
    class NeedsALibrary:
        @arrl.hookimpl
        def arrl_runners(self):
            def factory(options, context):
                import arrl_no_such_library  # noqa: F401  (the lazy import a real plugin makes)
            yield arrl.Registration(name="needy", summary="needs a library", factory=factory)

    manager = make_plugin_manager()
    manager.register(NeedsALibrary(), "needy")
    context = arrl.PluginContext(tmp_path, tmp_path, "train.py", "val_loss", arrl.Direction.MINIMIZE, 60, 0)
    with pytest.raises(ConfigError, match="the runner 'needy' needs the Python package 'arrl_no_such_library'"):
        build_components(Registry(manager), Settings(plugins={"runner": "needy"}), context)


SLOW = ("import time\nLEARNING_RATE = 0.01\nfor i in range(600):\n    print(f'step {i}', flush=True)\n"
        "    time.sleep(0.05)\nprint('arrl: val_loss=1.0')\n")


def test_ctrl_c_twice_during_the_first_run_keeps_what_it_wrote(tmp_path: Path, arrl_env) -> None:
    # Forced out before the journal holds a line: the run is not one that never started, and
    # its experiment's logs (and outputs) stay.
    repo = make_repo(tmp_path / "project", {"train.py": SLOW}, CONFIG)
    process = subprocess.Popen([str(ARRL), "run", "--max-experiments", "1"], cwd=repo, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=arrl_env)
    deadline = time.monotonic() + 60
    while not any("step 3" in p.read_text() for p in repo.glob(".arrl/*/experiments/0/stdout*")):
        assert time.monotonic() < deadline and process.poll() is None, "the baseline never started"
        time.sleep(0.1)
    process.send_signal(signal.SIGINT)
    time.sleep(0.2)
    process.send_signal(signal.SIGINT)
    process.communicate(timeout=60)
    assert list(repo.glob(".arrl/*/run.json")) and list(repo.glob(".arrl/*/experiments/0/stdout*"))
