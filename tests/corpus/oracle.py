"""The corpus oracle: tests/sandbox_attacks.py's world, grown for whole `arrl run`s, and a judge
that looks at it right before and right after every experiment.

The world (:class:`CorpusWorld`) is tests/sandbox_attacks.py's (canaries in a throwaway $HOME,
the user's repository, the runs directory, the host's /tmp and the interpreter's environment;
TCP, Unix and abstract listeners; a victim process that logs every signal), plus what a whole run
needs: more secrets (~/.git-credentials, the repository's .env and .git/config, an earlier run's
journal and outputs, arrl's environment, a process whose memory and environment hold a secret),
more listeners (TCP on the host's non-loopback address and on ::1, UDP on both addresses, a DNS
server), and the machine's own places that an escape would touch (the real home's dotfiles,
cron's folders, site-packages, /proc/sys, the interpreter's binary).

The judge (:class:`Judge`) is a Unix socket that the corpus plugin's hooks call when arrl proposes
an experiment and when it has finished with it (tests/corpus/hostile_plugin); arrl waits for the
answer. It snapshots the world at "proposed" and lists, at "finished", every effect in words:

- a secret (a canary, plain or hex, base64, reversed) in anything arrl kept of that experiment:
  its logs, its output, its journal line, the run's log;
- a guarded file changed, added or removed (the user's tree and .git, the runs directory other
  than the journal's append and the experiment's own folder, $HOME, the host's /tmp, the machine's
  places above), an appended line that is not arrl's own record, a file left in the worktree;
- a connection or datagram received by a listener of the test's;
- a signal received by, or a stop, a priority, an affinity or an OOM score changed of, a victim;
- a process of the experiment left running (the world's marker in its command line or
  environment, arrl's token of this run, or a working directory inside the world);
- a link or special file left in its output, its sandbox copy left in /tmp, a mount or a loop
  device left under the world, a container created through an engine's socket, a wall-clock
  time past its budget;
- control characters (escape sequences) that reached arrl's log or console;
- arrl itself ending while the experiment ran (:meth:`Judge.interrupted`).

Never what the script printed about itself.
"""

from __future__ import annotations

import base64
import codecs
import contextlib
import glob
import hashlib
import json
import os
import pwd
import re
import shutil
import socket
import stat
import struct
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterable
from pathlib import Path

import attrs
from sandbox_attacks import CANARY_PREFIX, HARMLESS_SIGNALS, VICTIM, World, close_world, make_world

# A victim whose memory and environment hold secrets: the secret comes on stdin, so it is in no
# command line and no file; it also logs every signal, like sandbox_attacks' victim.
MEMORY_VICTIM = VICTIM.replace(
    "import signal, sys, time",
    "import signal, sys, time\nSECRET = sys.stdin.readline().strip().encode() * 64\n"
    "HELD = [bytearray(SECRET) for _ in range(8)]")

SYSTEM_FILES = ("/etc/crontab", "/etc/cron.d", "/var/spool/cron", "/etc/systemd/system",
                "/proc/sys/kernel/core_pattern", "/proc/sys/kernel/hostname", "/proc/sys/kernel/modprobe",
                "/sys/kernel/uevent_helper", "/etc/ld.so.preload", "/etc/profile.d")
REAL_HOME_FILES = (".bashrc", ".profile", ".bash_logout", ".ssh/authorized_keys", ".gitconfig", ".config/autostart",
                   ".config/systemd/user", ".local/lib", ".pythonrc.py",
                   ".config/git")
# Signals that harm nothing: sandbox_attacks' harmless ones, and SIGCONT (the judge resumes a victim
# that an attack left stopped, so that the next experiment's verdict starts from a running one).
HARMLESS = HARMLESS_SIGNALS | {"18"}
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\x9b]")


def secret_text() -> str:
    return CANARY_PREFIX + uuid.uuid4().hex


def encodings(secret: str) -> list[str]:
    """The secret as an exfiltration would write it: plain, hex, base64, reversed, rot13."""
    raw = secret.encode()
    return [secret, raw.hex(), base64.b64encode(raw).decode(), secret[::-1], codecs.encode(secret, "rot13")]


