"""The sandbox, judged by effects: programs composed of attack primitives run through a runner
with no validator in the way, and the world around them must be as it was.

The oracle (tests/sandbox_attacks.py): no canary secret in anything arrl kept, no file outside
the experiment's own folders changed, no connection accepted by the host's listeners, no signal
received by a process of the user's. A control runs the harmless-to-the-machine primitives
with the sandbox off and sees the oracle fire: the checks can fail.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sandbox_attacks import PRIMITIVES, World, close_world, facts, kept_texts, make_world, program

import arrl
from arrl.plugins.runners import sandbox, seccomp
from arrl.plugins.runners.subprocess_runner import SubprocessOptions, SubprocessRunner
from support import git, make_repo, skip_or_fail, tcp_server


class Monitor(arrl.RunMonitor):
    def on_metric(self, point: arrl.MetricPoint) -> bool:
        return True

    def should_abort(self) -> bool:
        return False


@pytest.fixture(scope="module")
def sandboxed() -> SubprocessRunner:
    found = sandbox.probe()
    if not found.available:
        skip_or_fail(f"no sandbox on this machine: {found.reason}")
    return SubprocessRunner(SubprocessOptions(sandbox="on", tmp_size="64m", shm_size="64m", output_quota="64m"))


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    repo = make_repo(tmp_path / "repo", {"train.py": "print('arrl: val_loss=1')\n"})
    runs = repo / ".arrl" / "run1"
    runs.mkdir(parents=True)
    (runs / "journal.jsonl").write_text('{"id": 0}\n')
    git(repo, "worktree", "add", "-q", "--detach", str(runs / "workspace"), "HEAD")
    # Another experiment's output, which this one must not read.
    earlier = runs / "experiments" / "0" / "output"
    earlier.mkdir(parents=True)
    made = make_world(tmp_path, repo, runs)
    (earlier / "model.txt").write_text(made.canaries.setdefault(str(earlier / "model.txt"), "arrl-canary-earlier-output"))
    os.environ["ARRL_TEST_SECRET"] = made.secret  # in arrl's own environment, as a token would be
    try:
        yield made
    finally:
        os.environ.pop("ARRL_TEST_SECRET", None)
        close_world(made)


def attack(runner: arrl.Runner, world: World, names: list[str], experiment: int = 1,
           aims: dict | None = None, extra: dict[str, str] | None = None) -> tuple[arrl.RunResult, Path]:
    """Run a program of ``names`` as experiment ``experiment`` of the world's run."""
    workspace = world.runs / "workspace"
    script = workspace / "train.py"
    script.write_text(program(names, aims or facts(world, workspace), extra))
    folder = world.runs / "experiments" / str(experiment)
    request = arrl.RunRequest(run_id="run1", experiment_id=experiment, script=script, workspace=workspace,
                              workdir=workspace, output_dir=folder / "output", log_dir=folder, budget_seconds=60,
                              seed=0, env={"ARRL_EXPERIMENT_ID": str(experiment),
                                                          "ARRL_OUTPUT_DIR": str(folder / "output")})
    return runner.run(request, Monitor()), folder


def harm(world: World, before: dict[str, str], folder: Path) -> list[str]:
    """Every effect the oracle sees, in words; empty when the world is as it was. The
    workspace's script is the test's own to write (it holds the attack)."""
    found = []
    after = world.snapshot()
    script = str(world.runs / "workspace" / "train.py")
    changed = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k) and k != script)
    if changed:
        found.append(f"changed: {changed}")
    if world.connections:
        found.append(f"connections accepted: {world.connections}")
    if world.signals_received():
        found.append(f"signals received: {world.signals_received()}")
    if world.victim is not None and world.victim.poll() is not None:
        found.append("the victim process died")
    leaked = world.leaked(list(kept_texts(folder)))
    if leaked:
        found.append(f"secrets in what arrl kept: {leaked}")
    if Path("/tmp/pwned").exists():
        found.append("a planted command ran: /tmp/pwned")
    status = subprocess.run(["git", "-C", str(world.runs / "workspace"), "status", "--porcelain"],
                            capture_output=True, text=True)
    if status.returncode != 0:
        found.append(f"the worktree's git is broken: {status.stderr.strip()}")
    return found


