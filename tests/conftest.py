from __future__ import annotations

import atexit
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from hypothesis import settings
from hypothesis.configuration import set_hypothesis_home_dir

from arrl.run.resources import THREAD_VARIABLES
from support import ROOT

# Hypothesis keeps no example database: it would be written into the working directory (the
# repository), which the tests must leave as they found it. Its other files (the Unicode table a
# text strategy caches) go to a folder of the session's own, not to ./.hypothesis.
settings.register_profile("arrl", database=None)
settings.load_profile("arrl")
_HYPOTHESIS_HOME = tempfile.mkdtemp(prefix="arrl-test-hypothesis-")
set_hypothesis_home_dir(_HYPOTHESIS_HOME)
atexit.register(shutil.rmtree, _HYPOTHESIS_HOME, ignore_errors=True)


def repository_state() -> set[str]:
    """``git status --porcelain --ignored`` of the repository, less Python's bytecode caches
    (written by imports, not by tests)."""
    listed = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--ignored"],
                            capture_output=True, text=True, check=True).stdout.splitlines()
    return {line for line in listed if "__pycache__/" not in line and not line.endswith(".pyc")}


@pytest.fixture(autouse=True, scope="module")
def leaves_the_repository_clean(request: pytest.FixtureRequest) -> object:
    """Tests write only under temporary directories: a file that a test module's tests add or
    change in the repository fails the module's last test, naming the module. (Per module, not
    per test: ``git status`` takes a fifth of a second on a busy machine.)"""
    before = repository_state()
    yield
    after = repository_state()
    if after != before:
        added = sorted(after - before)
        pytest.fail(f"{Path(request.module.__file__).name} changed the repository: {added} (gone: {sorted(before - after)})",
                    pytrace=False)


@pytest.fixture
def arrl_env(tmp_path: Path) -> dict[str, str]:
    """An environment whose git identity and config cannot leak in from the machine's."""
    home = tmp_path / "home"
    home.mkdir()
    # One thread per experiment, as a user sets on a shared machine: beside two busy processes
    # on two cores, torch with two threads ran the tiny GPT 2.7 times slower than with one (its
    # threads wait for each other at every step). arrl keeps a variable the user set; the tests
    # of arrl's own thread counts unset these.
    threads = dict.fromkeys(THREAD_VARIABLES, "1")
    return {"HOME": str(home), "GIT_CONFIG_NOSYSTEM": "1", **threads}


# --- a real redis-server on a free loopback port ---------------------------------------------

import shutil  # noqa: E402
import socket  # noqa: E402
import time  # noqa: E402
from collections.abc import Iterator  # noqa: E402

from support import skip_or_fail  # noqa: E402


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class RedisServer:
    """A redis-server of the test's own, which a test may kill and start again on the same port
    and data directory (with the append-only file on, or with no persistence at all)."""

    def __init__(self, directory: Path, persistent: bool = True) -> None:
        self.directory = directory
        self.persistent = persistent
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        persistence = (["--appendonly", "yes", "--appendfsync", "always"] if self.persistent
                       else ["--appendonly", "no"])
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--dir", str(self.directory), *persistence],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as conn:
                    conn.sendall(b"PING\r\n")
                    if conn.recv(64).startswith(b"+PONG"):
                        return
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"redis-server did not start on port {self.port}")

    def kill(self) -> None:
        """As a crash would stop it: SIGKILL, no save."""
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None

    def restart(self) -> None:
        self.kill()
        self.start()


def _redis_server(tmp_path: Path, persistent: bool) -> Iterator[RedisServer]:
    if shutil.which("redis-server") is None:
        skip_or_fail("redis-server is not installed")
    directory = tmp_path / ("redis" if persistent else "redis-volatile")
    directory.mkdir()
    server = RedisServer(directory, persistent)
    server.start()
    try:
        yield server
    finally:
        server.kill()


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """redis-server with the append-only file (fsync always), as docs/scaling.md advises."""
    yield from _redis_server(tmp_path, persistent=True)


@pytest.fixture
def volatile_redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """redis-server without persistence: a restart loses everything."""
    yield from _redis_server(tmp_path, persistent=False)
