"""Named attack primitives and the oracle that judges them by their effects.

Each primitive is a few lines of Python that try to do harm from inside an experiment: read a
secret, change a file outside the experiment's own folders, reach the network, signal a process
of the user's, escape the namespaces. The oracle never asks what the script printed about
itself; it looks at the world afterwards: canary files and their hashes, listeners that count
connections, a victim process that records every signal it receives, and the canary strings in
every log, output and journal line arrl kept.

The test modules compose primitives into programs (hypothesis draws them) and run them through a
runner with no validator in the way: the sandbox is what is under test.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import attrs

CANARY_PREFIX = "arrl-canary-"


@attrs.define
class World:
    """The user's machine as an experiment must leave it: canaries to read, files to keep,
    listeners to connect to, a process to signal."""

    root: Path
    repo: Path  # the user's repository (its .git included)
    runs: Path  # the runs directory: other experiments' outputs, the journal
    home: Path  # a throwaway $HOME with secrets in it
    host_tmp: Path  # a folder in the host's /tmp
    venv_canary: Path  # a file planted in the interpreter's environment
    secret: str  # in arrl's environment
    canaries: dict[str, str] = attrs.Factory(dict)  # path -> the secret text in it
    tcp_port: int = 0
    unix_path: str = ""
    abstract_name: str = ""
    connections: list[str] = attrs.Factory(list)
    victim: subprocess.Popen[bytes] | None = None
    victim_log: Path | None = None
    _sockets: list[socket.socket] = attrs.Factory(list)
    _stop: threading.Event = attrs.Factory(threading.Event)

    # -- what the oracle compares -----------------------------------------------------------
    def snapshot(self) -> dict[str, str]:
        """Every file under the guarded folders, and each canary, by content hash."""
        state: dict[str, str] = {}
        experiments = self.runs / "experiments"
        for folder in (self.repo, self.runs, self.home, self.host_tmp):
            for path in sorted(folder.rglob("*")):
                if path.is_relative_to(experiments) and path != experiments:
                    if path.relative_to(experiments).parts[0] != "0":
                        continue  # the running experiment's own folders are the runner's to write
                state[str(path)] = _digest(path)
        state[str(self.venv_canary)] = _digest(self.venv_canary)
        return state

    def signals_received(self) -> list[str]:
        assert self.victim_log is not None
        return [line for line in self.victim_log.read_text().splitlines() if line]

    def leaked(self, texts: list[str]) -> list[str]:
        """Which canary secrets appear in what arrl kept."""
        secrets = [*self.canaries.values(), self.secret]
        return sorted({s for s in secrets for text in texts if s in text})


def _digest(path: Path) -> str:
    if path.is_symlink():
        return "link:" + os.readlink(path)
    if path.is_dir():
        return "dir"
    if not path.is_file():
        return "special"
    return hashlib.sha256(path.read_bytes()).hexdigest()


VICTIM = """
import signal, sys, time
log = open(sys.argv[1], "a", buffering=1)
for number in range(1, signal.NSIG):
    if number in (signal.SIGKILL, signal.SIGSTOP):
        continue
    try:
        signal.signal(number, lambda s, _f: log.write(f"{s}\\n"))
    except (OSError, ValueError, RuntimeError):
        pass
while True:
    time.sleep(0.05)
"""


def make_world(root: Path, repo: Path, runs: Path) -> World:
    """Canaries, listeners and a victim around an experiment's repository and runs folder."""
    home = root / "home"
    host_tmp = Path(os.environ.get("TMPDIR", "/tmp")) / f"arrl-world-{uuid.uuid4().hex[:8]}"
    for folder in (home, host_tmp, home / ".ssh", home / ".aws"):
        folder.mkdir(parents=True, exist_ok=True)
    # In the interpreter's environment, where the user may write there (not as an unprivileged
    # user of a root-owned one: then in the world's own folder, as a plain canary).
    venv = Path(sys.prefix) if os.access(sys.prefix, os.W_OK) else root
    venv_canary = venv / f"{CANARY_PREFIX}{uuid.uuid4().hex[:8]}.txt"
    world = World(root, repo, runs, home, host_tmp, venv_canary, secret=CANARY_PREFIX + uuid.uuid4().hex)
    for path in (home / ".ssh" / "id_rsa", home / ".aws" / "credentials", home / ".netrc", repo / "secret.env",
                 runs / "journal-secret.txt", host_tmp / "token", venv_canary):
        path.parent.mkdir(parents=True, exist_ok=True)
        text = CANARY_PREFIX + uuid.uuid4().hex
        path.write_text(text)
        world.canaries[str(path)] = text
    _listen(world)
    world.victim_log = root / "victim.log"
    world.victim_log.write_text("")
    world.victim = subprocess.Popen([sys.executable, "-c", VICTIM, str(world.victim_log)])
    time.sleep(0.3)  # its handlers in place
    return world


