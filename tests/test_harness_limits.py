"""The subprocess runner against scripts that fight the harness: a budget that holds whatever the
script does to its reaper, pipes or environment, on both containment paths; and output limits
that keep arrl's own memory and disk bounded. Real processes throughout; no torch needed."""

from __future__ import annotations

import os
import textwrap
import threading
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import arrl
from arrl.plugins.runners.containment import cgroup2_base
from arrl.plugins.runners.subprocess_runner import SubprocessOptions, SubprocessRunner
from support import skip_or_fail

CONTAINMENTS = ("cgroup", "subreaper")


class Monitor(arrl.RunMonitor):
    def __init__(self) -> None:
        self.points: list[arrl.MetricPoint] = []

    def on_metric(self, point: arrl.MetricPoint) -> bool:
        self.points.append(point)
        return True

    def should_abort(self) -> bool:
        return False


def _request(tmp_path: Path, script: str, budget: float, experiment_id: int = 1) -> arrl.RunRequest:
    workspace = tmp_path / "workspace"
    workspace.mkdir(parents=True, exist_ok=True)
    (workspace / "train.py").write_text(textwrap.dedent(script).lstrip())
    experiment = tmp_path / "experiments" / str(experiment_id)
    experiment.mkdir(parents=True, exist_ok=True)
    return arrl.RunRequest(
        run_id="limits-test", experiment_id=experiment_id, script=workspace / "train.py", workspace=workspace,
        workdir=workspace, output_dir=experiment / "output", log_dir=experiment, budget_seconds=budget,
        seed=0, env={"ARRL_OUTPUT_DIR": str(experiment / "output")})


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.fixture(params=CONTAINMENTS)
def containment(request) -> str:
    if request.param == "cgroup" and cgroup2_base() is None:
        skip_or_fail("no writable cgroup v2 hierarchy on this machine")
    return request.param


# The daemon: a new session, an empty environment (so no arrl token), the output pipes still
# open; then the script SIGKILLs the reaper that watches it and carries on.
REAPER_KILLER = """
import os, signal, sys, time
out = os.environ["ARRL_OUTPUT_DIR"]
os.makedirs(out, exist_ok=True)
daemon = "import os, sys, time\\nopen(sys.argv[1], 'w').write(str(os.getpid()))\\nwhile True: time.sleep(1)"
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        os.execve(sys.executable, [sys.executable, "-c", daemon, os.path.join(out, "daemon.pid")], {{}})
    os._exit(0)
while not os.path.exists(os.path.join(out, "daemon.pid")):
    time.sleep(0.05)
print("arrl: val_loss=1.5", flush=True)
open(os.path.join(out, "script.pid"), "w").write(str(os.getpid()))
{after}
"""


