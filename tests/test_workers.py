"""Several experiments at once (`arrl run --workers N`), thread counts from the CPU share, and
faults: an experiment's process killed, the coordinator SIGKILLed while two experiments run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from test_containers import Monitor, _runner, engine  # noqa: F401 - engine is a fixture

import arrl
from arrl.run.resources import THREAD_VARIABLES, available_cpus
from support import ARRL, make_repo, records, run_arrl, run_dir

# Sleeps so that two experiments overlap; prints where it ran and when, for the checks below.
# Crashes at batch sizes other than 32, so the random proposer produces real failures too.
SLEEPER = """
import math, os, sys, time
LEARNING_RATE = 0.01  # tuned by arrl
BATCH_SIZE = 32
DROPOUT = 0.1

print(f"start {time.time():.3f} cwd {os.getcwd()}", flush=True)
if int(os.environ["ARRL_EXPERIMENT_ID"]) == int(os.environ.get("KILL_EXPERIMENT", "-1")):
    os.kill(os.getpid(), 9)  # as the OOM killer or a lost node would end it
if BATCH_SIZE != 32:
    raise RuntimeError(f"batch size {BATCH_SIZE} does not fit this toy")
for step in range(4):
    time.sleep(float(os.environ.get("STEP_SECONDS", "0.15")))
    loss = (math.log10(LEARNING_RATE) + 2.5) ** 2 + DROPOUT + 1.0 / (step + 1)
    print(f"arrl: step={step} val_loss={loss:.6f}", flush=True)