def host_ip() -> str:
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect(("10.255.255.255", 1))
            return probe.getsockname()[0]
    except OSError:
        return "127.0.0.1"


def digest(path: Path) -> str:
    try:
        mode = os.lstat(path).st_mode
    except OSError:
        return "gone"
    if stat.S_ISLNK(mode):
        return "link:" + os.readlink(path)
    if stat.S_ISDIR(mode):
        return f"dir:{stat.S_IMODE(mode):o}"
    if not stat.S_ISREG(mode):
        return "special"
    try:
        with open(path, "rb") as handle:
            return hashlib.sha256(handle.read(1 << 26)).hexdigest() + f":{stat.S_IMODE(mode):o}"
    except OSError as error:
        return f"unreadable:{error.errno}"


def walk(root: Path, skip: Iterable[Path] = ()) -> Iterable[Path]:
    """Every path under ``root`` (itself included), without following links, outside ``skip``.
    Iterative: an attack's tree thousands of folders deep must not end the oracle."""
    skipped = {str(s) for s in skip}
    if not os.path.lexists(root) or str(root) in skipped:
        return
    yield root
    stack = [str(root)] if root.is_dir() and not root.is_symlink() else []
    while stack:
        folder = stack.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            if entry.path in skipped:
                continue
            yield Path(entry.path)
            with contextlib.suppress(OSError):
                if entry.is_dir(follow_symlinks=False):
                    stack.append(entry.path)


def proc_state(pid: int) -> dict[str, str]:
    """What an attack could change about a process of the user's, from outside it."""
    found: dict[str, str] = {}
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
        fields = raw[raw.rfind(")") + 2:].split()
        found["state"] = fields[0]
        found["nice"] = fields[16]
        found["oom_score_adj"] = Path(f"/proc/{pid}/oom_score_adj").read_text().strip()
        found["affinity"] = ",".join(map(str, sorted(os.sched_getaffinity(pid))))
        status = Path(f"/proc/{pid}/status").read_text()
        found["tracer"] = re.search(r"TracerPid:\s*(\d+)", status).group(1)
        found["cgroup"] = Path(f"/proc/{pid}/cgroup").read_text().strip()
    except (OSError, AttributeError, IndexError):
        found["state"] = "gone"
    return found