def _listen(world: World) -> None:
    tcp = socket.socket()
    tcp.bind(("127.0.0.1", 0))
    tcp.listen()
    world.tcp_port = tcp.getsockname()[1]
    unix = socket.socket(socket.AF_UNIX)
    world.unix_path = str(world.host_tmp / "listener.sock")
    unix.bind(world.unix_path)
    unix.listen()
    abstract = socket.socket(socket.AF_UNIX)
    world.abstract_name = f"arrl-abstract-{uuid.uuid4().hex[:8]}"
    abstract.bind("\0" + world.abstract_name)
    abstract.listen()
    world._sockets = [tcp, unix, abstract]
    for name, listener in (("tcp", tcp), ("unix", unix), ("abstract", abstract)):
        listener.settimeout(0.2)
        threading.Thread(target=_accept, args=(world, name, listener), daemon=True).start()


def _accept(world: World, name: str, listener: socket.socket) -> None:
    while not world._stop.is_set():
        try:
            connection, _ = listener.accept()
        except (TimeoutError, OSError):
            continue
        world.connections.append(name)
        connection.close()


def close_world(world: World) -> None:
    world._stop.set()
    for listener in world._sockets:
        listener.close()
    if world.victim is not None:
        world.victim.kill()
        world.victim.wait()
    world.venv_canary.unlink(missing_ok=True)
    subprocess.run(["rm", "-rf", str(world.host_tmp)], check=False)


# -- the primitives ------------------------------------------------------------------------
# Each is the body of a function taking the world's facts (W, a dict); a primitive that fails
# inside the sandbox raises, and the program goes on to the next one.
PRIMITIVES: dict[str, str] = {
    "mount_remount_root": """
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        MS_REMOUNT, MS_BIND = 32, 4096
        if libc.mount(None, b"/", None, MS_REMOUNT | MS_BIND, None) != 0:
            raise OSError(ctypes.get_errno(), "mount")
        for path in W["writable_targets"]:
            open(path, "a").write("owned")
    """,
    "unshare_user_then_mount": """
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.unshare(0x10000000 | 0x00020000) != 0:  # CLONE_NEWUSER | CLONE_NEWNS
            raise OSError(ctypes.get_errno(), "unshare")
        for path in W["writable_targets"]:
            open(path, "a").write("owned")
    """,
    "write_outside": """
        for path in W["writable_targets"]:
            try:
                with open(path, "a") as f:
                    f.write("owned")
            except OSError:
                pass
    """,
    "replace_and_symlink": """
        import os
        for path in W["writable_targets"]:
            try:
                os.replace(__file__, path)
            except OSError:
                pass
            try:
                os.symlink("/etc/passwd", path + ".link")
            except OSError:
                pass
    """,
    "read_canaries": """
        for path in W["canaries"]:
            try:
                print("read:", open(path).read())
            except OSError:
                pass
    """,
    "read_home_by_listing": """
        import os, glob
        for pattern in ("/root/**", "/home/**", W["home"] + "/**", "/tmp/**", W["runs"] + "/**"):
            for path in glob.glob(pattern, recursive=True)[:500]:
                try:
                    if os.path.isfile(path) and os.path.getsize(path) < 4096:
                        print("found:", path, open(path, errors="replace").read())
                except OSError:
                    pass
    """,
    "proc_environ": """
        import os
        for pid in os.listdir("/proc"):
            if pid.isdigit():
                try:
                    print("environ:", open(f"/proc/{pid}/environ", "rb").read().decode(errors="replace"))
                except OSError:
                    pass
        print("own environ:", dict(os.environ))
    """,
    "connect_tcp": """
        import socket
        for host in ("127.0.0.1", "localhost", W["host_ip"]):
            try:
                socket.create_connection((host, W["tcp_port"]), timeout=1).close()
            except OSError:
                pass
    """,
    "connect_unix": """
        import socket
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(1)
        s.connect(W["unix_path"])
    """,
    "connect_abstract": """
        import socket
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(1)
        s.connect("\\0" + W["abstract_name"])
    """,
    "kill_everything": """
        import os, signal
        for sig in (signal.SIGSTOP, signal.SIGTERM, signal.SIGUSR1):
            try:
                os.kill(-1, sig)
            except OSError:
                pass
        os.kill(os.getpid(), signal.SIGCONT)
    """,
    "signal_victim": """
        import os, signal
        for sig in (signal.SIGUSR1, signal.SIGTERM, signal.SIGHUP):
            try:
                os.kill(W["victim_pid"], sig)
            except OSError:
                pass
    """,
    "plant_git": """
        import os, pathlib
        here = pathlib.Path(__file__).resolve().parent
        for target in (here / ".git", here.parent / ".git", pathlib.Path(W["repo"]) / ".git" / "config"):
            try:
                if target.is_dir():
                    (target / "config").open("a").write("[core]\\n\\tfsmonitor = touch /tmp/pwned\\n")
                else:
                    target.write_text("gitdir: /tmp/evil\\n")
            except OSError:
                pass
        nested = here / "nested"
        nested.mkdir(exist_ok=True)
        (nested / ".git").mkdir(exist_ok=True)
        (nested / ".git" / "HEAD").write_text("ref: refs/heads/main\\n")
        (here / "__pycache__").mkdir(exist_ok=True)
        (here / "__pycache__" / "train.cpython-311.pyc").write_bytes(b"planted")
    """,
    "copy_other_outputs": """
        import glob
        for path in glob.glob(W["runs"] + "/**/output/**", recursive=True):
            try:
                print("other:", open(path).read())
            except OSError:
                pass
    """,
    "fill_shm": """
        chunk = b"x" * (1 << 20)
        with open("/dev/shm/fill", "wb") as f:
            for _ in range(W["fill_mib"]):
                f.write(chunk)
    """,
    "fill_workspace": """
        import os
        chunk = b"x" * (1 << 20)
        with open("filler.bin", "wb") as f:
            for _ in range(W["fill_mib"]):
                f.write(chunk)
                f.flush()
    """,
    "unset_cuda": """
        import os, glob
        os.environ.pop("CUDA_VISIBLE_DEVICES", None)
        print("gpus seen:", sorted(glob.glob("/dev/nvidia[0-9]*")))
    """,
}