def run_and_judge(runner: arrl.Runner, world: World, names: list[str], aims: dict | None = None) -> list[str]:
    before = world.snapshot()
    _, folder = attack(runner, world, names, aims=aims)
    time.sleep(0.2)  # a signal or a connection in flight lands
    # Every primitive ran (done or refused): no harm because nothing ran would prove nothing.
    out = (folder / "stdout.log").read_text()
    finished = names[: names.index("fill_workspace")] if "fill_workspace" in names else names
    assert all(f": {name}" in out for name in finished), out
    return harm(world, before, folder)


@pytest.mark.parametrize("name", sorted(PRIMITIVES))
def test_each_attack_primitive_does_no_harm_in_the_sandbox(name: str, sandboxed: SubprocessRunner,
                                                          world: World) -> None:
    assert run_and_judge(sandboxed, world, [name]) == []


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(names=st.lists(st.sampled_from(sorted(PRIMITIVES)), min_size=2, max_size=5))
def test_composed_attacks_do_no_harm_in_the_sandbox(names: list[str], sandboxed: SubprocessRunner,
                                                   world: World) -> None:
    assert run_and_judge(sandboxed, world, names) == []


def test_without_the_sandbox_the_oracle_sees_the_harm(world: World) -> None:
    """The control: the same oracle, the sandbox off, primitives that cannot hurt the machine
    beyond the test's own world. Each kind of effect is seen."""
    runner = SubprocessRunner(SubprocessOptions(sandbox="off"))
    aims = facts(world, world.runs / "workspace")
    aims["writable_targets"] = [str(world.home / ".bashrc"), str(world.host_tmp / "planted")]
    found = " | ".join(run_and_judge(runner, world, ["read_canaries", "write_outside", "connect_tcp", "connect_unix",
                                                     "connect_abstract", "signal_victim", "proc_environ"], aims))
    assert "changed:" in found and ".bashrc" in found
    assert "connections accepted: " in found and "tcp" in found and "unix" in found and "abstract" in found
    assert "signals received" in found
    assert "secrets in what arrl kept" in found and world.secret in found


def test_the_sandbox_sees_only_its_allow_list(sandboxed: SubprocessRunner, world: World) -> None:
    probe = """
        import os, json
        seen = {p: os.path.exists(p) for p in W["probe_paths"]}
        print("seen:", json.dumps(seen, sort_keys=True))
        print("uid:", os.getuid(), "caps:", open("/proc/self/status").read().split("CapEff:")[1].split()[0])
        print("env:", sorted(os.environ))
    """
    aims = facts(world, world.runs / "workspace")
    aims["probe_paths"] = [str(world.repo / ".git"), str(world.runs / "journal.jsonl"), str(world.home),
                           str(world.host_tmp), "/etc/shadow", "/etc/ssh", "/run", "/var/run/docker.sock",
                           str(world.runs / "workspace" / ".git"), str(world.runs / "workspace" / "train.py"),
                           sys.prefix, "/usr/bin/python3"]
    result, folder = attack(sandboxed, world, ["probe"], aims=aims, extra={"probe": probe})
    out = (folder / "stdout.log").read_text()
    assert result.outcome is arrl.Outcome.OK, out
    seen = json.loads(out.split("seen: ", 1)[1].splitlines()[0])
    visible = {path for path, there in seen.items() if there}
    # The workspace's .git is the stand-in that names the commit (see the test below).
    assert visible == {str(world.runs / "workspace" / "train.py"), str(world.runs / "workspace" / ".git"),
                       sys.prefix, "/usr/bin/python3"}, seen
    assert "caps: 0000000000000000" in out and "uid: 65534" in out
    env = out.split("env: ", 1)[1].splitlines()[0]
    assert "ARRL_TEST_SECRET" not in env and "ARRL_EXPERIMENT_ID" in env
    assert result.details["sandbox"] == "bwrap" and result.details["network"] == "none"


