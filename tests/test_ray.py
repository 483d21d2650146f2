"""The Ray runner (arrl.contrib.ray_runner): workers whose experiments run on a Ray cluster.

Ray takes seconds to start, so one local cluster serves the module (joined by address, as an
existing cluster is) and one test starts its own through ``--ray-address local``.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from test_containers import engine  # noqa: F401, F811 - a fixture
from test_workers import CONFIG, SLEEPER, check_journal, stdout_logs

from support import local_ray_cluster, make_repo, records, run_arrl, run_dir, scaled

ray = pytest.importorskip("ray", reason="the ray extra is not installed") if os.environ.get("CI") != "true" \
    else __import__("ray")

import arrl  # noqa: E402
from arrl.plugins.runners.subprocess_runner import processes_with_token  # noqa: E402

# Sleeps like SLEEPER; as experiment KILL_EXPERIMENT it kills the Ray worker process that runs it
# (its nearest ancestor named ray::...), as the OOM killer or a lost node would, then sleeps on:
# what it leaves behind must be removed, and the experiment recorded once.
KILLER = SLEEPER.replace(
    'if int(os.environ["ARRL_EXPERIMENT_ID"]) == int(os.environ.get("KILL_EXPERIMENT", "-1")):\n'
    '    os.kill(os.getpid(), 9)',
    'if int(os.environ["ARRL_EXPERIMENT_ID"]) == int(os.environ.get("KILL_EXPERIMENT", "-1")):\n'
    '    pid = os.getppid()\n'
    '    while pid > 1 and not open(f"/proc/{pid}/cmdline", "rb").read().startswith(b"ray::"):\n'
    '        pid = int(open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[1])\n'
    '    assert pid > 1, "no Ray worker above this experiment"\n'
    '    os.kill(pid, 9)\n'
    '    time.sleep(600)')
assert KILLER != SLEEPER
# Freezes (SIGSTOP) its Ray worker instead: the actor stops answering, budget enforcement and all.
FREEZER = KILLER.replace("os.kill(pid, 9)", "os.kill(pid, 19)")
# The killer and the freezer stand in for the OOM killer or a lost node by killing the Ray worker
# above them, which a sandboxed script cannot even see: their inner runner runs unsandboxed.
UNSANDBOXED_INNER = ("-o", 'runner.inner_options={sandbox="off", forward_env=["KILL_EXPERIMENT", "STEP_SECONDS"]}')


@pytest.fixture(scope="module")
def cluster() -> Iterator[str]:
    """A local Ray cluster for the module; its address, for ``--ray-address``."""
    with local_ray_cluster() as address:
        yield address


def test_two_workers_on_a_local_ray_cluster_complete(tmp_path: Path, arrl_env) -> None:
    # The cluster arrl starts for the run; the worktree shipped as it would be to another node;
    # the PPO learning asynchronously, as for many workers.
    repo = make_repo(tmp_path / "project", {"train.py": SLEEPER}, CONFIG.replace('"random"', '"ppo"'))
    # Steps of 1.5 s: experiments of 6 s overlap on two workers however slowly a busy machine
    # schedules Ray's actors (at 0.15 s they ran one after the other at load 4.5; at 0.5 s, beside
    # two busy loops and the suite's three processes, too).
    result = run_arrl("-o", "runner.ship=always", "-o", "runner.num_cpus=2",
                      "-o", 'runner.inner_options={forward_env=["STEP_SECONDS"]}',
                      "-o", "proposer.learner=async", "-o", "proposer.batch_size=2",
                      "run", "--ray-address", "local", "--workers", "2", "--max-experiments", "7", cwd=repo,
                      env={**arrl_env, "STEP_SECONDS": "1.5"})
    assert result.returncode == 0, result.output
    recs = records(repo)
    check_journal(recs, 7)
    proposals = [r for r in recs if r["proposer"] != "baseline"]  # after the noise floor's 3
    assert len(proposals) == 4 and all(r["proposal_id"].startswith("ppo-") for r in proposals)
    saved = json.loads((run_dir(repo) / "proposer.state").read_text())
    assert saved["updates"] >= 1  # the learner took steps and the proposer adopted them
    assert sum(r["outcome"] == "ok" for r in recs) >= 3
    assert all(r["details"].get("ray_node") for r in recs if r["outcome"] in ("ok", "failed"))
    logs = stdout_logs(repo)  # came back from the Ray node to the paths the journal names
    assert all(Path(r["stdout_path"]).is_file() for r in recs if r["stdout_path"])
    places = {log.split("cwd ")[1].split()[0] for log in logs.values() if "cwd " in log}
    assert places and all("arrl-ray-" in p and str(repo) not in p for p in places), places
    spans = sorted((float(log.split()[1]), float(log.split("end ")[1])) for log in logs.values() if "end " in log)
    assert any(b_start < a_end for (_, a_end), (b_start, _) in zip(spans, spans[1:])), "no two experiments overlapped"


def test_a_killed_ray_worker_is_recorded_once_as_failed(cluster: str, tmp_path: Path, arrl_env) -> None:
    repo = make_repo(tmp_path / "project", {"train.py": KILLER}, CONFIG)
    result = run_arrl("-o", 'runner.forward_env=["KILL_EXPERIMENT"]', *UNSANDBOXED_INNER, "run", "--ray-address", cluster,
                      "--workers", "2", "--max-experiments", "6", cwd=repo,
                      env={**arrl_env, "KILL_EXPERIMENT": "2"})
    assert result.returncode == 0, result.output
    recs = records(repo)
    check_journal(recs, 6)  # six records, six ids: the killed one neither lost nor repeated
    (killed,) = [r for r in recs if r["id"] == 2]
    assert killed["outcome"] == "failed" and "Ray worker" in killed["failure_reason"], killed
    assert not killed["kept"] and any(r["id"] > 2 and r["outcome"] == "ok" for r in recs)  # the run went on
    # Not retried behind the journal's back. (Its one line may not have streamed back before its
    # worker died: lines reach the coordinator in batches, and the worker took its batch with it;
    # then it has no log at all.)
    assert stdout_logs(repo).get(2, "").count("start ") <= 1
    run_id = run_dir(repo).name
    assert processes_with_token(f"arrl-{run_id}-") == []  # the orphaned script was removed


@pytest.mark.timing
def test_a_hung_script_on_ray_ends_within_its_budget(cluster: str, tmp_path: Path, arrl_env) -> None:
    hung = "import time\nLEARNING_RATE = 0.01\nprint('arrl: val_loss=1.0', flush=True)\ntime.sleep(600)\n"
    repo = make_repo(tmp_path / "project", {"train.py": hung}, CONFIG.replace("budget = 60", "budget = 3"))
    began = time.monotonic()
    result = run_arrl("run", "--ray-address", cluster, "--max-experiments", "1", cwd=repo, env=arrl_env)
    elapsed = time.monotonic() - began
    (record,) = records(repo)
    assert record["outcome"] == "timed_out", (record, result.output)
    assert float(record["wall_clock_seconds"]) <= 3 + 1.5, record  # the runner's tolerance, as without Ray
    # From the arrl process's side: proposed, run on Ray (a new actor: a Python process that
    # starts in seconds on a busy machine) and recorded well before the Ray runner's own backstop
    # (grace, 30 s past the budget) would have had to act.
    span = datetime.fromisoformat(record["finished_at"]) - datetime.fromisoformat(record["started_at"])
    assert span.total_seconds() <= 3 + 15, record
    assert elapsed < scaled(60), elapsed  # the work of a whole run (Ray's start included), not a tolerance


@pytest.mark.timing
def test_a_frozen_ray_worker_is_killed_after_budget_and_grace(cluster: str, tmp_path: Path, arrl_env) -> None:
    repo = make_repo(tmp_path / "project", {"train.py": FREEZER}, CONFIG.replace("budget = 60", "budget = 4"))
    result = run_arrl("-o", 'runner.forward_env=["KILL_EXPERIMENT"]', *UNSANDBOXED_INNER, "-o", "runner.grace=3", "run",
                      "--ray-address", cluster, "--max-experiments", "3", cwd=repo,
                      env={**arrl_env, "KILL_EXPERIMENT": "1"})
    assert result.returncode == 0, result.output
    recs = records(repo)
    check_journal(recs, 3)
    (frozen,) = [r for r in recs if r["id"] == 1]
    assert frozen["outcome"] == "timed_out" and "did not answer" in frozen["failure_reason"], frozen
    span = datetime.fromisoformat(frozen["finished_at"]) - datetime.fromisoformat(frozen["started_at"])
    assert 4 + 3 <= span.total_seconds() <= 4 + 3 + 10, frozen  # the backstop: budget + grace
    assert recs[2]["outcome"] == "ok"  # the next experiment got a new actor
    assert processes_with_token(f"arrl-{run_dir(repo).name}-") == []


@pytest.mark.slow
def test_a_container_runner_runs_on_ray(engine: str,  # noqa: F811 - the fixture
                                         cluster: str, tmp_path: Path, arrl_env) -> None:
    repo = make_repo(tmp_path / "project", {"train.py": SLEEPER}, CONFIG)
    result = run_arrl("--plugin", f"runner={engine}", "-o", 'runner.forward_env=["STEP_SECONDS"]',
                      "run", "--ray-address", cluster, "--max-experiments", "2", cwd=repo, env={**arrl_env, "STEP_SECONDS": "0.05"}, timeout=600)
    assert result.returncode == 0, result.output
    recs = records(repo)
    check_journal(recs, 2)
    ran = [r for r in recs if r["outcome"] == "ok"]
    assert ran and all(r["details"]["engine"] == engine and r["details"].get("ray_node") for r in ran), recs


class _StopAt(arrl.RunMonitor):
    """Records the points it is given; asks for an early stop at the ``stop_at``-th."""

    def __init__(self, stop_at: int) -> None:
        self.points: list[arrl.MetricPoint] = []
        self.stop_at = stop_at

    def on_metric(self, point: arrl.MetricPoint) -> bool:
        self.points.append(point)
        return len(self.points) < self.stop_at

    def should_abort(self) -> bool:
        return False


# Reads what an earlier run left in its output directory (as a trusted evaluation reads a
# checkpoint), writes there, then reports a point every 0.2 s until stopped.
READER = """
import os, pathlib, time
out = pathlib.Path(os.environ["ARRL_OUTPUT_DIR"])
seen = (out / "checkpoint.txt").read_text()
(out / "written.txt").write_text(f"saw {seen}; git {os.path.exists('../.git')}")
for step in range(50):
    print(f"arrl: step={step} val_loss={1.0 / (step + 1)}", flush=True)
    time.sleep(0.2)