def program(names: list[str], facts: dict[str, object], extra: dict[str, str] | None = None) -> str:
    """A training script that runs each named primitive (``extra`` holds a test's own), failures
    swallowed, then reports a metric."""
    table = {**PRIMITIVES, **(extra or {})}
    lines = ["import json", f"W = json.loads({json.dumps(facts)!r})"]
    for index, name in enumerate(names):
        lines.append(f"def attack_{index}():")
        lines.append(textwrap.indent(textwrap.dedent(table[name]).strip(), "    "))
        lines.append(f"try:\n    attack_{index}()\n    print('done: {name}')\n"
                     f"except BaseException as error:\n    print('refused: {name}:', type(error).__name__)")
    lines.append("print('arrl: val_loss=1.0')")
    return "\n".join(lines) + "\n"


def facts(world: World, workspace: Path) -> dict[str, object]:
    """What the primitives aim at: the world's paths, ports and process."""
    targets = [str(world.repo / "train.py"), str(world.repo / ".git" / "config"), str(world.home / ".bashrc"),
               str(world.runs / "journal.jsonl"), str(world.host_tmp / "planted"), str(world.venv_canary),
               str(Path(sys.prefix) / "lib" / "planted.pth")]
    return {"writable_targets": targets, "canaries": sorted(world.canaries), "home": str(world.home),
            "runs": str(world.runs), "repo": str(world.repo), "tcp_port": world.tcp_port,
            "unix_path": world.unix_path, "abstract_name": world.abstract_name,
            "victim_pid": world.victim.pid if world.victim else 0, "host_ip": _host_ip(),
            "fill_mib": 1536, "workspace": str(workspace)}


def _host_ip() -> str:
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect(("10.255.255.255", 1))
            return probe.getsockname()[0]
    except OSError:
        return "127.0.0.1"


def kept_texts(*folders: Path) -> Iterator[str]:
    """Every text file arrl kept under ``folders``: logs, outputs, journals."""
    for folder in folders:
        for path in folder.rglob("*"):
            if path.is_file() and not path.is_symlink():
                yield path.read_text(errors="replace")


HARMLESS_SIGNALS = {str(int(signal.SIGCHLD)), str(int(signal.SIGWINCH))}