def test_the_seccomp_filter_denies_what_it_lists(sandboxed: SubprocessRunner, world: World) -> None:
    if not seccomp.supported():
        skip_or_fail(f"no seccomp filter for {seccomp.machine()}")
    calls = """
        import ctypes, errno, fcntl, termios
        libc = ctypes.CDLL(None, use_errno=True)
        def errno_of(result):
            return ctypes.get_errno() if result == -1 else 0
        print("keyctl:", errno_of(libc.syscall(250 if W["arch"] == "x86_64" else 219, 0, 0, 0, 0, 0)))
        print("bpf:", errno_of(libc.syscall(321 if W["arch"] == "x86_64" else 280, 0, 0, 0)))
        print("getpid:", errno_of(libc.getpid()))
        try:
            fcntl.ioctl(0, termios.TIOCSTI, b"x")
            print("tiocsti: 0")
        except OSError as error:
            print("tiocsti:", error.errno)
    """
    aims = facts(world, world.runs / "workspace")
    aims["arch"] = seccomp.machine()
    _, folder = attack(sandboxed, world, ["calls"], aims=aims, extra={"calls": calls})
    out = (folder / "stdout.log").read_text()
    assert "keyctl: 1\n" in out and "bpf: 1\n" in out, out  # EPERM, from the filter
    assert "getpid: 0\n" in out and "tiocsti: 1\n" in out, out


def test_an_experiment_leaves_no_workspace_behind_and_keeps_its_output(sandboxed: SubprocessRunner,
                                                                      world: World) -> None:
    writes = """
        import os, pathlib
        pathlib.Path("leftover.txt").write_text("next to the script")
        out = pathlib.Path(os.environ["ARRL_OUTPUT_DIR"])
        (out / "model.txt").write_text("weights")
        os.symlink("/etc/passwd", out / "link")
        os.mkfifo(out / "fifo")
    """
    result, folder = attack(sandboxed, world, ["writes"], extra={"writes": writes})
    assert not (world.runs / "workspace" / "leftover.txt").exists()
    assert (folder / "output" / "model.txt").read_text() == "weights"
    assert not os.path.lexists(folder / "output" / "link") and not os.path.lexists(folder / "output" / "fifo")
    assert set(result.details["output_removed"].split(", ")) == {"fifo", "link"}
    leftovers = [p for p in Path("/tmp").glob("arrl-sandbox-run1-1-*")]
    assert leftovers == []


def test_a_continued_run_removes_the_sandbox_copies_a_killed_arrl_left(sandboxed: SubprocessRunner) -> None:
    """SIGKILL gives arrl no chance to remove an experiment's sandbox copy: the run's next start
    (cleanup_stale, under the run's lock) does, and leaves other runs' copies alone."""
    mine = Path(tempfile.mkdtemp(prefix="arrl-sandbox-killedrun-3-"))
    (mine / "workspace" / "deep").mkdir(parents=True)
    (mine / "workspace" / "deep" / "train.py").write_text("x = 1\n")
    (mine / "workspace" / "deep").chmod(0o500)  # as an experiment may leave it
    other = Path(tempfile.mkdtemp(prefix="arrl-sandbox-otherrun-3-"))
    try:
        sandboxed.cleanup_stale("killedrun")
        assert not mine.exists()
        assert other.exists()
    finally:
        shutil.rmtree(other, ignore_errors=True)


DROP_AND_RUN = """
    import os, stat, subprocess
    out = os.environ["ARRL_OUTPUT_DIR"]
    for where, folder in (("tmp", "/tmp"), ("shm", "/dev/shm"), ("workspace", os.getcwd()), ("output", out)):
        program = os.path.join(folder, "dropped.sh")
        with open(program, "w") as handle:
            handle.write(f"#!/bin/sh\\necho ran > {out}/ran-{where}\\n")
        os.chmod(program, 0o755)
        try:
            subprocess.run([program], check=False)
        except OSError as error:
            print("refused:", where, type(error).__name__)
    subprocess.run(["/bin/sh", "-c", f"echo ran > {out}/ran-system-shell"], check=True)
"""


