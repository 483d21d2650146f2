"""The Podman and Docker runners against the real engines, each claim with a positive control.

Locally these skip when an engine is missing; in CI (`CI=true`) a missing engine fails them.
`scripts/engines.sh`, run by the test command, installs and starts both.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import textwrap
import time
import uuid
from pathlib import Path

import pytest

import arrl
from arrl.errors import EngineError
from arrl.output import remove_tree, walk_tree
from support import ROOT, git, make_repo, records, run_arrl, skip_or_fail, tcp_server

ENGINES = ("podman", "docker")


def _engine_ready(name: str) -> str:
    """'' when the engine answers, else why not."""
    if name == "podman":
        if shutil.which("podman") is None:
            return "podman is not installed"
        info = subprocess.run(["podman", "info"], capture_output=True, text=True, timeout=60)
        return "" if info.returncode == 0 else f"podman info failed: {info.stderr.strip()[:200]}"
    try:
        import docker

        docker.from_env(version="auto", timeout=5).ping()
        return ""
    except Exception as error:  # noqa: BLE001 - any failure means "not reachable"
        return f"the Docker engine is not reachable: {error}"


_built: set[str] = set()


def _runner(name: str, **options) -> arrl.Runner:
    from arrl.plugins.runners.docker_runner import DockerOptions, DockerRunner
    from arrl.plugins.runners.podman_runner import PodmanOptions, PodmanRunner

    if name == "podman":
        return PodmanRunner(PodmanOptions(**options))
    return DockerRunner(DockerOptions(**options))


@pytest.fixture(params=ENGINES)
def engine(request) -> str:
    name = request.param
    why = _engine_ready(name)
    if why:
        skip_or_fail(why)
    if name not in _built:  # once per session: the image is built from this machine's files
        runner = _runner(name)
        try:
            runner.fingerprint()
        except EngineError:
            runner.build_image()
        _built.add(name)
    return name


class Monitor(arrl.RunMonitor):
    def __init__(self) -> None:
        self.points: list[arrl.MetricPoint] = []
        self.first_at: float | None = None

    def on_metric(self, point: arrl.MetricPoint) -> bool:
        if self.first_at is None:
            self.first_at = time.monotonic()
        self.points.append(point)
        return True

    def should_abort(self) -> bool:
        return False


def run_script(runner: arrl.Runner, tmp_path: Path, script: str, budget: float = 20,
               experiment_id: int = 1) -> tuple[arrl.RunResult, arrl.RunRequest]:
    workspace = tmp_path / "workspace"
    workspace.mkdir(parents=True, exist_ok=True)
    (workspace / "train.py").write_text(textwrap.dedent(script).lstrip())
    experiment = tmp_path / "experiments" / str(experiment_id)
    request = arrl.RunRequest(
        # A run id per call: the suite's processes run other files' containers meanwhile.
        run_id=f"test-run-{uuid.uuid4().hex[:8]}", experiment_id=experiment_id, script=workspace / "train.py",
        workspace=workspace,
        workdir=workspace, output_dir=experiment / "output", log_dir=experiment, budget_seconds=budget,
        seed=0, env={"ARRL_EXPERIMENT_ID": str(experiment_id)})
    return runner.run(request, Monitor()), request


def _leftovers(engine: str, run_id: str) -> list[str]:
    if engine == "podman":
        out = subprocess.run(["podman", "ps", "-a", "-q", "--filter", f"label=arrl.run={run_id}"],
                             capture_output=True, text=True).stdout
        return out.split()
    import docker

    client = docker.from_env(version="auto")
    return [c.id for c in client.containers.list(all=True, filters={"label": f"arrl.run={run_id}"})]


@pytest.fixture
def listener():
    """A TCP server on the host's loopback that answers every connection with 'hello'."""
    with tcp_server("127.0.0.1") as (port, _):
        yield port


CONNECT = """
import os, socket
try:
    with socket.create_connection(("127.0.0.1", {port}), timeout=3) as s:
        result = "reached:" + s.recv(5).decode()
except OSError as error:
    result = f"blocked:{{type(error).__name__}}:{{error.errno}}"
open(os.path.join(os.environ["ARRL_OUTPUT_DIR"], "net.txt"), "w").write(result)
print("arrl: val_loss=1.0")
"""


