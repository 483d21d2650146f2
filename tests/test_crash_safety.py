"""Crash safety: SIGKILL at random moments and at each named phase, a full disk, bad scripts."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import time
from pathlib import Path

import pytest

from arrl.run.faults import PHASES
from support import ARRL, git, make_repo, records, run_arrl, run_dir

SCRIPT = """
import time
LEARNING_RATE = 0.01
DROPOUT = 0.1
BATCH_SIZE = 32
for step in range(3):
    print(f"arrl: step={step} val_loss={abs(LEARNING_RATE - 0.004) * 100 + DROPOUT + 3 / (step + 1):.6f}", flush=True)
    time.sleep(0.03)
"""
# Never pauses: the run must go on through every kill, whatever it proposes.
CONFIG = ('script = "train.py"\nbudget = 20\nfailure_limit = 1000\nduplicate_limit = 100000\n'
          '[early_stopping]\nenabled = false\n')


def check_invariants(repo: Path, settled: bool) -> list[dict]:
    """What must hold after any crash: journal whole, ids unique and in order, every commit and
    ref real; once arrl has restarted (``settled``): workspace = last good, no stray process."""
    directory = run_dir(repo)
    lines = (directory / "journal.jsonl").read_bytes().split(b"\n")
    whole = [json.loads(line) for line in lines[:-1]]  # a torn last line is dropped on restart
    assert [r["id"] for r in whole] == list(range(len(whole)))
    for record in whole:
        if record["commit"]:
            assert git(repo, "cat-file", "-t", record["commit"]).strip() == "commit"
        if record["ref"]:
            assert git(repo, "rev-parse", record["ref"]).strip() == record["commit"]
    if settled:
        kept = [r for r in whole if r["kept"]]
        finished = json.loads((directory / "run.json").read_text())["status"] == "finished"
        if kept:
            # A run going on works in the last good version; a finished one has let its worktree go.
            if finished:
                assert not (directory / "workspace").exists()
            else:
                workspace = (directory / "workspace" / "train.py").read_text()
                assert workspace == git(repo, "show", f"{kept[-1]['commit']}:train.py")
            last_good = git(repo, "rev-parse", f"refs/arrl/{directory.name}/last-good").strip()
            assert last_good == kept[-1]["commit"]
        token = f"ARRL_PROCESS_TOKEN=arrl-{directory.name}-".encode()
        stray = []
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                if token in Path(f"/proc/{pid}/environ").read_bytes():
                    stray.append(pid)
            except OSError:
                pass
        assert stray == [], f"processes of the run outlived arrl: {stray}"
    return whole


def _start(repo: Path, env: dict, *args: str, crash_at: str = "") -> subprocess.Popen:
    full = {**os.environ, **env}
    if crash_at:
        full["ARRL_TEST_CRASH_AT"] = crash_at
    return subprocess.Popen([str(ARRL), "run", *args], cwd=repo, env=full,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _seconds_to_first_record(repo: Path, env: dict) -> float:
    started = time.monotonic()
    process = _start(repo, env, "--max-experiments", "100000")
    journal = repo / ".arrl"
    while not any(j.stat().st_size for j in journal.glob("*/journal.jsonl")):
        assert process.poll() is None, process.stderr.read().decode() if process.stderr else ""
        assert time.monotonic() - started < 300, "no experiment recorded in 5 minutes"
        time.sleep(0.02)
    elapsed = time.monotonic() - started
    process.send_signal(signal.SIGKILL)
    process.wait()
    return elapsed


# The fifty kills in six parts: the first five run the default proposer (the PPO: torch's
# import, its prior and its saved state are in the start-up they land in), the other forty-five
# the random one, whose start-up takes a second rather than several, so that their moments fall
# among experiments, the journal's appends, commits and ref updates. (Ten with the PPO took 156 s
# of one test process beside two busy loops; the PPO's own state is in every one of its five.)
KILLS = (5, 9, 9, 9, 9, 9)
assert sum(KILLS) == 50


def _kills(part: int, tmp_path: Path, arrl_env: dict) -> None:
    """Part ``part`` of the fifty kills, in a project of its own."""
    proposer = "" if part == 0 else '[plugins]\nproposer = "random"\n'
    repo = make_repo(tmp_path / "project", {"train.py": SCRIPT}, CONFIG + proposer)
    rng = random.Random(20261125 + part)
    # Seeded moments from start-up to several experiments in. Start-up (importing torch and
    # building the PPO proposer) takes 1.5 s on an idle machine and ten times that on a busy
    # one, so the window is twice what it takes here, now, measured by a first run.
    window = 2 * _seconds_to_first_record(repo, arrl_env)
    for kill in range(KILLS[part]):
        process = _start(repo, arrl_env, "--max-experiments", "100000")
        # Alternately in the first half of the window (start-up) and the second (experiments
        # recorded): five or nine draws from the whole window could all fall in start-up.
        half = window / 2
        time.sleep(rng.uniform(0.0, half) if kill % 2 == 0 else rng.uniform(half, window))
        assert process.poll() is None, process.stderr.read().decode() if process.stderr else ""
        process.send_signal(signal.SIGKILL)
        process.wait()
        check_invariants(repo, settled=False)
    recorded = check_invariants(repo, settled=False)
    assert len(recorded) >= 2, "the kills should land between experiments as well as during start-up"
    final = run_arrl("run", "--max-experiments", str(len(recorded) + 3), cwd=repo, env=arrl_env, timeout=300)
    assert final.returncode == 0, final.output
    recs = check_invariants(repo, settled=True)
    assert len(recs) == len(recorded) + 3 and recs[: len(recorded)] == recorded


def _kills_class(part: int) -> type:
    @pytest.mark.slow
    def test_a_part_of_the_fifty(self, tmp_path: Path, arrl_env) -> None:
        _kills(part, tmp_path, arrl_env)

    first = sum(KILLS[:part]) + 1
    return type(f"TestSigkillAtFiftyRandomMoments{part}", (), {
        "__doc__": f"Kills {first}-{first + KILLS[part] - 1} of fifty.", "test_a_part_of_the_fifty": test_a_part_of_the_fifty})


# SIGKILL at fifty random moments, in six classes: scripts/test.sh's --dist loadscope gives each
# class to whichever process is free, where one test of fifty kept one busy for up to 18 minutes
# beside two busy loops.
TestSigkillAtFiftyRandomMoments0, TestSigkillAtFiftyRandomMoments1, TestSigkillAtFiftyRandomMoments2, \
    TestSigkillAtFiftyRandomMoments3, TestSigkillAtFiftyRandomMoments4, TestSigkillAtFiftyRandomMoments5 = (
        _kills_class(k) for k in range(len(KILLS)))


@pytest.mark.parametrize("phase", PHASES)
def test_sigkill_at_each_named_phase(phase: str, tmp_path: Path, arrl_env) -> None:
    repo = make_repo(tmp_path / "project", {"train.py": SCRIPT}, CONFIG)
    assert run_arrl("run", "--max-experiments", "2", cwd=repo, env=arrl_env).returncode == 0
    before = records(repo)
    meta = run_dir(repo) / "run.json"
    meta.write_text(meta.read_text().replace('"finished"', '"interrupted"'))
    # Crash at the second time the phase is reached: a proposal is in flight.
    process = _start(repo, arrl_env, "--max-experiments", "6", crash_at=f"{phase}:2")
    process.wait(timeout=120)
    assert process.returncode == -signal.SIGKILL, process.stderr.read().decode() if process.stderr else ""
    crashed = check_invariants(repo, settled=False)
    assert crashed[: len(before)] == before  # nothing recorded before the crash is lost or changed
    resumed = run_arrl("run", "--max-experiments", "6", cwd=repo, env=arrl_env)
    assert resumed.returncode == 0, resumed.output
    recs = check_invariants(repo, settled=True)
    assert len(recs) == 6 and recs[: len(crashed)] == crashed


def test_a_torn_proposer_state_is_said_and_the_run_goes_on(tmp_path: Path, arrl_env) -> None:
    """A kill while the proposer wrote its state (what the fifty kills once caught, before the
    built-in proposers wrote it aside and renamed it): the continued run says so and goes on
    afresh, everything recorded kept."""
    repo = make_repo(tmp_path / "project", {"train.py": SCRIPT}, CONFIG + '[plugins]\nproposer = "random"\n')
    assert run_arrl("run", "--max-experiments", "4", cwd=repo, env=arrl_env).returncode == 0
    before = records(repo)
    (run_dir(repo) / "proposer.state").write_text("")
    meta = run_dir(repo) / "run.json"
    meta.write_text(meta.read_text().replace('"finished"', '"interrupted"'))
    resumed = run_arrl("run", "--max-experiments", "5", cwd=repo, env=arrl_env)
    assert resumed.returncode == 0, resumed.output
    assert "the proposer's saved state cannot be read (JSONDecodeError" in resumed.output
    recs = check_invariants(repo, settled=True)
    assert len(recs) == 5 and recs[:4] == before


def test_full_disk_loses_nothing_and_says_so(tmp_path: Path, arrl_env) -> None:
    mount = tmp_path / "small"
    mount.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        repo = make_repo(tmp_path / "project", {"train.py": SCRIPT}, CONFIG)
        (repo / "arrl.toml").write_text(f'runs_dir = "{mount / "runs"}"\n' + CONFIG)
        git(repo, "-c", "user.name=T", "-c", "user.email=t@e", "commit", "-qam", "runs on the small disk")
        assert run_arrl("run", "--max-experiments", "2", cwd=repo, env=arrl_env).returncode == 0
        directory = run_dir(repo, str(mount / "runs"))
        journal = (directory / "journal.jsonl").read_bytes()
        meta = directory / "run.json"
        meta.write_text(meta.read_text().replace('"finished"', '"interrupted"'))
        # Fill the disk, leaving less room than one record needs.
        filler = mount / "filler"
        fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
        try:
            while os.write(fd, b"\0" * 512):
                pass
        except OSError:
            pass
        finally:
            os.close(fd)
        full = run_arrl("run", "--max-experiments", "4", cwd=repo, env=arrl_env)
        assert full.returncode == 1
        assert "No space left on device" in full.stderr and "Traceback" not in full.stderr
        assert "intact" in full.stderr or "nothing recorded before is lost" in full.stderr
        assert (directory / "journal.jsonl").read_bytes() == journal  # nothing lost, nothing half-written
        filler.unlink()
        again = run_arrl("run", "--max-experiments", "4", cwd=repo, env=arrl_env)
        assert again.returncode == 0, again.output
        assert [r["id"] for r in records(repo, str(mount / "runs"))] == [0, 1, 2, 3]
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def test_unparsable_script_is_a_clear_error(tmp_path: Path, arrl_env) -> None:
    repo = make_repo(tmp_path / "project", {"train.py": "LEARNING_RATE = 0.1\nif True\n    pass\n"},
                     'script = "train.py"\n')
    result = run_arrl("run", "--max-experiments", "2", cwd=repo, env=arrl_env)
    assert result.returncode == 1
    assert "arrl: error: the training script cannot be read: train.py:2: syntax error: expected ':'\n" in result.stderr
    assert "Traceback" not in result.stderr


def test_budget_must_be_positive(tmp_path: Path, arrl_env) -> None:
    repo = make_repo(tmp_path / "project", {"train.py": SCRIPT}, CONFIG)
    for budget in ("0", "-5"):
        result = run_arrl("run", "--budget", budget, cwd=repo, env=arrl_env)
        assert result.returncode == 2 and "--budget must be greater than 0" in result.stderr
    (repo / "arrl.toml").write_text('script = "train.py"\nbudget = 0\n')
    result = run_arrl("run", cwd=repo, env=arrl_env)
    assert result.returncode == 2 and "budget must be greater than 0" in result.stderr