@pytest.mark.timing
@pytest.mark.parametrize("after", [
    "os.kill(os.getppid(), signal.SIGKILL)\ntime.sleep(1000)",           # kills the reaper, hangs on
    "os.kill(os.getppid(), signal.SIGKILL)",                              # kills the reaper, exits
    "signal.signal(signal.SIGTERM, signal.SIG_IGN)\ntime.sleep(1000)",    # reaper alive: budget ends it
])
def test_a_script_cannot_outlive_its_budget(after: str, containment: str, tmp_path: Path) -> None:
    budget = 6.0
    request = _request(tmp_path, REAPER_KILLER.format(after=after), budget)
    # The containment beneath the sandbox, on its own: a sandboxed script cannot even see its
    # reaper (its own process namespace), so these attacks on it need the sandbox off.
    runner = SubprocessRunner(SubprocessOptions(containment=containment, sandbox="off"))
    started = time.monotonic()
    result = runner.run(request, Monitor())
    elapsed = time.monotonic() - started
    assert elapsed <= budget + 5, f"the experiment took {elapsed:.1f} s on a {budget:g} s budget"
    assert result.details["containment"] == containment
    # The record's wall clock is what the experiment took, not when its first process ended.
    assert abs(result.wall_clock_seconds - elapsed) < 1.0, (result.wall_clock_seconds, elapsed)
    time.sleep(0.2)  # let the daemon finish writing its pid
    pids = [int((request.output_dir / f"{who}.pid").read_text()) for who in ("script", "daemon")]
    deadline = time.monotonic() + 2
    while any(_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [p for p in pids if _alive(p)] == [], "a process of the experiment outlived it"
    if "SIG_IGN" in after:
        assert result.outcome is arrl.Outcome.TIMED_OUT
        assert result.wall_clock_seconds >= budget
    else:
        assert result.outcome is arrl.Outcome.FAILED
        assert "killed arrl's reaper" in result.failure_reason


# --- output limits --------------------------------------------------------------------------

def test_a_log_keeps_its_head_and_tail(tmp_path: Path) -> None:
    script = """
    import sys
    for i in range(5000):
        print(f"line {i:05d} " + "x" * 200)
    print("arrl: val_loss=0.5")
    print("last words", file=sys.stderr)
    """
    runner = SubprocessRunner(SubprocessOptions(max_log_size="64k"))
    result = runner.run(_request(tmp_path, script, 60), Monitor())
    assert result.outcome is arrl.Outcome.OK and [p.value for p in result.metrics] == [0.5]
    log = Path(result.stdout_path).read_bytes()
    assert len(log) <= 64 * 1024 + 200
    assert log.startswith(b"line 00000 ") and log.rstrip().endswith(b"arrl: val_loss=0.5")
    assert b"bytes left out here" in log and b"line 02500 " not in log
    assert Path(result.stderr_path).read_text() == "last words\n"


@pytest.mark.slow
def test_a_giant_line_is_read_in_bounded_memory(tmp_path: Path) -> None:
    # 1 GiB with no newline, then a metric line: the metric still counts, the log stays capped,
    # and this process (the runner) never holds the line.
    script = """
    import os
    chunk = b"y" * (1 << 20)
    for _ in range(1024):
        os.write(1, chunk)
    os.write(1, b"\\narrl: val_loss=0.25\\narrl: val_loss=" + b"9" * (2 << 20) + b"\\n")
    """
    rss = _RssWatch()
    with rss:
        result = SubprocessRunner().run(_request(tmp_path, script, 300), Monitor())
    assert result.outcome is arrl.Outcome.OK, result.failure_reason
    assert [p.value for p in result.metrics] == [0.25]  # the over-long metric line is not read
    assert "longer than" in result.details["metric_errors"]
    assert os.path.getsize(result.stdout_path) <= 10 * (1 << 20) + 200
    assert rss.growth < 64 << 20, f"arrl's resident memory grew by {rss.growth >> 20} MiB"


class _RssWatch:
    """The peak growth of this process's resident memory while the block runs."""

    def __enter__(self) -> _RssWatch:
        self.base = self.peak = _rss()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()
        return self

    def _sample(self) -> None:
        while not self.stop.is_set():
            self.peak = max(self.peak, _rss())
            time.sleep(0.01)

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        self.thread.join()
        self.peak = max(self.peak, _rss())

    @property
    def growth(self) -> int:
        return self.peak - self.base


def _rss() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


@pytest.mark.parametrize("then", ["time.sleep(30)", "pass"])
def test_the_output_quota_fails_the_experiment(then: str, tmp_path: Path) -> None:
    script = f"""
    import os, time
    out = os.environ["ARRL_OUTPUT_DIR"]
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "big.bin"), "wb") as f:
        for _ in range(24):
            f.write(os.urandom(1 << 20))
            f.flush()
    print("arrl: val_loss=0.5", flush=True)
    {then}
    """
    started = time.monotonic()
    result = SubprocessRunner(SubprocessOptions(output_quota="8m")).run(_request(tmp_path, script, 60), Monitor())
    assert time.monotonic() - started < 20  # ended at the breach, not at the budget
    assert result.outcome is arrl.Outcome.FAILED
    assert "over its quota of 8 MiB" in result.failure_reason and "output_quota" in result.failure_reason
    request_output = Path(result.stdout_path).parent / "output"
    assert list(request_output.iterdir()) == []  # the over-quota output is not kept


def test_the_quota_counts_disk_used_not_apparent_size(tmp_path: Path) -> None:
    script = """
    import os
    out = os.environ["ARRL_OUTPUT_DIR"]
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "sparse.bin"), "wb") as f:
        f.truncate(100 << 30)
    with open(os.path.join(out, "real.bin"), "wb") as f:
        f.write(os.urandom(1 << 20))
    print("arrl: val_loss=0.5", flush=True)
    """
    result = SubprocessRunner(SubprocessOptions(output_quota="8m")).run(_request(tmp_path, script, 60), Monitor())
    assert result.outcome is arrl.Outcome.OK, result.failure_reason
    assert (Path(result.stdout_path).parent / "output" / "real.bin").stat().st_size == 1 << 20


@pytest.mark.parametrize("value", ["0", "12 parsecs", "-1m", "100"])
def test_bad_limits_are_refused(value: str) -> None:
    from arrl.errors import ConfigError
    from arrl.manager import Registry, build_options, plugin_manager

    registration = Registry(plugin_manager()).get("runner", "subprocess")
    with pytest.raises(ConfigError, match="max_log_size"):
        build_options(registration, {"max_log_size": value})


@pytest.mark.timing
def test_arrl_run_is_not_hung_by_a_reaper_killing_daemon(containment: str, tmp_path: Path, arrl_env) -> None:
    from support import make_repo, records, run_arrl, run_dir

    budget = 20
    script = "LEARNING_RATE = 0.01\n" + REAPER_KILLER.format(after="os.kill(os.getppid(), signal.SIGKILL)\n"
                                                                    "time.sleep(1000)")
    repo = make_repo(tmp_path / "project", {"train.py": script},
                     f'script = "train.py"\nbudget = {budget}\n[plugins]\nproposer = "random"\n'
                     f'[options.runner]\ncontainment = "{containment}"\nsandbox = "off"\n')  # as above
    started = time.monotonic()
    result = run_arrl("run", "--max-experiments", "1", cwd=repo, env=arrl_env, timeout=budget + 60)
    elapsed = time.monotonic() - started
    assert result.returncode == 1 and "killed arrl's reaper" in result.stderr, result.output
    (record,) = records(repo)
    assert record["outcome"] == "failed" and record["wall_clock_seconds"] <= budget + 5
    assert record["details"]["containment"] == containment
    assert elapsed <= budget + 5 + 10, f"arrl took {elapsed:.1f} s"  # + start-up, which imports no torch
    output = run_dir(repo) / "experiments/0/output"
    pids = [int((output / f"{who}.pid").read_text()) for who in ("script", "daemon")]
    assert [p for p in pids if _alive(p)] == []


@given(data=st.binary(max_size=400), cuts=st.lists(st.integers(0, 400), max_size=8),
       limit=st.integers(1, 40))
def test_lines_split_anywhere_come_out_whole_and_bounded(data: bytes, cuts: list[int], limit: int) -> None:
    from arrl.output import LineSplitter

    bounds = sorted({0, len(data), *(c for c in cuts if c <= len(data))})
    splitter = LineSplitter(limit)
    lines = [out for a, b in zip(bounds, bounds[1:]) for out in splitter.feed(data[a:b])]
    lines += list(splitter.finish())
    expected = data.splitlines(keepends=True) if b"\r" not in data else None
    if expected is not None:
        assert [line for line, _ in lines] == [e[:limit] for e in expected]
        assert [cut for _, cut in lines] == [len(e) > limit for e in expected]


@given(chunks=st.lists(st.binary(min_size=1, max_size=300), max_size=30), limit=st.integers(4096, 5000))
@settings(max_examples=30)
def test_a_capped_log_keeps_exactly_its_head_and_tail(chunks: list[bytes], limit: int, tmp_path_factory) -> None:
    from arrl.output import CappedLog

    path = tmp_path_factory.mktemp("log") / "stdout.log"
    log = CappedLog(path, limit, [])
    for chunk in chunks:
        log.write(chunk)
    log.close()
    data, kept = b"".join(chunks), path.read_bytes()
    head, tail = limit // 2, limit - limit // 2
    if len(data) <= limit:
        assert kept == data
    else:
        assert kept.startswith(data[:head]) and kept.endswith(data[-tail:])
        assert f"[arrl: {len(data) - limit} bytes left out here".encode() in kept


def _deep_tree(top: Path, depth: int) -> Path:
    """A tree ``depth`` folders deep below ``top``, made by descriptors (its paths pass PATH_MAX)."""
    top.mkdir()
    folder = os.open(top, os.O_RDONLY | os.O_DIRECTORY)
    for _ in range(depth):
        os.mkdir("dd", dir_fd=folder)
        inner = os.open("dd", os.O_RDONLY | os.O_DIRECTORY, dir_fd=folder)
        os.close(folder)
        folder = inner
    with open(os.open("bottom.bin", os.O_WRONLY | os.O_CREAT, dir_fd=folder), "wb") as handle:
        handle.write(b"x" * 65536)
    os.symlink("/etc/passwd", "link", dir_fd=folder)
    os.mkfifo("pipe", dir_fd=folder)
    os.close(folder)
    return top


def test_trees_of_any_depth_are_walked_scrubbed_and_removed(tmp_path: Path) -> None:
    """An experiment decides the shape of what it leaves: 3000 folders (paths of 9000
    characters) must not end arrl with a RecursionError or hide bytes from its quota."""
    from arrl.output import disk_usage, remove_tree, scrub_tree, walk_tree

    top = _deep_tree(tmp_path / "out", 3000)
    entries = list(walk_tree(top))
    assert sum(1 for e in entries if e.name == "dd") == 3000 and len(entries) == 3003
    assert disk_usage(top) >= 65536 + 3000 * 4096
    removed = scrub_tree(top)
    assert sorted(path.rsplit("/", 1)[1] for path in removed) == ["link", "pipe"]
    assert len(removed[0]) > 4096  # the relative path, past PATH_MAX
    assert {e.name for e in walk_tree(top)} == {"dd", "bottom.bin"}
    remove_tree(top)
    assert not top.exists()
    remove_tree(top)  # gone already: nothing to do, no error


def test_a_walk_stops_when_the_tree_is_moved_under_it(tmp_path: Path) -> None:
    from arrl.output import TreeChanged, walk_tree

    top = tmp_path / "out"
    (top / "a" / "b").mkdir(parents=True)
    (tmp_path / "elsewhere").mkdir()
    walk = walk_tree(top)
    assert next(walk).name == "a"
    assert next(walk).name == "b"  # inside a now
    os.rename(top / "a", tmp_path / "elsewhere" / "a")  # ".." of a is no longer top
    with pytest.raises(TreeChanged):
        list(walk)


def test_a_deep_output_tree_is_counted_and_removed_over_quota(tmp_path: Path) -> None:
    script = """
    import os
    os.chdir(os.environ["ARRL_OUTPUT_DIR"])
    for _ in range(1500):
        os.mkdir("d")
        os.chdir("d")
    with open("big.bin", "wb") as f:
        f.write(os.urandom(12 << 20))
    print("arrl: val_loss=0.5", flush=True)
    """
    from arrl.output import remove_tree

    try:
        result = SubprocessRunner(SubprocessOptions(output_quota="8m")).run(_request(tmp_path, script, 60), Monitor())
        assert result.outcome is arrl.Outcome.FAILED and "over its quota of 8 MiB" in result.failure_reason
        assert list((Path(result.stdout_path).parent / "output").iterdir()) == []
    finally:
        remove_tree(tmp_path / "experiments")  # pytest's own clean-up of old temporary folders recurses


def test_escape_sequences_an_experiment_prints_reach_no_terminal(tmp_path: Path) -> None:
    """The stderr tail becomes the failure reason, which arrl prints and logs: control
    characters in it are shown, not sent."""
    from arrl.output import printable

    escapes = "\x1b[2J\x1b]52;c;b3duZWQ=\x07\x9b31m\r\u202e"
    script = f"""
    import sys
    print("loss " + {escapes!r}, file=sys.stderr)
    raise SystemExit("diverged " + {escapes!r})
    """
    result = SubprocessRunner().run(_request(tmp_path, script, 60), Monitor())
    assert result.outcome is arrl.Outcome.FAILED
    assert "diverged \\x1b[2J\\x1b]52;c;b3duZWQ=\\x07\\x9b31m\\x0d\\u202e" in result.failure_reason
    assert printable(result.failure_reason) == result.failure_reason
    assert printable("tab\tand\nnewline stay; é and 学 too") == "tab\tand\nnewline stay; é and 学 too"


ALLOCATE = """
blocks = []
for _ in range(64):
    blocks.append(bytearray(32 << 20))  # touched: the pages count
print("arrl: val_loss=1", flush=True)
"""
FORK_MANY = """
import os, time
made = 0
try:
    for _ in range(400):
        if os.fork() == 0:
            time.sleep(30)
            os._exit(0)
        made += 1
except OSError as error:
    print("refused after", made, error.errno, flush=True)
print("arrl: val_loss=1", flush=True)
"""


def _limits_held() -> None:
    from arrl.plugins.runners import limits

    if os.geteuid() != 0 and cgroup2_base() is None:
        skip_or_fail("no cgroup arrl may write here: the limits are not held (tests/test_sandbox.py checks "
                     "that the record says so)")
    assert limits.default_memory() > 0


@pytest.mark.parametrize("sandbox", ["auto", "off"])
def test_the_memory_limit_ends_the_experiment_and_says_so(sandbox: str, tmp_path: Path) -> None:
    """A script that allocates past its limit is ended by the kernel -- it, not arrl or the
    machine -- and the record says out of memory and where the limit was held."""
    _limits_held()
    runner = SubprocessRunner(SubprocessOptions(sandbox=sandbox, memory="256m"))
    result = runner.run(_request(tmp_path, ALLOCATE, 60), Monitor())
    assert result.outcome is arrl.Outcome.FAILED
    assert result.failure_reason.startswith("out of memory: the experiment reached its limit of 256 MiB")
    assert result.details["memory_limit"].startswith("256 MiB, held (cgroup v")


def test_the_task_limit_holds_a_fork_bomb(tmp_path: Path) -> None:
    _limits_held()
    result = SubprocessRunner(SubprocessOptions(pids=48)).run(_request(tmp_path, FORK_MANY, 60), Monitor())
    assert result.outcome is arrl.Outcome.OK, result.failure_reason
    out = Path(result.stdout_path).read_text()
    made, errno = out.split("refused after ")[1].split()[:2]
    assert 30 <= int(made) < 48 and errno == "11"  # EAGAIN at the cap (the reaper and python count too)
    assert result.details["pids_limit"].startswith("48 tasks, held (cgroup v")


def test_no_limit_asked_is_said(tmp_path: Path) -> None:
    script = "print('arrl: val_loss=1')\n"
    result = SubprocessRunner(SubprocessOptions(memory="none", pids=0)).run(_request(tmp_path, script, 60), Monitor())
    assert result.outcome is arrl.Outcome.OK
    assert result.details["memory_limit"] == result.details["pids_limit"] == "none (runner option set to none)"


@pytest.mark.parametrize("value", ["12 parsecs", "1m", "-1g"])
def test_a_bad_memory_limit_is_refused(value: str) -> None:
    from arrl.errors import ConfigError
    from arrl.manager import Registry, build_options, plugin_manager

    registration = Registry(plugin_manager()).get("runner", "subprocess")
    with pytest.raises(ConfigError, match="memory"):
        build_options(registration, {"memory": value})
