"""Helpers shared by the tests: real git repositories, the real ``arrl`` command, and a
calibration of this machine's speed for the budgets of tests that train."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest

ROOT = Path(__file__).resolve().parent.parent
ARRL = Path(sys.executable).with_name("arrl")
IN_CI = os.environ.get("CI") == "true"


def skip_or_fail(reason: str) -> None:
    """Skip locally when a service is missing; in CI a missing service is a failure."""
    if IN_CI:
        pytest.fail(f"required in CI: {reason}")
    pytest.skip(reason)


@attrs.define
class Result:
    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def run_arrl(*args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 300) -> Result:
    completed = subprocess.run(
        [str(ARRL), *args], cwd=cwd, capture_output=True, text=True, timeout=timeout,
        env={**os.environ, **(env or {})},
    )
    return Result(completed.returncode, completed.stdout, completed.stderr)


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True,
                          check=True).stdout


def make_repo(path: Path, files: dict[str, str], config: str | None = None) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q", "-b", "main")
    for name, text in files.items():
        target = path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(textwrap.dedent(text).lstrip())
    if config is not None:
        (path / "arrl.toml").write_text(textwrap.dedent(config).lstrip())
    git(path, "add", "-A")
    git(path, "-c", "user.name=Test User", "-c", "user.email=test@example.com",
        "commit", "-q", "--allow-empty", "-m", "baseline")
    return path


def pip_install_copies(packages: list[Path], target: Path, scratch: Path) -> None:
    """pip-install local packages into ``target`` from copies in ``scratch``: setuptools writes
    build/ and *.egg-info beside the sources, and the tests leave the repository as they found it."""
    copies = []
    for package in packages:
        copy = scratch / package.name
        shutil.copytree(package, copy, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
        copies.append(str(copy))
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                    "--target", str(target), *copies], check=True, capture_output=True)


def with_steps(script: str, steps: int) -> str:
    """The tiny GPT example's script training for ``steps`` steps instead of its own number: the
    work a test needs, whatever the machine's load (the budget stays a cap, scaled)."""
    changed, count = re.subn(r"^TRAIN_STEPS = \d+$", f"TRAIN_STEPS = {steps}", script, flags=re.M)
    assert count == 1, "the tiny GPT's TRAIN_STEPS line moved"
    return changed


def user_state(repo: Path) -> dict[str, str]:
    """Everything of the user's that arrl must leave alone: branch, HEAD, index, tracked
    files' bytes, and what `git status` reports."""
    tracked = git(repo, "ls-files", "-z").split("\0")
    digest = hashlib.sha256()
    for name in sorted(n for n in tracked if n):
        digest.update(name.encode() + b"\0" + (repo / name).read_bytes())
    return {
        "branch": git(repo, "symbolic-ref", "HEAD"),
        "head": git(repo, "rev-parse", "HEAD"),
        "branches": git(repo, "for-each-ref", "refs/heads", "refs/tags"),
        "index": hashlib.sha256((repo / ".git" / "index").read_bytes()).hexdigest(),
        "files": digest.hexdigest(),
        "status": git(repo, "status", "--porcelain", "--ignored=no"),
    }


def run_dir(repo: Path, runs_dir: str = ".arrl") -> Path:
    """The newest run directory."""
    metas = list((repo / runs_dir).glob("*/run.json"))
    assert metas, f"no run directory under {repo / runs_dir}"
    return max(metas, key=lambda p: json.loads(p.read_text())["created_at"]).parent


def records(repo: Path, runs_dir: str = ".arrl") -> list[dict]:
    """The journal of the newest run."""
    journal = run_dir(repo, runs_dir) / "journal.jsonl"
    return [json.loads(line) for line in journal.read_text().splitlines()]


# What `import torch` took where the tests' budgets were first written (an idle 2-core machine).
REFERENCE_TORCH_IMPORT_SECONDS = 1.5


# How long a measurement of the machine's speed holds: the load on a shared machine changes
# within a 25-minute suite, so the tests that train re-measure it as they go.
CALIBRATION_SECONDS = 180.0
_calibration: list[float] = []  # [measured at (monotonic), torch import seconds]