def test_a_program_an_experiment_writes_cannot_be_executed(sandboxed: SubprocessRunner, world: World) -> None:
    """Landlock: what an experiment writes (in /tmp, /dev/shm, its workspace, its output) is never
    executed, while the system's programs are; with Landlock off (the control) the same dropped
    programs run, so the check can fail."""
    from arrl.plugins.runners import landlock

    if landlock.abi() == 0:
        skip_or_fail("this kernel has no Landlock")
    result, folder = attack(sandboxed, world, ["drop_and_run"], extra={"drop_and_run": DROP_AND_RUN})
    ran = sorted(p.name for p in (folder / "output").glob("ran-*"))
    assert ran == ["ran-system-shell"], (ran, (folder / "stdout.log").read_text()[-2000:] if (folder / "stdout.log").exists() else "")
    assert result.details["landlock"].startswith("on (ABI ")
    control = SubprocessRunner(SubprocessOptions(sandbox="on", landlock="off", tmp_size="64m", shm_size="64m",
                                                 output_quota="64m"))
    result, folder = attack(control, world, ["drop_and_run"], experiment=2, extra={"drop_and_run": DROP_AND_RUN})
    ran = sorted(p.name for p in (folder / "output").glob("ran-*"))
    assert ran == ["ran-output", "ran-shm", "ran-system-shell", "ran-tmp", "ran-workspace"], ran
    assert result.details["landlock"] == 'off (runner option landlock = "off")'


def test_filling_the_workspace_ends_the_experiment(sandboxed: SubprocessRunner, world: World) -> None:
    result, _ = attack(sandboxed, world, ["fill_workspace"])
    assert result.outcome is arrl.Outcome.FAILED
    assert "the experiment's workspace" in result.failure_reason and "quota of 64 MiB" in result.failure_reason
    assert not list(Path("/tmp").glob("arrl-sandbox-run1-1-*"))


def test_gpu_nodes_follow_the_lane(tmp_path: Path) -> None:
    """A lane's CUDA_VISIBLE_DEVICES binds its GPUs' nodes only, so unsetting it inside reaches no
    other lane's GPU; empty binds none; unset (one lane) binds every GPU, as an unsandboxed script
    sees them. (Not checked on a GPU: this machine has none.)"""
    assert sandbox.gpu_nodes("") == []
    assert sandbox.gpu_nodes(None) == sandbox.gpu_nodes(",".join(str(i) for i in range(len(sandbox._cuda_minors()))))


def test_an_unknown_size_is_a_config_error() -> None:
    with pytest.raises(ValueError, match="tmp_size: expected a size"):
        SubprocessOptions(tmp_size="lots")


def test_sandbox_on_refuses_where_it_cannot_sandbox(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sandbox, "probe", lambda: sandbox.Probe(False, reason="no bwrap here"))
    with pytest.raises(arrl.ConfigError, match="no bwrap here"):
        SubprocessRunner(SubprocessOptions(sandbox="on"))
    auto = SubprocessRunner(SubprocessOptions(sandbox="auto"))
    assert not auto.isolation().isolated and auto.isolation().reason == "no bwrap here"
    off = SubprocessRunner(SubprocessOptions(sandbox="off"))
    assert off.isolation().chosen


class _CodeWriter(arrl.Proposer):
    """A proposer of free-form code, as a language-model proposer is (writes_code is the default)."""

    def propose(self, observation: arrl.Observation) -> arrl.Proposal:
        return arrl.Proposal(observation.script + "\nprint('new code')\n")


class _KnobMover(_CodeWriter):
    writes_code = False