print(f"end {time.time():.3f}", flush=True)
"""

CONFIG = """
script = "train.py"
budget = 60
failure_limit = 50
seed = 5
[plugins]
proposer = "random"
[early_stopping]
enabled = false
[options.runner]
forward_env = ["KILL_EXPERIMENT", "STEP_SECONDS"]  # the sandbox passes only what is named
"""


def check_journal(recs: list[dict], count: int) -> None:
    """Nothing lost or duplicated, and keep-if-better held in the order results arrived."""
    assert len(recs) == count
    assert len({r["id"] for r in recs}) == count, "an experiment id recorded twice"
    # The unmodified script runs several times on purpose (its noise-floor repeats).
    ran = [r["program_hash"] for r in recs if r["outcome"] not in ("duplicate", "interrupted")
           and r["proposer"] != "baseline"]
    assert len(ran) == len(set(ran)), "a program ran twice"
    best = None
    for r in recs:
        value = float(r["value"])
        if r["kept"]:
            assert r["outcome"] == "ok" and (best is None or value < best), f"#{r['id']} kept but not better"
        if r["outcome"] == "ok" and (best is None or value < best):
            assert r["kept"], f"#{r['id']} beat the best but was not kept"
            best = value


def stdout_logs(repo: Path) -> dict[int, str]:
    experiments = run_dir(repo) / "experiments"
    return {int(p.parent.name): p.read_text() for p in experiments.glob("*/stdout.log")}


def test_two_workers_run_experiments_at_once(tmp_path: Path, arrl_env) -> None:
    repo = make_repo(tmp_path / "project", {"train.py": SLEEPER}, CONFIG)
    result = run_arrl("run", "--workers", "2", "--max-experiments", "9", cwd=repo, env=arrl_env)
    assert result.returncode == 0, result.output
    recs = records(repo)
    check_journal(recs, 9)
    assert recs[0]["id"] == 0 and recs[0]["proposer"] == "baseline" and recs[0]["kept"]
    logs = stdout_logs(repo)
    places = {log.split("cwd ")[1].split()[0] for log in logs.values() if "cwd " in log}
    assert any("/workers/1/" in p for p in places) and any("/workers/" not in p for p in places), places
    spans = sorted((float(log.split()[1]), float(log.split("end ")[1])) for log in logs.values() if "end " in log)
    assert any(b_start < a_end for (_, a_end), (b_start, _) in zip(spans, spans[1:])), "no two experiments overlapped"


def test_noise_floor_repeats_run_side_by_side_with_seeds_of_their_own(tmp_path: Path, arrl_env) -> None:
    # The first baseline runs alone; its two repeats (baseline_runs = 3) then run on the two
    # workers at once, each with its own seed, and no more than two are started.
    config = CONFIG.replace("seed = 5", "seed = 5\nbaseline_runs = 3")
    repo = make_repo(tmp_path / "project", {"train.py": SLEEPER}, config)
    result = run_arrl("run", "--workers", "2", "--max-experiments", "6", cwd=repo,
                      env={**arrl_env, "STEP_SECONDS": "0.5"})
    assert result.returncode == 0, result.output
    recs = records(repo)
    check_journal(recs, 6)
    baselines = [r for r in recs if r["proposer"] == "baseline"]
    assert sorted(r["id"] for r in baselines) == [0, 1, 2]  # in the order they ended
    assert sorted(r["seed"] for r in baselines) == [5, 6, 7]
    assert all(r["proposer"] == "random" for r in recs if r["id"] >= 3)
    logs = stdout_logs(repo)
    (start_1, end_1), (start_2, end_2) = ((float(logs[i].split()[1]), float(logs[i].split("end ")[1])) for i in (1, 2))
    assert start_2 < end_1 and start_1 < end_2, "the two repeats did not overlap"
    assert "noise floor: val_loss moves by 0 " in (run_dir(repo) / "run.log").read_text()


def test_many_workers_stop_exactly_at_the_limit(tmp_path: Path, arrl_env) -> None:
    # Short experiments on four workers: results arrive while others start, and no experiment
    # may start once the recorded plus the running ones reach --max-experiments.
    repo = make_repo(tmp_path / "project", {"train.py": SLEEPER}, CONFIG)
    result = run_arrl("run", "--workers", "4", "--max-experiments", "14", cwd=repo,
                      env={**arrl_env, "STEP_SECONDS": "0.01"})
    assert result.returncode == 0, result.output
    check_journal(records(repo), 14)
    assert len(stdout_logs(repo)) <= 14


def test_default_ppo_learns_with_two_workers(tmp_path: Path, arrl_env) -> None:
    repo = make_repo(tmp_path / "project", {"train.py": SLEEPER}, CONFIG.replace('proposer = "random"', 'proposer = "ppo"'))
    result = run_arrl("run", "--workers", "2", "--max-experiments", "9", cwd=repo, env=arrl_env)
    assert result.returncode == 0, result.output
    recs = records(repo)
    check_journal(recs, 9)
    proposals = [r for r in recs if r["proposer"] != "baseline"]  # after the noise floor's three
    assert len(proposals) == 6 and all(r["proposal_id"].startswith("ppo-") for r in proposals)
    assert len({r["proposal_id"] for r in proposals}) == 6


def test_an_experiment_killed_mid_run_is_recorded_once_as_failed(tmp_path: Path, arrl_env) -> None:
    repo = make_repo(tmp_path / "project", {"train.py": SLEEPER}, CONFIG)
    result = run_arrl("run", "--workers", "2", "--max-experiments", "6", cwd=repo,
                      env={**arrl_env, "KILL_EXPERIMENT": "2"})
    assert result.returncode == 0, result.output
    recs = records(repo)
    check_journal(recs, 6)
    (killed,) = [r for r in recs if r["id"] == 2]
    assert killed["outcome"] == "failed" and killed["exit_code"] == 128 + signal.SIGKILL, killed
    assert not killed["kept"] and any(i > 2 for i in stdout_logs(repo))  # the run went on after it


def test_coordinator_killed_while_two_run_loses_and_duplicates_nothing(tmp_path: Path, arrl_env) -> None:
    repo = make_repo(tmp_path / "project", {"train.py": SLEEPER}, CONFIG)
    env = {**os.environ, **arrl_env, "STEP_SECONDS": "0.5"}
    coordinator = subprocess.Popen([str(ARRL), "run", "--workers", "2", "--max-experiments", "10"], cwd=repo,
                                   env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        # Two experiments running: both have started (stdout.log) and neither is recorded.
        try:
            recorded = {r["id"] for r in records(repo)}
            running = [i for i, log in stdout_logs(repo).items() if i not in recorded and "start " in log]
        except (AssertionError, json.JSONDecodeError, FileNotFoundError):
            recorded, running = set(), []
        if len(recorded) >= 2 and len(running) == 2:
            break
        time.sleep(0.05)
    else:
        coordinator.kill()
        pytest.fail("never saw two experiments running at once")
    coordinator.send_signal(signal.SIGKILL)
    coordinator.wait()
    before = (run_dir(repo) / "journal.jsonl").read_text()

    result = run_arrl("run", "--workers", "2", "--max-experiments", "10", cwd=repo, env=arrl_env)
    assert result.returncode == 0, result.output
    after = (run_dir(repo) / "journal.jsonl").read_text()
    assert after.startswith(before), "a record written before the kill changed"
    check_journal(records(repo), 10)


# --- thread counts ---------------------------------------------------------------------------

THREADS = """
import os
import torch
LEARNING_RATE = 0.01
print(f"arrl: val_loss={torch.get_num_threads()}")
print(f"omp {os.environ.get('OMP_NUM_THREADS')} mkl {os.environ.get('MKL_NUM_THREADS')}")
"""


@pytest.mark.parametrize(("flags", "expected"), [
    ((), available_cpus()),  # one worker: all the CPUs arrl may use, whatever torch would pick
    (("--cpus-per-worker", "1"), 1),
    (("--cpus-per-worker", "0.5"), 1),
    (("--workers", "2", "--max-experiments", "3"), max(available_cpus() // 2, 1)),
])
def test_an_experiment_gets_the_threads_of_its_cpu_share(flags, expected, tmp_path: Path, arrl_env) -> None:
    repo = make_repo(tmp_path / "project", {"train.py": THREADS},
                     'script = "train.py"\nbudget = 120\n[plugins]\nproposer = "random"\n')
    unset = {name: "" for name in THREAD_VARIABLES}  # whatever this machine exports
    result = run_arrl("run", "--max-experiments", "1", *flags, cwd=repo, env={**arrl_env, **unset})
    assert result.returncode == 0, result.output
    recs = records(repo)
    ran = [r for r in recs if r["outcome"] == "ok"]
    assert ran and all(float(r["value"]) == expected for r in ran), [(r["id"], r["value"]) for r in recs]


def test_a_share_beyond_the_cores_is_passed_on_as_asked(tmp_path: Path, arrl_env) -> None:
    # torch caps its own count at the cores it sees; the variables still say what was given.
    repo = make_repo(tmp_path / "project", {"train.py": THREADS}, 'script = "train.py"\nbudget = 120\n')
    result = run_arrl("run", "--max-experiments", "1", "--cpus-per-worker", "3", cwd=repo,
                      env={**arrl_env, **{name: "" for name in THREAD_VARIABLES}})
    assert result.returncode == 0, result.output
    assert "omp 3 mkl 3" in stdout_logs(repo)[0]


def test_a_thread_variable_the_user_set_is_kept(tmp_path: Path, arrl_env) -> None:
    repo = make_repo(tmp_path / "project", {"train.py": THREADS}, 'script = "train.py"\nbudget = 120\n')
    result = run_arrl("run", "--max-experiments", "1", "--cpus-per-worker", "1", cwd=repo,
                      env={**arrl_env, **{name: "" for name in THREAD_VARIABLES}, "OMP_NUM_THREADS": "2"})
    assert result.returncode == 0, result.output
    assert "omp 2 mkl 1" in stdout_logs(repo)[0]


# --- containers get the same share -----------------------------------------------------------

CONTAINER_THREADS = """
import os
import torch
try:  # cgroup v2, then v1
    quota = open("/sys/fs/cgroup/cpu.max").read().split()