def test_no_network(engine: str, tmp_path: Path, listener: int) -> None:
    control, request = run_script(_runner(engine, memory="512m", network=True), tmp_path / "control",
                                  CONNECT.format(port=listener))
    assert control.outcome is arrl.Outcome.OK, control.failure_reason
    assert (request.output_dir / "net.txt").read_text() == "reached:hello"  # the positive control
    isolated, request = run_script(_runner(engine, memory="512m"), tmp_path / "isolated",
                                   CONNECT.format(port=listener))
    assert isolated.outcome is arrl.Outcome.OK, isolated.failure_reason
    assert (request.output_dir / "net.txt").read_text().startswith("blocked:")
    assert _leftovers(engine, request.run_id) == []


GREEDY = """
import time
import uuid
print("arrl: step=0 val_loss=2.0", flush=True)
hoard = []
for _ in range(64):
    hoard.append(bytearray(32 * 1024 * 1024))  # 2 GiB in all, against a 128 MiB limit
    time.sleep(0.01)
print("arrl: val_loss=1.0")
"""

SLEEPER = """
import time
import uuid
print("arrl: step=0 val_loss=2.0", flush=True)
time.sleep(60)
"""


def test_memory_limit_is_reported_as_out_of_memory(engine: str, tmp_path: Path) -> None:
    runner = _runner(engine, memory="128m")
    result, _ = run_script(runner, tmp_path / "greedy", GREEDY)
    assert result.outcome is arrl.Outcome.FAILED
    assert result.failure_reason == "out of memory"
    # Positive control: the same allocation under a generous limit succeeds.
    roomy, _ = run_script(_runner(engine, memory="3g"), tmp_path / "roomy", GREEDY)
    assert roomy.outcome is arrl.Outcome.OK, roomy.failure_reason
    # And a run killed at the budget is a timeout, never "out of memory".
    slow, _ = run_script(runner, tmp_path / "slow", SLEEPER, budget=2)
    assert slow.outcome is arrl.Outcome.TIMED_OUT and slow.failure_reason == "exceeded the 2 s budget"


WRITER = """
import os, sys
results = []
for target in ["/etc/arrl-test", "/workspace/train.py", "/workspace/new.txt", "/env/site-packages/x.pth",
               os.environ["ARRL_OUTPUT_DIR"] + "/../../2/output/evil.txt"]:
    try:
        with open(target, "a") as handle:
            handle.write("x")
        results.append(f"{target}=written")
    except OSError as error:
        results.append(f"{target}=errno{error.errno}")
with open(os.path.join(os.environ["ARRL_OUTPUT_DIR"], "fs.txt"), "w") as handle:
    handle.write("\\n".join(results))
print("arrl: val_loss=1.0")
"""