def torch_import_seconds() -> float:
    """How long a fresh interpreter takes to import torch here, now: the slower of two tries, so
    that a lucky moment does not set the budgets; measured again once it is older than
    CALIBRATION_SECONDS."""
    if _calibration and time.monotonic() - _calibration[0] < CALIBRATION_SECONDS:
        return _calibration[1]
    times = []
    for _ in range(2):
        started = time.monotonic()
        subprocess.run([sys.executable, "-c", "import torch"], check=True, capture_output=True)
        times.append(time.monotonic() - started)
    _calibration[:] = [time.monotonic(), max(times)]
    return _calibration[1]


def slowness() -> float:
    """How much slower this machine is, now, than the reference (at least 1)."""
    return max(1.0, torch_import_seconds() / REFERENCE_TORCH_IMPORT_SECONDS)


def scaled(seconds: float) -> float:
    """A budget or a wait for work that imports torch, scaled to this machine's speed.

    Only what the work needs may be scaled: a tolerance a test asserts (a kill within budget
    + 1 s) stays what it is, since arrl must meet it on a slow machine too."""
    return round(seconds * slowness(), 1)


# Crashes whenever the batch size leaves 32, so a random proposer produces real failures.
TOY_SCRIPT = """
import math, time
LEARNING_RATE = 0.01  # tuned by arrl
BATCH_SIZE = 32
DROPOUT = 0.1

if BATCH_SIZE != 32:
    raise RuntimeError(f"batch size {BATCH_SIZE} does not fit this toy")
for step in range(6):
    loss = (math.log10(LEARNING_RATE) + 2.5) ** 2 + DROPOUT + 1.0 / (step + 1)
    print(f"arrl: step={step} val_loss={loss:.6f}")
    time.sleep(0.02)
"""


# The toy's run: the random proposer, no early stopping, failures never pause it, and one run of
# the unmodified script (the tests built on it follow its exact sequence of proposals; the noise
# floor's default of three runs has its own tests: test_noise, test_workers, test_getting_started).
TOY_CONFIG = """
script = "train.py"
budget = 20
failure_limit = 50
seed = 3
baseline_runs = 1
[plugins]
proposer = "random"
[early_stopping]
enabled = false
"""


@contextlib.contextmanager
def tcp_server(address: str) -> Iterator[tuple[int, list[str]]]:
    """A TCP server on ``address`` (port chosen) that answers each connection with 'hello':
    its port, and the peers it accepted."""
    accepted: list[str] = []
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind((address, 0))
    server.listen()
    server.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                connection, peer = server.accept()
            except OSError:
                continue
            accepted.append(peer[0])
            connection.sendall(b"hello")
            connection.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1], accepted
    finally:
        stop.set()
        thread.join()
        server.close()


@contextlib.contextmanager
def local_ray_cluster() -> Iterator[str]:
    """A local Ray cluster of two CPUs for a test module; its address, which runs join as they
    would join an existing cluster (``--ray-address``, runner option ``address``)."""
    try:
        import ray
    except ImportError:
        skip_or_fail("the ray extra is not installed")
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    if ray.is_initialized():
        ray.shutdown()
    try:
        context = ray.init(num_cpus=2, include_dashboard=False, object_store_memory=100 * 1024 * 1024,
                           log_to_driver=False, configure_logging=False)
    except Exception as error:  # noqa: BLE001 - whatever stops Ray here stops every test that needs it
        skip_or_fail(f"cannot start a local Ray cluster: {error}")
    # Runs in other processes with another HOME get the cluster's token (Ray's token
    # authentication) the way a user's second shell would, through RAY_AUTH_TOKEN_PATH.
    token = Path.home() / ".ray" / "auth_token"
    if token.is_file():
        os.environ.setdefault("RAY_AUTH_TOKEN_PATH", str(token))
    try:
        yield context.address_info["gcs_address"]  # type: ignore[attr-defined] # ray.init's local context has it
    finally:
        ray.shutdown()