"""


def test_shipped_files_go_both_ways_and_an_early_stop_lands_on_its_point(cluster: str, tmp_path: Path) -> None:
    from arrl.contrib.ray_runner import RayOptions, RayRunner

    workspace = tmp_path / "workspace"
    (workspace / "sub").mkdir(parents=True)
    (workspace / "sub" / "train.py").write_text(READER)
    (workspace / ".git").write_text("gitdir: elsewhere\n")  # never shipped
    output, logs = tmp_path / "run" / "output", tmp_path / "run"
    output.mkdir(parents=True)
    (output / "checkpoint.txt").write_text("weights-1")
    context = arrl.PluginContext(tmp_path, workspace, "sub/train.py", "val_loss", arrl.Direction.MINIMIZE, 60, 0)
    runner = RayRunner(RayOptions(address=cluster, ship="always"), context)
    request = arrl.RunRequest(run_id="ray-test", experiment_id=1, script=workspace / "sub" / "train.py",
                              workspace=workspace, workdir=workspace / "sub", output_dir=output, log_dir=logs,
                              budget_seconds=30, seed=0, env={"ARRL_OUTPUT_DIR": str(output)}, cpus=1)
    monitor = _StopAt(3)
    try:
        result = runner.run(request, monitor)
    finally:
        runner.close()
    assert result.outcome is arrl.Outcome.EARLY_STOPPED, result
    # Each point waited for its verdict: the run ended at the third point, not several later.
    assert [p.step for p in monitor.points] == [0, 1, 2]
    assert [p.step for p in result.metrics if p.name == "val_loss"] == [0, 1, 2]
    assert (output / "written.txt").read_text() == "saw weights-1; git False"
    assert Path(result.stdout_path) == logs / "stdout.log" and "step=2" in (logs / "stdout.log").read_text()
    assert result.details["ray_node"]


def test_an_unreachable_ray_cluster_is_one_clear_line(tmp_path: Path, arrl_env) -> None:
    import socket

    with socket.socket() as probe:  # a loopback port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    repo = make_repo(tmp_path / "project", {"train.py": SLEEPER}, CONFIG)
    began = time.monotonic()
    result = run_arrl("run", "--ray-address", f"127.0.0.1:{port}", "--max-experiments", "1", cwd=repo, env=arrl_env)
    assert result.returncode == 1
    assert f"cannot reach the Ray cluster at '127.0.0.1:{port}'" in result.stderr and "Traceback" not in result.stderr
    assert time.monotonic() - began < 60  # not Ray's minutes of retrying


def test_what_a_killed_arrls_local_cluster_left_is_removed_by_the_next() -> None:
    import subprocess

    from arrl.contrib.ray_runner import OWNER_VARIABLE, _remove_orphaned_clusters

    gone = subprocess.Popen(["true"])
    gone.wait()  # an arrl process that was SIGKILLed: its pid names no process now
    orphan = subprocess.Popen(["sleep", "600"], env={**os.environ, OWNER_VARIABLE: str(gone.pid)})
    owned = subprocess.Popen(["sleep", "600"], env={**os.environ, OWNER_VARIABLE: str(os.getpid())})
    try:
        time.sleep(0.2)
        assert _remove_orphaned_clusters() >= 1
        assert orphan.wait(timeout=10) == -9
        assert owned.poll() is None  # its arrl process is alive: left alone
    finally:
        for process in (orphan, owned):
            if process.poll() is None:
                process.kill()
                process.wait()


DEEP_WRITER = """
import os
out = os.environ["ARRL_OUTPUT_DIR"]
with open(os.path.join(out, "weights.bin"), "wb") as handle:
    handle.write(bytes(range(256)) * (5 * 4096))  # 5 MiB