@attrs.define
class CorpusWorld:
    """sandbox_attacks' World and what a whole run adds to it."""

    base: World
    marker: str  # not a secret: planted files and daemons carry it, so the oracle can find them
    real_home: Path
    env_secrets: dict[str, str] = attrs.Factory(dict)  # put in arrl's environment
    memory_secret: str = ""
    other_secrets: list[str] = attrs.Factory(list)  # held by no file (a victim's environment)
    memory_victim: subprocess.Popen[bytes] | None = None
    memory_victim_log: Path | None = None
    ports: dict[str, int] = attrs.Factory(dict)
    host_ip: str = "127.0.0.1"
    earlier_run: Path | None = None
    _sockets: list[socket.socket] = attrs.Factory(list)
    _lock: threading.Lock = attrs.Factory(threading.Lock)

    @property
    def root(self) -> Path:
        return self.base.root

    @property
    def repo(self) -> Path:
        return self.base.repo

    @property
    def runs(self) -> Path:
        return self.base.runs

    def secrets(self) -> list[str]:
        return [*self.base.canaries.values(), self.base.secret, *self.env_secrets.values(), self.memory_secret,
                *self.other_secrets]

    def connections(self) -> list[str]:
        with self._lock:
            return list(self.base.connections)

    def record(self, name: str) -> None:
        with self._lock:
            self.base.connections.append(name)

    def signals(self) -> list[str]:
        logs = [self.base.victim_log, self.memory_victim_log]
        return [f"{log.name}:{line}" for log in logs if log is not None
                for line in log.read_text().splitlines() if line.strip() and line.strip() not in HARMLESS]

    def victims(self) -> dict[str, dict[str, str]]:
        found = {}
        for name, process in (("victim", self.base.victim), ("memory victim", self.memory_victim)):
            if process is not None:
                found[name] = proc_state(process.pid)
        return found

    def environment(self) -> dict[str, str]:
        """What arrl's environment holds besides the caller's: secrets, a throwaway HOME."""
        return {"HOME": str(self.base.home), **self.env_secrets}

    def facts(self, fill_mib: int = 1536, budget: float = 20) -> dict[str, object]:
        """Where the attacks aim (paths, ports, pids; never a secret)."""
        site = sorted({p for p in sys.path if p.endswith("-packages") and os.path.isdir(p)})
        return {
            "home": str(self.base.home), "real_home": str(self.real_home), "repo": str(self.repo),
            "runs": str(self.runs), "host_tmp": str(self.base.host_tmp), "canaries": sorted(self.base.canaries),
            "earlier_run": str(self.earlier_run), "tcp_port": self.base.tcp_port, "unix_path": self.base.unix_path,
            "abstract_name": self.base.abstract_name, "host_ip": self.host_ip, **self.ports,
            "victim_pid": self.base.victim.pid if self.base.victim else 0,
            "memory_victim_pid": self.memory_victim.pid if self.memory_victim else 0,
            "marker": self.marker, "venv": sys.prefix, "python": sys.executable, "site_packages": site,
            "fill_mib": fill_mib, "budget": budget,
            "docker_sockets": ["/var/run/docker.sock", "/run/docker.sock", "/run/podman/podman.sock"],
        }

    # -- the guarded state -----------------------------------------------------------------
    def guarded(self, run_dir: Path | None, current: int | None) -> dict[str, str]:
        """Every guarded path by content hash (the journal and the run's log are append-only and
        checked apart; the running experiment's folder is the runner's)."""
        state: dict[str, str] = {}
        repo, git_dir = self.repo, self.repo / ".git"
        for path in walk(repo, skip=[git_dir, self.runs]):
            state[str(path)] = digest(path)
        for name in ("config", "config.worktree", "HEAD", "index", "description", "packed-refs", "hooks", "info",
                     "refs/heads", "refs/tags", "FETCH_HEAD", "ORIG_HEAD", "modules"):
            for path in walk(git_dir / name):
                state[str(path)] = digest(path)
        for worktree in sorted((git_dir / "worktrees").glob("*")):
            for name in ("gitdir", "commondir", "config.worktree", "locked"):
                state[str(worktree / name)] = digest(worktree / name)
        skip = []
        if run_dir is not None:
            # arrl's own: the baseline's trace and its coverage probe (arrl.run.liveness) are
            # written once, after experiment 0, as proposer.state is after each experiment.
            skip = [run_dir / "workspace", run_dir / "journal.jsonl", run_dir / "run.log", run_dir / "lock",
                    run_dir / "proposer.state", self.runs / "lock", run_dir / "trace.json", run_dir / "probe.json",
                    run_dir / "probe"]
            experiments = run_dir / "experiments"
            if experiments.is_dir():
                skip += [p for p in experiments.iterdir() if current is None or not p.name.isdigit()
                         or int(p.name) >= current]
            state[str(run_dir / "workspace" / ".git")] = digest(run_dir / "workspace" / ".git")
        for path in walk(self.runs, skip=skip):
            if run_dir is not None and path in (run_dir, run_dir / "experiments"):
                continue  # arrl adds to them
            if run_dir is None and path == self.runs:
                continue
            state[str(path)] = digest(path)
        for folder in (self.base.home, self.base.host_tmp):
            for path in walk(folder):
                state[str(path)] = digest(path)
        state[str(self.base.venv_canary)] = digest(self.base.venv_canary)
        for path in [*SYSTEM_FILES, *(str(self.real_home / name) for name in REAL_HOME_FILES)]:
            for found in walk(Path(path)):
                state[str(found)] = digest(found)
        for folder in sorted({p for p in sys.path if p.endswith("-packages") and os.path.isdir(p)}):
            for name in sorted(os.listdir(folder)):
                if name.endswith(".pth") or name.startswith(("sitecustomize", "usercustomize")):
                    state[os.path.join(folder, name)] = digest(Path(folder, name))
            state[folder] = digest(Path(folder))
        for binary in [os.path.realpath(sys.executable), *glob.glob(os.path.join(sys.base_prefix, "lib", "libpython*"))]:
            state[binary + " (mtime)"] = str(os.stat(binary).st_mtime_ns)
        key = str(int(self.marker[-8:], 16) & 0x7FFFFFFF)
        for kind in ("shm", "msg", "sem"):
            with contextlib.suppress(OSError):
                for line in Path(f"/proc/sysvipc/{kind}").read_text().splitlines()[1:]:
                    if line.split()[:1] == [key]:
                        state[f"System V {kind} {key}"] = "present"
        for pattern in (f"/tmp/*{self.marker}*", f"/dev/shm/*{self.marker}*", f"/var/tmp/*{self.marker}*"):
            for path in glob.glob(pattern):
                state[path] = digest(Path(path))
        return state

    def processes(self, run_id: str, exclude: set[int]) -> dict[int, str]:
        """Processes of an experiment: the marker in the command line or environment, arrl's
        token of this run, or a working directory inside the world or a sandbox copy."""
        token = f"ARRL_PROCESS_TOKEN=arrl-{run_id}-".encode()
        found = {}
        for entry in os.listdir("/proc"):
            if not entry.isdigit() or int(entry) in exclude or int(entry) == os.getpid():
                continue
            try:
                cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
                environ = Path(f"/proc/{entry}/environ").read_bytes()
                cwd = os.readlink(f"/proc/{entry}/cwd")
            except OSError:
                continue
            if (self.marker.encode() in cmdline or self.marker.encode() in environ or token in environ
                    or cwd.startswith(str(self.root)) or cwd.startswith(f"/tmp/arrl-sandbox-{run_id}")):
                found[int(entry)] = cmdline.replace(b"\0", b" ").decode(errors="replace")[:120]
        return found

    def containers(self) -> list[str]:
        """Docker containers named with the marker (an escape through the engine's socket)."""
        found = []
        for path in ("/var/run/docker.sock", "/run/podman/podman.sock"):
            if not os.path.exists(path):
                continue
            try:
                with socket.socket(socket.AF_UNIX) as connection:
                    connection.settimeout(5)
                    connection.connect(path)
                    connection.sendall(b"GET /containers/json?all=1 HTTP/1.0\r\nHost: x\r\n\r\n")
                    answer = b""
                    while chunk := connection.recv(65536):
                        answer += chunk
                if self.marker.encode() in answer:
                    found.append(path)
            except OSError:
                continue
        return found

    def mounts(self) -> list[str]:
        """Mounts under the world, and loop devices backed by its files (a container runner's
        sized output that was never unmounted)."""
        found = []
        with contextlib.suppress(OSError):
            for line in Path("/proc/self/mountinfo").read_text().splitlines():
                point = line.split()[4].replace("\\040", " ")
                if point.startswith(str(self.root) + "/"):
                    found.append(point)
        for backing in glob.glob("/sys/block/loop*/loop/backing_file"):
            with contextlib.suppress(OSError):
                if Path(backing).read_text().strip().startswith(str(self.root) + "/"):
                    found.append(backing.split("/")[3])
        return found

    def restore_system(self, saved: dict[str, bytes]) -> None:
        """Put back a /proc/sys value an escape changed, and remove what an experiment left in
        the machine's own places (files, System V objects, mounts under the world; never reached
        when the sandbox holds, except the mounts a crash of arrl leaves)."""
        key = str(int(self.marker[-8:], 16) & 0x7FFFFFFF)
        for flag in ("-M", "-Q", "-S"):
            subprocess.run(["ipcrm", flag, key], capture_output=True, check=False)
        for point in sorted((m for m in self.mounts() if m.startswith("/")), key=len, reverse=True):
            subprocess.run(["umount", "-l", point], capture_output=True, check=False)
        for device in (m for m in self.mounts() if not m.startswith("/")):
            subprocess.run(["losetup", "-d", f"/dev/{device}"], capture_output=True, check=False)
        for path, content in saved.items():
            with contextlib.suppress(OSError):
                if Path(path).read_bytes() != content:
                    Path(path).write_bytes(content)
        for path in glob.glob(f"/tmp/*{self.marker}*") + glob.glob(f"/dev/shm/*{self.marker}*") + \
                glob.glob(f"/etc/cron.d/*{self.marker}*") + glob.glob(f"/var/spool/cron/**/*{self.marker}*",
                                                                      recursive=True):
            subprocess.run(["rm", "-rf", path], check=False)


