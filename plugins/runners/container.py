"""What the Podman and Docker runners share: options, the run image, mounts, and the fingerprint.

The run image is built from this machine's own files (no registry is needed or reachable): the
Python interpreter that runs arrl with its standard library, the shared libraries that it, its
extension modules and the environment's native packages load, ``/bin/sh`` and ``timeout``. The
environment's packages (torch, numpy, ...) are not copied: they are bind-mounted read-only, and a
hash of them is recorded next to the image id, since an image id alone says nothing about what
is mounted into it.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import stat
import subprocess
import sys
import sysconfig
import tarfile
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

import attrs

import arrl
from arrl.output import OutputLimits
from arrl.run.resources import thread_env
from arrl.trace import MOUNTED_TRACER, TRACER, script_command

DEFAULT_IMAGE = "arrl-runner:latest"
CONTAINER_WORKSPACE = "/workspace"
CONTAINER_OUTPUT = "/output"
CONTAINER_ENV = "/env/site-packages"
NOBODY = "65534:65534"
LABEL_RUN = "arrl.run"
LABEL_EXPERIMENT = "arrl.experiment"
# Seconds the in-container `timeout` allows beyond the budget: the harness kills first; this is
# the second layer, for a harness that died.
INNER_TIMEOUT_SLACK = 2


@attrs.frozen
class ContainerOptions(OutputLimits):
    """Resource limits and isolation of every experiment container (the design document's
    defaults: 16 GB of memory with as much swap, 2 CPUs, no network), and the output limits."""

    image: str = DEFAULT_IMAGE
    memory: str = "16g"
    memory_swap: str = ""  # empty: the same as memory, so there is no swap
    cpus: float = attrs.field(default=2.0, validator=attrs.validators.gt(0))
    pids_limit: int = attrs.field(default=512, validator=attrs.validators.ge(16))
    tmpfs_size: str = "256m"  # /tmp inside the container: in memory, not on the host
    shm_size: str = "1g"  # /dev/shm (DataLoader workers pass batches through it), in memory
    network: bool = False
    gpus: bool = False  # pass every GPU through (NVIDIA); unverified on this project's machines
    environment: str = ""  # site-packages to mount; empty: the one running arrl

    @property
    def swap(self) -> str:
        return self.memory_swap or self.memory


def site_packages(options: ContainerOptions) -> Path:
    return Path(options.environment or sysconfig.get_paths()["purelib"]).resolve()


def environment_hash(packages: Path) -> str:
    """sha256 over every installed distribution's name, version and RECORD: what the mounted
    environment holds, cheap enough to compute for every run."""
    digest = hashlib.sha256()
    for info in sorted(packages.glob("*.dist-info")):
        digest.update(info.name.encode() + b"\0")
        record = info / "RECORD"
        if record.is_file():
            digest.update(hashlib.sha256(record.read_bytes()).digest())
    return digest.hexdigest()


def interpreter() -> Path:
    """The real interpreter binary (a venv's python is a link to it)."""
    return Path(os.path.realpath(sys.executable))


def _is_elf(path: Path) -> bool:
    try:
        with path.open("rb") as handle:
            return handle.read(4) == b"\x7fELF"
    except OSError:
        return False


_LDD_LINE = re.compile(r"(?:=>\s*)?(/\S+)\s+\(0x")


def shared_libraries(binaries: Iterable[Path]) -> set[Path]:
    """Every shared library the binaries load, as ldd resolves them on this machine."""
    found: set[Path] = set()
    for binary in binaries:
        try:
            out = subprocess.run(["ldd", str(binary)], capture_output=True, text=True, timeout=30).stdout
        except (OSError, subprocess.TimeoutExpired):
            continue
        for line in out.splitlines():
            match = _LDD_LINE.search(line)
            if match:
                found.add(Path(match.group(1)))
    return found


def _copy_into(root: Path, source: Path) -> None:
    """Copy ``source`` to the same absolute path under ``root``, following links."""
    target = root / source.relative_to("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    if not target.exists():
        shutil.copy2(os.path.realpath(source), target)


def build_rootfs(root: Path, packages: Path) -> None:
    """Assemble the run image's file system under ``root``."""
    python = interpreter()
    prefix = Path(sys.base_prefix).resolve()
    stdlib = Path(sysconfig.get_paths()["stdlib"]).resolve()
    skip = {"site-packages", "test", "idlelib", "tkinter", "turtledemo", "ensurepip", "lib2to3"}
    # The interpreter keeps its own absolute path: its RUNPATH points at its prefix.
    _copy_into(root, python)
    for name in ("python3", "python"):
        link = root / prefix.relative_to("/") / "bin" / name
        if not link.exists():
            link.symlink_to(python.name)
    for path in stdlib.rglob("*"):
        relative = path.relative_to(stdlib)
        if relative.parts and relative.parts[0] in skip:
            continue
        if path.is_file():
            _copy_into(root, path)
    for library in prefix.glob("lib/libpython*.so*"):
        _copy_into(root, library)
    (root / stdlib.relative_to("/") / "site-packages").mkdir(parents=True, exist_ok=True)
    # Make the mounted environment importable, .pth files (editable installs) included.
    pth = root / stdlib.relative_to("/") / "site-packages" / "arrl-environment.pth"
    pth.write_text(f"import site; site.addsitedir({CONTAINER_ENV!r})\n")
    tools = [Path("/bin/sh"), Path(shutil.which("timeout") or "/usr/bin/timeout")]
    for tool in tools:
        _copy_into(root, tool)
    native = [python, *tools, *stdlib.glob("lib-dynload/*.so"),
              *(p for p in packages.rglob("*.so*") if p.is_file() and _is_elf(p))]
    for library in shared_libraries(native):
        if packages in library.parents:
            continue  # mounted with the environment
        _copy_into(root, library)
    etc = root / "etc"
    etc.mkdir(exist_ok=True)
    (etc / "passwd").write_text("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/tmp:/bin/sh\n")
    (etc / "group").write_text("root:x:0:\nnogroup:x:65534:\n")
    for directory in ("tmp", CONTAINER_WORKSPACE[1:], CONTAINER_OUTPUT[1:], CONTAINER_ENV[1:], "proc", "sys", "dev"):
        (root / directory).mkdir(parents=True, exist_ok=True)
    (root / "tmp").chmod(0o1777)
    # A non-root user must be able to walk down to the interpreter (e.g. through /root).
    for path in [root, *root.rglob("*")]:
        if path.is_dir() and not path.is_symlink():
            path.chmod(path.stat().st_mode | stat.S_IRWXU | stat.S_IRGRP | stat.S_IXGRP | stat.S_IROTH | stat.S_IXOTH)


@contextlib.contextmanager
def rootfs_tar(packages: Path) -> Iterator[Path]:
    """Build the rootfs in a temporary folder and yield it as a tar file."""
    with tempfile.TemporaryDirectory(prefix="arrl-image-") as scratch:
        root = Path(scratch) / "rootfs"
        root.mkdir()
        build_rootfs(root, packages)
        archive = Path(scratch) / "rootfs.tar"
        with tarfile.open(archive, "w") as tar:
            tar.add(root, arcname=".")
        yield archive


def cpu_limit(request: arrl.RunRequest, options: ContainerOptions) -> float:
    """The container's CPUs: the runner's limit, narrowed to the experiment's share (a worker's)."""
    return min(options.cpus, request.cpus) if request.cpus > 0 else options.cpus


def container_env(request: arrl.RunRequest, options: ContainerOptions) -> dict[str, str]:
    env = {**request.env, "ARRL_OUTPUT_DIR": CONTAINER_OUTPUT, "PYTHONUNBUFFERED": "1", "HOME": "/tmp",
           **thread_env(cpu_limit(request, options), inherited={})}
    return env


def hidden_git(request: arrl.RunRequest) -> dict[str, str]:
    """Mounts (host source: container target) that cover the worktree's ``.git``: it names the
    user's repository on the host, and the experiment has no use for it (the sandbox's own copy
    has a stand-in instead). It is covered, read-only, by an empty file or folder of its kind."""
    marker = request.workspace / ".git"
    empty = request.log_dir / "empty-git"
    if marker.is_symlink() or not marker.exists():
        return {}
    request.log_dir.mkdir(parents=True, exist_ok=True)
    if marker.is_dir():
        empty.mkdir(exist_ok=True)
    else:
        empty.write_bytes(b"")
    return {str(empty): f"{CONTAINER_WORKSPACE}/.git"}


def read_only_mounts(request: arrl.RunRequest) -> dict[str, str]:
    """Host path -> container path of the single files and folders mounted read-only over the
    workspace's view: the hidden git metadata, and arrl's tracer when the run is traced."""
    return {**hidden_git(request), **({str(TRACER): MOUNTED_TRACER} if request.trace else {})}


def container_command(request: arrl.RunRequest) -> list[str]:
    relative = request.script.relative_to(request.workspace).as_posix()
    budget = int(request.budget_seconds) + INNER_TIMEOUT_SLACK
    command = script_command(str(interpreter()), f"{CONTAINER_WORKSPACE}/{relative}", request.args, request.trace,
                             output_dir=CONTAINER_OUTPUT, root=CONTAINER_WORKSPACE, tracer=MOUNTED_TRACER)
    return ["timeout", "-s", "KILL", str(budget), *command]


def container_workdir(request: arrl.RunRequest) -> str:
    relative = request.workdir.relative_to(request.workspace).as_posix()
    return CONTAINER_WORKSPACE if relative == "." else f"{CONTAINER_WORKSPACE}/{relative}"


def prepare_output(request: arrl.RunRequest) -> None:
    request.output_dir.mkdir(parents=True, exist_ok=True)
    # The container runs as nobody: the one host directory it may write must let it.
    request.output_dir.chmod(0o777)


def container_name(request: arrl.RunRequest) -> str:
    return f"arrl-{request.run_id}-{request.experiment_id}-{os.urandom(3).hex()}"


def labels(request: arrl.RunRequest) -> dict[str, str]:
    return {LABEL_RUN: request.run_id, LABEL_EXPERIMENT: str(request.experiment_id)}