def _tree_hash(root: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def test_file_system_is_read_only_but_the_output_directory(engine: str, tmp_path: Path) -> None:
    other = tmp_path / "experiments" / "2" / "output"
    other.mkdir(parents=True)
    (other / "result.txt").write_text("another experiment's result\n")
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    (workspace / "data.txt").write_text("repository data\n")
    (workspace / "train.py").write_text(textwrap.dedent(WRITER).lstrip())
    # World-writable on the host, so that only the read-only mount can stop the container's
    # nobody user: the error must be EROFS (30), not a permission error (13).
    workspace.chmod(0o777)
    for path in workspace.iterdir():
        path.chmod(0o666)
    before_other, before_workspace = _tree_hash(other), _tree_hash(workspace)
    result, request = run_script(_runner(engine, memory="512m"), tmp_path, WRITER)
    assert result.outcome is arrl.Outcome.OK, result.failure_reason
    lines = dict(line.split("=", 1) for line in (request.output_dir / "fs.txt").read_text().splitlines())
    assert lines["/etc/arrl-test"] == "errno30"  # EROFS: the root file system is read-only
    assert lines["/workspace/train.py"] == "errno30"  # the script mount is read-only
    assert lines["/workspace/new.txt"] == "errno30"
    assert lines["/env/site-packages/x.pth"] in ("errno30", "errno13")  # read-only, and not nobody's
    assert lines["/output/../../2/output/evil.txt"] != "written"  # outside the mount: not there
    assert (request.output_dir / "fs.txt").exists()  # the positive control: its own output works
    assert _tree_hash(other) == before_other
    assert _tree_hash(workspace) == before_workspace
    assert not (workspace / "new.txt").exists()



def test_the_worktree_s_git_is_covered(engine: str, tmp_path: Path) -> None:
    """The workspace is a git worktree: its `.git` names the user's repository on the host. In
    the container it reads as empty, and the repository is untouched."""
    repo = make_repo(tmp_path / "repo", {"train.py": "print('arrl: val_loss=1')\n"})
    workspace = tmp_path / "workspace"
    git(repo, "worktree", "add", "-q", "--detach", str(workspace), "HEAD")
    (workspace / "train.py").write_text(textwrap.dedent("""
        import os
        text = open("/workspace/.git").read()
        print("git file:", repr(text), flush=True)
        try:
            open("/workspace/.git", "w").write("gitdir: /tmp/planted")
            print("written", flush=True)
        except OSError as error:
            print("refused", error.errno, flush=True)
        print("arrl: val_loss=1", flush=True)
    """).lstrip())
    before = (workspace / ".git").read_text()
    result, request = run_script(_runner(engine, memory="512m"), tmp_path, (workspace / "train.py").read_text())
    out = (request.log_dir / "stdout.log").read_text()
    assert result.outcome is arrl.Outcome.OK, out
    assert "git file: ''" in out and "refused" in out and str(repo) not in out
    assert (workspace / ".git").read_text() == before


STUBBORN = """
import os, signal, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
if os.fork() == 0:
    os.setsid()
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    while True:
        time.sleep(0.1)  # arrl-stubborn-marker
print("arrl: step=0 val_loss=1.0", flush=True)
while True:
    time.sleep(0.1)
"""


@pytest.mark.timing
def test_wall_clock_kills_a_stubborn_script(engine: str, tmp_path: Path) -> None:
    started = time.monotonic()
    result, request = run_script(_runner(engine, memory="512m"), tmp_path, STUBBORN, budget=2)
    elapsed = time.monotonic() - started
    assert result.outcome is arrl.Outcome.TIMED_OUT
    assert 2.0 <= result.wall_clock_seconds <= 3.0
    assert elapsed < 8  # including container removal
    assert _leftovers(engine, request.run_id) == []
    survivors = subprocess.run(["pgrep", "-f", "arrl-stubborn-marker"], capture_output=True, text=True).stdout
    assert survivors.strip() == ""


def test_metrics_stream_while_the_container_runs(engine: str, tmp_path: Path) -> None:
    script = """
    import time
    for step in range(4):
        print(f"arrl: step={step} val_loss={4 - step}", flush=True)
        time.sleep(0.5)
    """
    monitor_result, request = run_script(_runner(engine, memory="512m"), tmp_path, script)
    assert monitor_result.outcome is arrl.Outcome.OK
    values = [p.value for p in monitor_result.metrics]
    assert values == [4.0, 3.0, 2.0, 1.0]
    # Streamed, not read at the end: the first point arrived well before the run ended (the script
    # sleeps 1.5 s after printing it). Not the spacing of the points: on a loaded machine the
    # engine's log stream delivers lines in bursts (0.48 s apart for 1.5 s of sleeps, once).
    elapsed = [p.elapsed for p in monitor_result.metrics]
    assert monitor_result.wall_clock_seconds - elapsed[0] >= 0.75, (elapsed, monitor_result.wall_clock_seconds)
    assert (request.log_dir / "stdout.log").read_text().count("arrl:") == 4
    details = monitor_result.details
    assert details["engine"] == engine and details["image_id"] and len(details["environment_hash"]) == 64


class StopAtSecond(Monitor):
    def on_metric(self, point: arrl.MetricPoint) -> bool:
        super().on_metric(point)
        return len(self.points) < 2


def test_the_harness_ends_a_container_early_on_request(engine: str, tmp_path: Path) -> None:
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    (workspace / "train.py").write_text(
        "import time\nfor step in range(100):\n    print(f'arrl: step={step} val_loss=1', flush=True)\n"
        "    time.sleep(0.2)\n")
    request = arrl.RunRequest(run_id=f"test-run-{uuid.uuid4().hex[:8]}", experiment_id=1, script=workspace / "train.py",
                              workspace=workspace, workdir=workspace, output_dir=tmp_path / "e" / "output",
                              log_dir=tmp_path / "e", budget_seconds=30, seed=0)
    monitor = StopAtSecond()
    result = _runner(engine, memory="512m").run(request, monitor)
    assert result.outcome is arrl.Outcome.EARLY_STOPPED
    assert len(result.metrics) < 10 and result.wall_clock_seconds < 5  # not the 20 s the script wanted
    assert _leftovers(engine, request.run_id) == []


def test_cleanup_removes_containers_of_a_dead_run(engine: str) -> None:
    image = "arrl-runner:latest"
    command = ["/bin/sh", "-c", "sleep 60"]
    if engine == "podman":
        subprocess.run(["podman", "run", "-d", "--label", "arrl.run=dead-run", "--network", "none", image, *command],
                       check=True, capture_output=True)
    else:
        import docker

        docker.from_env(version="auto").containers.run(image, command, detach=True, network_mode="none",
                                                       labels={"arrl.run": "dead-run"})
    assert len(_leftovers(engine, "dead-run")) == 1
    assert _runner(engine).cleanup_stale("dead-run") == 1
    assert _leftovers(engine, "dead-run") == []


def test_engine_that_is_down_is_a_clear_error(tmp_path: Path) -> None:
    from arrl.plugins.runners.docker_runner import DockerOptions, DockerRunner
    from arrl.plugins.runners.podman_runner import PodmanOptions, PodmanRunner

    with pytest.raises(EngineError, match="cannot reach the Docker engine.*dockerd"):
        DockerRunner(DockerOptions(base_url=f"unix://{tmp_path}/no.sock"))
    with pytest.raises(EngineError, match="is not installed; install it with `apt-get install podman`"):
        PodmanRunner(PodmanOptions(podman=str(tmp_path / "no-podman")))


@pytest.mark.slow
def test_example_runs_under_each_engine(engine: str, tmp_path: Path, arrl_env) -> None:
    repo = make_repo(tmp_path / "digits", {})
    shutil.copy(ROOT / "examples/digits/train.py", repo / "train.py")
    (repo / "arrl.toml").write_text('script = "train.py"\nbudget = 60\n')
    git(repo, "add", "-A")
    git(repo, "-c", "user.name=T", "-c", "user.email=t@e", "commit", "-qm", "digits")
    result = run_arrl("--plugin", f"runner={engine}", "-o", "runner.memory=2g", "run", "--max-experiments", "3",
                      cwd=repo, env=arrl_env, timeout=300)
    assert result.returncode == 0, result.output
    recs = records(repo)
    assert recs[0]["outcome"] == "ok" and float(recs[0]["value"]) < 0.5
    for record in recs:
        if record["outcome"] in ("ok", "early_stopped"):
            assert record["details"]["engine"] == engine
            assert record["details"]["image_id"] == recs[0]["details"]["image_id"]
    # Continuing the run in another environment is refused rather than mixed.
    meta = repo / ".arrl" / Path(recs[0]["stdout_path"]).parts[-4] / "run.json"
    text = meta.read_text().replace('"finished"', '"interrupted"')
    meta.write_text(text.replace(recs[0]["details"]["image_id"], "sha256:another-image"))
    refused = run_arrl("--plugin", f"runner={engine}", "run", cwd=repo, env=arrl_env)
    assert refused.returncode == 1 and "was recorded in another environment" in refused.stderr
    assert _leftovers(engine, Path(recs[0]["stdout_path"]).parts[-4]) == []


GIANT_LINE = """
import os
chunk = b"y" * (1 << 20)
for _ in range(1024):
    os.write(1, chunk)
os.write(1, b"\\narrl: val_loss=0.25\\n")
"""


@pytest.mark.slow
def test_a_giant_line_leaves_arrls_memory_alone(engine: str, tmp_path: Path) -> None:
    # A 1 GiB line with no newline from a container limited to 256 MB: arrl (this process, the
    # runner) holds at most max_line_size of it, and the log keeps head and tail only.
    from test_harness_limits import _RssWatch

    with _RssWatch() as rss:
        result, request = run_script(_runner(engine, memory="256m"), tmp_path, GIANT_LINE, budget=300)
    assert result.outcome is arrl.Outcome.OK, result.failure_reason
    assert [p.value for p in result.metrics] == [0.25]
    assert (request.log_dir / "stdout.log").stat().st_size <= 10 * (1 << 20) + 200
    assert rss.growth < 64 << 20, f"arrl's resident memory grew by {rss.growth >> 20} MiB"
    assert _leftovers(engine, request.run_id) == []


@pytest.mark.parametrize("then", ["time.sleep(30)", "pass"])
def test_the_output_quota_holds_in_a_container(then: str, engine: str, tmp_path: Path) -> None:
    script = f"""
    import os, time
    written = 0
    try:
        with open("/output/big.bin", "wb") as f:
            for _ in range(24):
                f.write(os.urandom(1 << 20))
                f.flush()
                os.fsync(f.fileno())
                written += 1
    except OSError as error:
        print(f"stopped by {{error.strerror}}", flush=True)
    print(f"wrote {{written}} MiB", flush=True)
    print("arrl: val_loss=0.5", flush=True)
    {then}
    """
    started = time.monotonic()
    result, request = run_script(_runner(engine, memory="512m", output_quota="8m"), tmp_path, script, budget=60)
    assert time.monotonic() - started < 25  # ended at the breach, not at the budget
    assert result.outcome is arrl.Outcome.FAILED
    assert "over its quota of 8 MiB" in result.failure_reason
    assert list(request.output_dir.iterdir()) == []
    assert not (request.log_dir / "output.img").exists()
    assert _leftovers(engine, request.run_id) == []
    log = (request.log_dir / "stdout.log").read_text()
    from arrl.plugins.runners.sized_output import can_mount

    assert result.details["output_quota"] == ("mount" if can_mount() else "runner")
    if result.details["output_quota"] == "mount":  # the sized file system stopped the write itself
        assert "stopped by No space left on device" in log
        assert int(log.split("wrote ")[1].split()[0]) <= 8
    else:
        assert result.details["output_quota"] == "runner"


def test_a_sized_output_keeps_what_the_experiment_wrote(engine: str, tmp_path: Path) -> None:
    script = """
    import os
    os.makedirs("/output/ckpt")
    open("/output/ckpt/model.bin", "wb").write(b"w" * 4096)
    print("arrl: val_loss=0.5", flush=True)
    """
    result, request = run_script(_runner(engine, memory="512m", output_quota="16m"), tmp_path, script)
    assert result.outcome is arrl.Outcome.OK, result.failure_reason
    assert (request.output_dir / "ckpt" / "model.bin").read_bytes() == b"w" * 4096
    assert sorted(p.name for p in request.output_dir.iterdir()) == ["ckpt"]  # no lost+found
    assert not os.path.ismount(request.output_dir) and not (request.log_dir / "output.img").exists()


def test_output_is_data_deep_trees_and_links_included(engine: str, tmp_path: Path) -> None:
    """What a container leaves is moved off its sized mount and read as data: a tree deeper than
    Python's recursion limit comes back whole, and links (to the host's files, once outside the
    container) and pipes are removed before arrl reads anything there."""
    script = """
    import os
    os.chdir("/output")
    os.symlink("/root/.ssh/id_rsa", "key")
    os.mkfifo("pipe")
    for _ in range(1200):
        os.mkdir("d")
        os.chdir("d")
    open("bottom.txt", "w").write("deep")
    print("arrl: val_loss=0.5", flush=True)
    """
    result, request = run_script(_runner(engine, memory="512m", output_quota="64m"), tmp_path, script)
    try:
        assert result.outcome is arrl.Outcome.OK, result.failure_reason
        assert sorted(p.name for p in request.output_dir.iterdir()) == ["d"]
        assert set(result.details["output_removed"].split(", ")) == {"key", "pipe"}
        depth = sum(1 for entry in walk_tree(request.output_dir) if entry.name == "d")
        assert depth == 1200
        assert any(entry.name == "bottom.txt" for entry in walk_tree(request.output_dir))
    finally:
        remove_tree(request.output_dir)  # pytest's own clean-up of old temporary folders recurses