def make_corpus_world(root: Path, baseline: str, config: str, tracked: dict[str, str] | None = None) -> CorpusWorld:
    """A user's repository (the baseline and its arrl.toml committed), its secrets, the runs
    directory with an earlier run in it, and sandbox_attacks' world around them."""
    from support import make_repo

    files = {"train.py": baseline, **(tracked or {})}
    repo = make_repo(root / "repo", files, config)
    runs = repo / ".arrl"
    runs.mkdir()
    base = make_world(root, repo, runs)
    real_home = Path(pwd.getpwuid(os.getuid()).pw_dir)
    world = CorpusWorld(base, marker="arrlmark" + uuid.uuid4().hex[:12], real_home=real_home, host_ip=host_ip())

    def plant(path: Path, text: str, secret: str) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        base.canaries[str(path)] = secret

    home = base.home
    credential = secret_text()
    plant(home / ".git-credentials", f"https://arrl-user:{credential}@github.com\n", credential)
    dotenv = secret_text()
    plant(repo / ".env", f"WANDB_API_KEY={dotenv}\n", dotenv)
    remote = secret_text()
    with open(repo / ".git" / "config", "a") as handle:
        handle.write(f'[remote "origin"]\n\turl = https://arrl-user:{remote}@github.com/user/repo.git\n')
    base.canaries[str(repo / ".git" / "config")] = remote
    (home / ".bashrc").write_text("# the user's shell settings\nexport EDITOR=vi\n")
    (home / ".gitconfig").write_text("[user]\n\tname = Test User\n\temail = test@example.com\n")
    # An earlier run: its journal and an experiment's output (weights, a token it logged).
    earlier = runs / "20200101-000000-0001"
    world.earlier_run = earlier
    weights, logged = secret_text(), secret_text()
    plant(earlier / "experiments" / "3" / "output" / "model.txt", weights, weights)
    plant(earlier / "journal.jsonl", json.dumps({"id": 3, "failure_reason": f"token {logged}"}) + "\n", logged)
    world.env_secrets = {"AWS_SECRET_ACCESS_KEY": secret_text(), "GITHUB_TOKEN": secret_text(),
                         "OPENAI_API_KEY": secret_text(), "ARRL_TEST_SECRET": base.secret}
    # The victim whose memory and environment hold a secret.
    world.memory_secret = secret_text()
    world.memory_victim_log = root / "memory-victim.log"
    world.memory_victim_log.write_text("")
    environment_secret = secret_text()
    world.other_secrets.append(environment_secret)
    world.memory_victim = subprocess.Popen(
        [sys.executable, "-c", MEMORY_VICTIM, str(world.memory_victim_log)], stdin=subprocess.PIPE,
        env={"PATH": os.environ.get("PATH", ""), "VICTIM_TOKEN": environment_secret}, start_new_session=True,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    assert world.memory_victim.stdin is not None
    world.memory_victim.stdin.write(world.memory_secret.encode() + b"\n")
    world.memory_victim.stdin.flush()
    _listen(world)
    time.sleep(0.3)
    return world


def _listen(world: CorpusWorld) -> None:
    def tcp(name: str, family: int, address: str) -> None:
        try:
            listener = socket.socket(family)
            listener.bind((address, 0))
        except OSError:
            return
        listener.listen()
        listener.settimeout(0.2)
        world.ports[f"{name}_port"] = listener.getsockname()[1]
        world._sockets.append(listener)

        def accept() -> None:
            while not world.base._stop.is_set():
                try:
                    connection, _ = listener.accept()
                except (TimeoutError, OSError):
                    continue
                world.record(name)
                connection.close()

        threading.Thread(target=accept, daemon=True).start()

    def udp(name: str, address: str) -> None:
        try:
            listener = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            listener.bind((address, 0))
        except OSError:
            return
        listener.settimeout(0.2)
        world.ports[f"{name}_port"] = listener.getsockname()[1]
        world._sockets.append(listener)

        def receive() -> None:
            while not world.base._stop.is_set():
                try:
                    packet, _ = listener.recvfrom(4096)
                except (TimeoutError, OSError):
                    continue
                # A DNS query: a 12-byte header with one question or more.
                kind = "dns" if name == "dns" and len(packet) > 12 and struct.unpack("!H", packet[4:6])[0] else name
                world.record(kind)

        threading.Thread(target=receive, daemon=True).start()

    if world.host_ip != "127.0.0.1":
        tcp("tcp_host", socket.AF_INET, world.host_ip)
        udp("udp_host", world.host_ip)
    tcp("tcp6", socket.AF_INET6, "::1")
    udp("udp", "127.0.0.1")
    udp("dns", "127.0.0.1")


def close_corpus_world(world: CorpusWorld) -> None:
    for listener in world._sockets:
        listener.close()
    if world.memory_victim is not None:
        world.memory_victim.kill()
        world.memory_victim.wait()
    close_world(world.base)


# -- the judge -----------------------------------------------------------------------------
@attrs.define
class Verdict:
    """One experiment as the oracle saw it."""

    id: int
    run_id: str = ""
    name: str = ""  # the corpus entry ("attack secrets/home_files", "honest fused_adamw"); "" for a baseline
    outcome: str = ""
    failure_reason: str = ""
    wall_clock_seconds: float = 0.0
    harms: list[str] = attrs.Factory(list)


@attrs.define
class Judge:
    """Answers the corpus plugin's hooks: a snapshot when an experiment is proposed, a verdict
    when it has finished (or when arrl ended during it: :meth:`interrupted`)."""

    world: CorpusWorld
    budget: float
    grace: float = 0.3
    path: str = ""
    verdicts: list[Verdict] = attrs.Factory(list)
    errors: list[str] = attrs.Factory(list)
    run_id: str = ""
    current: Verdict | None = None  # proposed, not finished
    _server: socket.socket | None = None
    _stop: threading.Event = attrs.Factory(threading.Event)
    _before: dict = attrs.Factory(dict)
    _journal_size: int = 0
    _log_size: int = 0
    _last_after: dict = attrs.Factory(dict)
    _thread: threading.Thread | None = None

    def start(self) -> Judge:
        folder = tempfile.mkdtemp(prefix="arrl-judge-")
        self.path = os.path.join(folder, "judge.sock")
        self._server = socket.socket(socket.AF_UNIX)
        self._server.bind(self.path)
        self._server.listen()
        self._server.settimeout(0.2)
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._server is not None:
            self._server.close()
        shutil.rmtree(os.path.dirname(self.path), ignore_errors=True)

    def _serve(self) -> None:
        assert self._server is not None
        while not self._stop.is_set():
            try:
                connection, _ = self._server.accept()
            except (TimeoutError, OSError):
                continue
            with connection:
                connection.settimeout(None)
                creds = connection.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
                arrl_pid = struct.unpack("3i", creds)[0]
                data = b""
                while not data.endswith(b"\n"):
                    chunk = connection.recv(65536)
                    if not chunk:
                        break
                    data += chunk
                try:
                    self.handle(json.loads(data), arrl_pid)
                except Exception as error:  # noqa: BLE001 - a judge's error is reported, never swallowed
                    self.errors.append(f"{type(error).__name__}: {error}")
                connection.sendall(b"ok\n")

    def run_dir(self) -> Path | None:
        return self.world.runs / self.run_id if self.run_id else None

    def handle(self, message: dict, arrl_pid: int) -> None:
        self.run_id = message["run_id"]
        run_dir = self.run_dir()
        assert run_dir is not None
        identifier = message["id"]
        if message["event"] == "proposed":
            self._before = {
                "files": self.world.guarded(run_dir, identifier),
                "connections": len(self.world.connections()),
                "signals": len(self.world.signals()),
                "victims": self.world.victims(),
                "pids": {int(p) for p in os.listdir("/proc") if p.isdigit()},
                "mounts": self.world.mounts(),
            }
            self._journal_size = _size(run_dir / "journal.jsonl")
            self._log_size = _size(run_dir / "run.log")
            self.current = Verdict(identifier, self.run_id, message.get("edit", ""))
            return
        time.sleep(0.2)  # a signal or a packet in flight lands
        verdict = self.current if self.current is not None and self.current.id == identifier else \
            Verdict(identifier, self.run_id, message.get("edit", ""))
        verdict.outcome, verdict.failure_reason = message["outcome"], message.get("failure_reason", "")
        verdict.wall_clock_seconds = message.get("wall_clock_seconds", 0.0)
        verdict.harms = self.harms(identifier, run_dir, arrl_pid)
        if verdict.wall_clock_seconds > self.budget + self.grace + 10:
            verdict.harms.append(f"it ran {verdict.wall_clock_seconds:.0f} s, past its {self.budget:g} s budget")
        self.verdicts.append(verdict)
        self.current = None

    def interrupted(self, returncode: int, output: str) -> Verdict | None:
        """arrl ended while an experiment was running: that experiment's verdict, its effects
        as they are now, and arrl's end as one of them."""
        verdict, run_dir = self.current, self.run_dir()
        if verdict is None or run_dir is None:
            return None
        tail = [line for line in output.strip().splitlines() if line.strip()][-1:] or [""]
        verdict.outcome = "arrl ended"
        # arrl's own last writes (run.json) and its missing record are the crash's, not the attack's.
        own = str(run_dir / "run.json")
        effects = []
        for harm in self.harms(verdict.id, run_dir, 0):
            if harm.startswith("the journal gained []"):
                continue
            if harm.startswith("changed: ") and own in harm:
                harm = harm.replace(f"'{own}', ", "").replace(f", '{own}'", "").replace(f"'{own}'", "")
                if harm == "changed: []":
                    continue
            effects.append(harm)
        verdict.harms = [f"arrl ended during this experiment (exit {returncode}): {tail[0][:200]}", *effects]
        self.verdicts.append(verdict)
        self.current = None
        return verdict

    def harms(self, identifier: int, run_dir: Path, arrl_pid: int) -> list[str]:
        world, before, found = self.world, self._before, []
        after = world.guarded(run_dir, identifier)
        self._last_after = after
        changed = sorted(k for k in set(before["files"]) | set(after)
                         if before["files"].get(k) != after.get(k))
        if changed:
            found.append(f"changed: {changed[:12]}")
        connections = world.connections()[before["connections"]:]
        if connections:
            found.append(f"connections received: {connections}")
        signals = world.signals()[before["signals"]:]
        if signals:
            found.append(f"signals received: {signals}")
        victims = world.victims()
        for name, state in victims.items():
            was = before["victims"].get(name, {})
            if state.get("state") == "gone":
                found.append(f"the {name} died")
            elif state.get("state") in ("T", "t") or state.get("tracer", "0") != "0":
                found.append(f"the {name} is stopped or traced: {state}")
                process = world.base.victim if name == "victim" else world.memory_victim
                if process is not None:
                    os.kill(process.pid, 18)  # SIGCONT
            elif {k: v for k, v in state.items() if k != "state"} != {k: v for k, v in was.items() if k != "state"}:
                found.append(f"the {name} was changed: {was} -> {state}")
        # What arrl kept of this experiment: its folder, its journal line, the run's log.
        folder = run_dir / "experiments" / str(identifier)
        texts = [_read(path) for path in walk(folder) if path.is_file() and not path.is_symlink()]
        journal = _read(run_dir / "journal.jsonl")[self._journal_size:] if (run_dir / "journal.jsonl").exists() else ""
        log = _read(run_dir / "run.log")[self._log_size:] if (run_dir / "run.log").exists() else ""
        leaked = leaks(world, [*texts, journal, log])
        if leaked:
            found.append(f"secrets in what arrl kept: {leaked}")
        lines = [line for line in journal.splitlines() if line.strip()]
        ids = []
        for line in lines:
            try:
                ids.append(json.loads(line).get("id"))
            except ValueError:
                ids.append("not a record")
        if ids != [identifier]:
            found.append(f"the journal gained {ids}, not this experiment's record alone")
        if world.marker in log:
            found.append("the run's log holds planted text")
        if CONTROL.search(log):
            found.append(f"control characters reached arrl's log: {CONTROL.findall(log)[:5]}")
        links = [str(p) for p in walk(folder / "output") if p.is_symlink() or not (p.is_file() or p.is_dir())]
        if links:
            found.append(f"links or special files left in its output: {links[:5]}")
        leftovers = glob.glob(f"/tmp/arrl-sandbox-{self.run_id}-{identifier}-*")
        if leftovers:
            found.append(f"its sandbox copy is left: {leftovers}")
        mounts = [m for m in world.mounts() if m not in before.get("mounts", [])]
        deadline = time.monotonic() + 3  # a loop device is let go a moment after its unmount
        while any(not m.startswith("/") for m in mounts) and time.monotonic() < deadline:
            time.sleep(0.2)
            mounts = [m for m in world.mounts() if m not in before.get("mounts", [])]
        if mounts:
            found.append(f"mounts or loop devices left: {mounts[:5]}")
        processes = world.processes(self.run_id, before["pids"] | {arrl_pid})
        if processes:
            found.append(f"processes left running: {sorted(processes.values())[:5]}")
        containers = world.containers()
        if containers:
            found.append(f"a container was created through {containers}")
        workspace = run_dir / "workspace"
        status = subprocess.run(["git", "-C", str(workspace), "status", "--porcelain", "--ignored"],
                                capture_output=True, text=True)
        if status.returncode != 0 or status.stdout.strip():
            found.append(f"the worktree is not as arrl left it: {(status.stdout + status.stderr).strip()[:300]}")
        return found

    def finish(self, arrl_output: str) -> list[str]:
        """What one `arrl run` left: secrets or control characters in arrl's own output (each
        added to the experiment whose line holds it), and, a second later, effects that came
        late (a daemon that acted after its experiment, a process still running): those are the
        run's."""
        found: list[str] = []
        current: Verdict | None = None
        mine = {v.id: v for v in self.verdicts if v.run_id == self.run_id}
        for line in arrl_output.splitlines():
            match = re.match(r"#(\d+) ", line)
            if match:
                current = mine.get(int(match.group(1)))
            problems = []
            leaked = leaks(self.world, [line])
            if leaked:
                problems.append(f"secrets in arrl's output: {leaked}")
            if CONTROL.search(line):
                problems.append(f"control characters in arrl's output: {sorted(set(CONTROL.findall(line)))}")
            for problem in problems:
                target = current.harms if current is not None else found
                if problem not in target:
                    target.append(problem)
        time.sleep(1.0)
        run_dir = self.run_dir()
        if run_dir is not None:
            processes = self.world.processes(self.run_id, set())
            if processes:
                found.append(f"processes left running after the run: {sorted(processes.values())[:5]}")
            last = self._last_after
            now = self.world.guarded(run_dir, None)
            if last:
                # A finished run lets its worktrees go (arrl's own doing, not an experiment's):
                # their entries under .git/worktrees go with them.
                worktrees = str(self.world.repo / ".git" / "worktrees") + "/"
                changed = sorted(k for k in set(last) | set(now) if last.get(k) != now.get(k)
                                 and not k.startswith(str(run_dir)) and not k.startswith(worktrees))
                if changed:
                    found.append(f"changed after the last experiment: {changed[:12]}")
        if self.world.containers():
            found.append("a container was created through an engine's socket")
        return found


def leaks(world: CorpusWorld, texts: list[str]) -> list[str]:
    found = set()
    for secret in world.secrets():
        if not secret:
            continue
        forms = encodings(secret)
        if any(form in text for text in texts for form in forms):
            found.add(secret)
    return sorted(found)


def _size(path: Path) -> int:
    return len(_read(path)) if path.exists() else 0


def _read(path: Path) -> str:
    try:
        with open(path, "rb") as handle:
            return handle.read(1 << 26).decode(errors="replace")
    except OSError:
        return ""


def sysctl_values() -> dict[str, bytes]:
    """The /proc/sys values an escape would write, to put them back."""
    saved = {}
    for path in ("/proc/sys/kernel/core_pattern", "/proc/sys/kernel/hostname", "/proc/sys/kernel/modprobe"):
        with contextlib.suppress(OSError):
            saved[path] = Path(path).read_bytes()
    return saved