os.symlink("/etc/passwd", os.path.join(out, "link"))
os.chdir(out)
for _ in range(1200):
    os.mkdir("d")
    os.chdir("d")
open("bottom.txt", "w").write("deep")
print("arrl: val_loss=1.0", flush=True)
"""


def test_what_an_experiment_leaves_comes_back_piece_by_piece_as_data(cluster: str, tmp_path: Path) -> None:
    """A 5 MiB file comes back whole in 1 MiB pieces, a tree deeper than Python's recursion limit
    does not end the worker, and a link to the node's files does not come back at all."""
    from arrl.contrib.ray_runner import RayOptions, RayRunner
    from arrl.output import remove_tree, walk_tree

    workspace = tmp_path / "workspace"
    workspace.mkdir()
    (workspace / "train.py").write_text(DEEP_WRITER)
    output, logs = tmp_path / "run" / "output", tmp_path / "run"
    context = arrl.PluginContext(tmp_path, workspace, "train.py", "val_loss", arrl.Direction.MINIMIZE, 60, 0)
    runner = RayRunner(RayOptions(address=cluster, ship="always", return_piece="1m"), context)
    request = arrl.RunRequest(run_id="ray-test", experiment_id=2, script=workspace / "train.py", workspace=workspace,
                              workdir=workspace, output_dir=output, log_dir=logs, budget_seconds=60, seed=0,
                              env={"ARRL_OUTPUT_DIR": str(output)}, cpus=1)
    try:
        result = runner.run(request, _StopAt(100))
    finally:
        runner.close()
    try:
        assert result.outcome is arrl.Outcome.OK, result
        assert (output / "weights.bin").read_bytes() == bytes(range(256)) * (5 * 4096)
        assert not (output / "link").exists() and not (output / "link").is_symlink()
        names = [entry.name for entry in walk_tree(output)]
        assert names.count("d") == 1200 and "bottom.txt" in names
    finally:
        remove_tree(output)  # pytest's own clean-up of old temporary folders recurses