def test_code_a_proposer_writes_is_refused_without_a_sandbox(monkeypatch: pytest.MonkeyPatch,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    from arrl.run.components import check_isolation

    monkeypatch.setattr(sandbox, "probe", lambda: sandbox.Probe(False, reason="bwrap cannot create its namespaces"))
    cannot = SubprocessRunner(SubprocessOptions(sandbox="auto"))
    with pytest.raises(arrl.ConfigError, match="writes code, which arrl runs only in a sandbox.*runner.sandbox=off"):
        check_isolation("llm", _CodeWriter(), cannot)
    check_isolation("ppo", _KnobMover(), cannot)  # knob moves run, with a warning that names the cause
    assert "experiments run without a sandbox (bwrap cannot create its namespaces)" in capsys.readouterr().err
    check_isolation("llm", _CodeWriter(), SubprocessRunner(SubprocessOptions(sandbox="off")))
    assert "writes code and it runs unsandboxed" in capsys.readouterr().err


def test_with_a_sandbox_every_proposer_runs_without_a_warning(sandboxed: SubprocessRunner,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    from arrl.run.components import check_isolation

    check_isolation("llm", _CodeWriter(), sandboxed)
    check_isolation("ppo", _KnobMover(), sandboxed)
    assert capsys.readouterr().err == ""


def test_the_shipped_knob_proposers_say_they_write_no_code() -> None:
    from arrl.plugins.ppo.proposer import PPOProposer
    from arrl.plugins.proposers.grid_proposer import GridProposer
    from arrl.plugins.proposers.random_proposer import RandomProposer

    assert not any(cls.writes_code for cls in (PPOProposer, GridProposer, RandomProposer))
    assert _CodeWriter.writes_code  # a plugin that says nothing writes code


def test_the_validators_resolver_imports_a_library_inside_the_sandbox(sandboxed: SubprocessRunner, tmp_path: Path,
                                                                      world: World,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """A library's import runs its code; the resolver imports the libraries a proposal names.
    One that writes, connects and reads secrets on import finds only the sandbox."""
    from arrl.plugins.validator.name_resolver import NameResolver

    library = tmp_path / "site"
    library.mkdir()
    (library / "evilib.py").write_text(
        "import os, socket\n"
        f"try:\n    open({str(world.home / '.bashrc')!r}, 'a').write('owned')\nexcept OSError:\n    pass\n"
        f"try:\n    socket.create_connection(('127.0.0.1', {world.tcp_port}), timeout=1)\nexcept OSError:\n    pass\n"
        f"try:\n    LEAK = open({str(world.home / '.ssh' / 'id_rsa')!r}).read()\nexcept OSError:\n    LEAK = ''\n"
        "def loaded():\n    pass\n")
    monkeypatch.setenv("PYTHONPATH", str(library))
    before = world.snapshot()
    resolver = NameResolver(sys.executable, 60)
    try:
        found = resolver.resolve("evilib", ("loaded",))
    finally:
        NameResolver.close_all()
    assert not found.error, found  # it was imported, and its function found
    time.sleep(0.2)
    assert world.snapshot() == before and world.connections == []


def test_the_workspace_names_its_commit_and_holds_nothing_of_the_repository(sandboxed, world: World) -> None:
    """Scripts log the version they ran (`git rev-parse HEAD`): the copy's stand-in `.git`
    answers that, and holds none of the repository's objects, config or hooks."""
    probe = """
        import os, subprocess
        print("head:", subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip())
        print("holds:", sorted(os.listdir(".git")), sorted(os.listdir(".git/objects")))
        print("log:", subprocess.run(["git", "log", "-1"], capture_output=True, text=True).returncode)
    """
    before = world.snapshot()
    result, folder = attack(sandboxed, world, ["probe"], extra={"probe": probe})
    out = (folder / "stdout.log").read_text()
    assert result.outcome is arrl.Outcome.OK, out
    commit = git(world.runs / "workspace", "rev-parse", "HEAD").strip()
    assert f"head: {commit}" in out
    assert "holds: ['HEAD', 'config', 'objects', 'refs'] []" in out
    assert "log: 128" in out  # no objects: the history stays with the user
    assert harm(world, before, folder) == []



def test_the_record_says_whether_the_limits_held(sandboxed, world: World) -> None:
    """As root the memory and task limits are held by a cgroup; as a user on a machine that
    delegates none, the record says they were not, and why (this test runs as both in CI)."""
    from arrl.plugins.runners.containment import cgroup2_base

    result, _ = attack(sandboxed, world, [])
    assert result.outcome is arrl.Outcome.OK, result.failure_reason
    for key in ("memory_limit", "pids_limit"):
        if os.geteuid() == 0:
            assert "held (cgroup v" in result.details[key], result.details
        elif cgroup2_base() is None:
            assert "not held: no cgroup arrl may write" in result.details[key], result.details




def test_a_folder_declared_in_the_home_is_where_the_script_looks(tmp_path: Path, monkeypatch) -> None:
    """`read_paths = ["~/datasets"]`: the script finds it as `Path.home() / "datasets"` too (the
    sandbox's home is its own), read-only, and nothing else of the home."""
    if not sandbox.probe().available:
        skip_or_fail(f"no sandbox on this machine: {sandbox.probe().reason}")
    home = tmp_path / "home"
    (home / "datasets").mkdir(parents=True)
    (home / "datasets" / "corpus.txt").write_text("tokens\n")
    (home / ".netrc").write_text("machine example.com password hunter2\n")
    monkeypatch.setenv("HOME", str(home))
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    (workspace / "train.py").write_text(
        "from pathlib import Path\n"
        "print('read:', (Path.home() / 'datasets' / 'corpus.txt').read_text().strip(), flush=True)\n"
        "print('netrc:', (Path.home() / '.netrc').exists(), flush=True)\n"
        "try:\n    (Path.home() / 'datasets' / 'new').write_text('x')\n    print('wrote', flush=True)\n"
        "except OSError as error:\n    print('refused', error.errno, flush=True)\n"
        "print('arrl: val_loss=1', flush=True)\n")
    folder = tmp_path / "experiment"
    request = arrl.RunRequest(run_id="home", experiment_id=1, script=workspace / "train.py", workspace=workspace,
                              workdir=workspace, output_dir=folder / "output", log_dir=folder, budget_seconds=60,
                              seed=0, env={})
    result = SubprocessRunner(SubprocessOptions(sandbox="on", read_paths=("~/datasets",))).run(request, Monitor())
    out = (folder / "stdout.log").read_text()
    assert result.outcome is arrl.Outcome.OK, (result.failure_reason, out)
    assert "read: tokens" in out and "netrc: False" in out and "refused 30" in out, out
    assert not (home / "datasets" / "new").exists()



HIDER = """
import os
out = os.environ["ARRL_OUTPUT_DIR"]
os.makedirs(os.path.join(out, "x"))
with open(os.path.join(out, "x", "big.bin"), "wb") as handle:
    handle.write(os.urandom({mib} << 20))
os.symlink("/etc/passwd", os.path.join(out, "x", "link"))
os.chmod(os.path.join(out, "x"), 0)
os.chmod(out, 0)
print("arrl: val_loss=1", flush=True)
"""


@pytest.mark.parametrize("mib", [1, 12])
def test_an_output_made_unreadable_is_still_counted_and_scrubbed(mib: int, tmp_path: Path) -> None:
    """The output folder is the experiment's uid's inside the sandbox: it may take away its
    own rights to it. arrl, the same uid outside, gives them back before it counts, scrubs or
    removes (as root this holds trivially; the unprivileged pass is the real test)."""
    if not sandbox.probe().available:
        skip_or_fail(f"no sandbox on this machine: {sandbox.probe().reason}")
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    (workspace / "train.py").write_text(HIDER.format(mib=mib))
    folder = tmp_path / "experiment"
    request = arrl.RunRequest(run_id="hide", experiment_id=1, script=workspace / "train.py", workspace=workspace,
                              workdir=workspace, output_dir=folder / "output", log_dir=folder, budget_seconds=60,
                              seed=0, env={"ARRL_OUTPUT_DIR": str(folder / "output")})
    result = SubprocessRunner(SubprocessOptions(sandbox="on", output_quota="8m")).run(request, Monitor())
    if mib > 8:
        assert result.outcome is arrl.Outcome.FAILED and "over its quota of 8 MiB" in result.failure_reason
        assert list((folder / "output").iterdir()) == []
    else:
        assert result.outcome is arrl.Outcome.OK, result.failure_reason
        assert result.details["output_removed"] == "x/link"
        assert (folder / "output" / "x" / "big.bin").stat().st_size == 1 << 20


# -- network egress --------------------------------------------------------------------------------
PUBLIC = "44.0.0.1"  # a public address, routed to a namespace of the test's own for its duration
SERVE = """
import socket, sys
server = socket.socket()
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind((sys.argv[1], int(sys.argv[2])))
server.listen()
while True:
    connection, peer = server.accept()
    connection.sendall(b"hello")
    connection.close()
    print("accepted", peer[0], flush=True)
"""
PROBE_NETWORK = """
import json, os, socket
seen = {}
for name, address, port in json.loads(os.environ["ARRL_TEST_TARGETS"]):
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    try:
        with socket.socket(family) as s:
            s.settimeout(3)
            s.connect((address, port))
            seen[name] = s.recv(5).decode() or "connected"
    except OSError as error:
        seen[name] = type(error).__name__
print("seen:", json.dumps(seen, sort_keys=True), flush=True)
print("arrl: val_loss=1", flush=True)
"""


@pytest.fixture
def internet(tmp_path: Path) -> Iterator[Path | None]:
    """A server at a public address that is not this machine's: in a network namespace of its
    own behind a veth pair, with a host route to it (root only; None otherwise). Yields the
    server's log of accepted peers."""
    if os.geteuid() != 0:
        yield None
        return
    holder = subprocess.Popen(["unshare", "--net", "sleep", "600"])
    veth = f"arrlt{uuid.uuid4().hex[:8]}"
    log = tmp_path / "served.log"
    server = None
    try:
        deadline = time.monotonic() + 5
        while os.readlink(f"/proc/{holder.pid}/ns/net") == os.readlink("/proc/self/ns/net"):
            assert time.monotonic() < deadline, "unshare did not make a network namespace"
            time.sleep(0.01)
        inside = ["nsenter", "-t", str(holder.pid), "-n"]
        for step in (["ip", "link", "add", veth, "type", "veth", "peer", "name", "inner", "netns", str(holder.pid)],
                     ["ip", "link", "set", veth, "up"], ["ip", "route", "replace", f"{PUBLIC}/32", "dev", veth],
                     [*inside, "ip", "addr", "add", f"{PUBLIC}/32", "dev", "inner"],
                     [*inside, "ip", "link", "set", "inner", "up"], [*inside, "ip", "link", "set", "lo", "up"],
                     [*inside, "ip", "route", "add", "default", "dev", "inner"]):
            subprocess.run(step, check=True, capture_output=True)
        with log.open("w") as handle:
            server = subprocess.Popen([*inside, sys.executable, "-c", SERVE, PUBLIC, "8080"], stdout=handle)
        deadline = time.monotonic() + 10
        while True:  # until it answers
            try:
                socket.create_connection((PUBLIC, 8080), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "the test's internet server did not start"
                time.sleep(0.05)
        while "accepted" not in log.read_text():
            time.sleep(0.01)
        log.write_text("")
        yield log
    finally:
        # The host's end first: a namespace is torn down after its last process, a moment later,
        # and its route would still be there for the next test.
        subprocess.run(["ip", "link", "del", veth], capture_output=True)
        for process in (server, holder):
            if process is not None:
                process.kill()
                process.wait()


@pytest.fixture
def host_listener() -> Iterator[tuple[int, list[str]]]:
    """A TCP server on every address of the host (as redis or MLflow bound to 0.0.0.0 would be):
    the port, and the peers it accepted."""
    with tcp_server("0.0.0.0") as served:
        yield served


@pytest.mark.parametrize("network", ["egress", "none"])
def test_egress_reaches_the_internet_and_nothing_of_the_machine(network: str, tmp_path: Path, internet,
                                                               host_listener) -> None:
    """With network = "egress" a sandboxed script reaches a public address -- and not the
    host's loopback, the host's own addresses (where a server bound to 0.0.0.0 answers), the
    slirp gateway, a cloud's metadata address, private ranges or IPv6. With "none", nothing."""
    if not sandbox.probe().available:
        skip_or_fail(f"no sandbox on this machine: {sandbox.probe().reason}")
    port, accepted = host_listener
    host_ip = _host_address()
    targets = [("public", PUBLIC, 8080), ("loopback", "127.0.0.1", port), ("host", host_ip, port),
               ("gateway", "10.0.2.2", port), ("metadata", "169.254.169.254", 80), ("private", "192.168.1.1", 80),
               ("ipv6 loopback", "::1", port)]
    runner = SubprocessRunner(SubprocessOptions(sandbox="on", network=network))
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    (workspace / "train.py").write_text(PROBE_NETWORK)
    folder = tmp_path / "experiment"
    request = arrl.RunRequest(run_id="net", experiment_id=1, script=workspace / "train.py", workspace=workspace,
                              workdir=workspace, output_dir=folder / "output", log_dir=folder, budget_seconds=60,
                              seed=0, env={"ARRL_TEST_TARGETS": json.dumps(targets)})
    result = runner.run(request, Monitor())
    out = (folder / "stdout.log").read_text()
    assert result.outcome is arrl.Outcome.OK, (result.failure_reason, out)
    seen = json.loads(out.split("seen: ", 1)[1].splitlines()[0])
    assert accepted == []  # nothing reached the host
    assert all(seen[name] != "hello" and seen[name] != "connected" for name in seen if name != "public"), seen
    if network == "egress":
        assert result.details["network"].startswith("egress")
        if internet is not None:  # as root: the positive control
            assert seen["public"] == "hello" and "accepted" in internet.read_text(), seen
    else:
        assert result.details["network"] == "none" and seen["public"] != "hello"


def _host_address() -> str:
    from arrl.plugins.runners.network import host_addresses

    found = [a for a in host_addresses() if not a.startswith("127.")]
    assert found, "this machine has no address but its loopback"
    return found[0]



# -- the container runners, against the same attacks ------------------------------------------
from test_containers import _runner, engine  # noqa: E402, F401 - the engine fixture builds their images


@pytest.mark.parametrize("name", sorted(PRIMITIVES))
def test_each_attack_primitive_does_no_harm_in_a_container(name: str, engine: str, world: World) -> None:  # noqa: F811
    runner = _runner(engine, memory="512m", output_quota="64m", shm_size="64m")
    try:
        assert run_and_judge(runner, world, [name]) == []
    finally:
        runner.close()


SHM = """
    import os
    stats = os.statvfs("/dev/shm")
    print("shm MiB:", stats.f_blocks * stats.f_frsize >> 20)
"""


def test_a_container_gets_its_sized_shm(engine: str, world: World) -> None:  # noqa: F811
    runner = _runner(engine, memory="512m", shm_size="96m")
    try:
        _, folder = attack(runner, world, ["shm"], extra={"shm": SHM})
    finally:
        runner.close()
    assert "shm MiB: 96" in (folder / "stdout.log").read_text()


HANGER = """
    import os, signal, time
    if os.fork() == 0:
        os.setsid()
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        while True:
            time.sleep(0.1)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    print("arrl: step=0 val_loss=1.0", flush=True)
    while True:
        time.sleep(0.1)
"""


@pytest.mark.timing
def test_a_sandboxed_script_and_its_setsid_child_end_at_the_budget(sandboxed: SubprocessRunner, world: World) -> None:
    from arrl.plugins.runners.subprocess_runner import processes_with_token

    workspace = world.runs / "workspace"
    (workspace / "train.py").write_text(program(["hang"], facts(world, workspace), {"hang": HANGER}))
    folder = world.runs / "experiments" / "1"
    request = arrl.RunRequest(run_id="run1", experiment_id=1, script=workspace / "train.py", workspace=workspace,
                              workdir=workspace, output_dir=folder / "output", log_dir=folder, budget_seconds=2,
                              seed=0, env={"ARRL_OUTPUT_DIR": str(folder / "output")})
    result = sandboxed.run(request, Monitor())
    assert result.outcome is arrl.Outcome.TIMED_OUT
    assert 2.0 <= result.wall_clock_seconds <= 3.0  # the budget plus the tolerance of every runner
    assert processes_with_token("arrl-run1-1-") == []