except OSError:
    try:
        quota = [open(f"/sys/fs/cgroup/cpu/cpu.cfs_{name}_us").read().strip() for name in ("quota", "period")]
    except OSError:
        quota = ["unknown"]
print(f"arrl: val_loss={torch.get_num_threads()}")
print("omp", os.environ.get("OMP_NUM_THREADS"), "quota", *quota)
"""


def test_a_container_gets_the_share_as_its_cpu_limit_and_threads(engine: str, tmp_path: Path) -> None:  # noqa: F811
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    (workspace / "train.py").write_text(CONTAINER_THREADS)
    request = arrl.RunRequest(
        run_id="test-share", experiment_id=1, script=workspace / "train.py", workspace=workspace, workdir=workspace,
        output_dir=tmp_path / "exp" / "output", log_dir=tmp_path / "exp", budget_seconds=60, seed=0,
        env={"ARRL_EXPERIMENT_ID": "1"}, cpus=1)
    runner = _runner(engine)
    try:
        result = runner.run(request, Monitor())
    finally:
        runner.close()
    assert result.outcome is arrl.Outcome.OK, result.failure_reason
    assert [p.value for p in result.metrics if p.name == "val_loss"] == [1.0]  # torch.get_num_threads()
    output = Path(result.stdout_path).read_text()
    assert "omp 1 " in output
    quota = output.split("quota ")[1].split()
    if quota[0] != "unknown":  # "<quota> <period>": one CPU
        assert int(quota[0]) == int(quota[1]), output


# --- the Redis memory under arrl run ----------------------------------------------------------

@pytest.mark.parametrize("server", ["redis_server", "volatile_redis_server"])
def test_two_workers_share_a_redis_memory_through_a_redis_restart(server: str, request, tmp_path: Path,
                                                                   arrl_env) -> None:
    redis = request.getfixturevalue(server)
    repo = make_repo(tmp_path / "project", {"train.py": SLEEPER}, CONFIG)
    env = {**os.environ, **arrl_env, "STEP_SECONDS": "0.3"}
    command = [str(ARRL), "--plugin", "memory=redis", "-o", f"memory.url={redis.url}", "run", "--workers", "2",
               "--max-experiments", "12"]
    coordinator = subprocess.Popen(command, cwd=repo, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and coordinator.poll() is None:
        try:
            if len(records(repo)) >= 4:
                break
        except (AssertionError, FileNotFoundError):
            pass
        time.sleep(0.05)
    assert coordinator.poll() is None, "the run ended before Redis was restarted"
    redis.restart()
    output = coordinator.communicate(timeout=300)[0].decode()
    assert coordinator.returncode == 0, output
    check_journal(records(repo), 12)


def test_redis_unreachable_at_start_is_one_clear_line(tmp_path: Path, arrl_env) -> None:
    from conftest import free_port

    repo = make_repo(tmp_path / "project", {"train.py": SLEEPER}, CONFIG)
    url = f"redis://127.0.0.1:{free_port()}/0"
    result = run_arrl("--plugin", "memory=redis", "-o", f"memory.url={url}", "-o", "memory.timeout=1",
                      "run", "--max-experiments", "2", cwd=repo, env=arrl_env)
    assert result.returncode != 0
    assert f"arrl: error: cannot reach Redis at {url}" in result.stderr, result.output
    assert "Traceback" not in result.output


def test_openmp_threads_sleep_while_they_wait_unless_the_user_says_otherwise() -> None:
    from arrl.run.resources import thread_env

    assert thread_env(2, inherited={})["OMP_WAIT_POLICY"] == "PASSIVE"
    assert "OMP_WAIT_POLICY" not in thread_env(2, inherited={"OMP_WAIT_POLICY": "ACTIVE"})
