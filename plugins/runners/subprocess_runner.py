"""The subprocess runner: the experiment runs as a local process under an outside deadline,
inside the operating system's sandbox (:mod:`.sandbox`) wherever the machine allows one.

The script runs under a small reaper process (see ``reaper.py``) in a session of its own, held
by a containment (a cgroup, or arrl as a subreaper: see ``containment.py``) that outlives
anything the script does to its reaper. The budget, the silence timeout, early stops and the
output limits are enforced here, outside anything the script can edit. Every process of the
experiment also carries a token in its environment, so a later arrl can find and remove what a
killed one left behind.
"""

from __future__ import annotations

import contextlib
import glob
import os
import signal
import stat
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import attrs

import arrl
from arrl.output import OutputLimits, parse_size, remove_tree, scrub_tree, size_at_least
from arrl.run.supervision import supervise
from arrl.trace import MOUNTED_TRACER, TRACER, script_command

from . import landlock, limits, network, sandbox, seccomp
from .containment import CgroupContainment, Containment, contain, kill_cgroup, remove_cgroup, stale_cgroups

REAPER = Path(__file__).with_name("reaper.py")
TOKEN_VARIABLE = "ARRL_PROCESS_TOKEN"


def _memory_option(_: object, attribute: attrs.Attribute, value: str) -> None:
    if value not in ("auto", "none"):
        size_at_least(64 << 20)(_, attribute, value)


@attrs.frozen
class SubprocessOptions(OutputLimits):
    # The interpreter that runs the script; empty means the one running arrl.
    python: str = ""
    # Seconds between SIGTERM and SIGKILL when a run is ended, for a last log flush.
    term_grace: float = attrs.field(default=0.3, validator=[attrs.validators.ge(0), attrs.validators.le(5)])
    # What holds every process of an experiment (see containment.py): "cgroup" (a cgroup v2
    # of its own), "subreaper" (arrl adopts the orphans), or "auto": a cgroup where allowed.
    containment: str = attrs.field(default="auto", validator=attrs.validators.in_(("auto", "cgroup", "subreaper")))
    # The sandbox (bubblewrap; see sandbox.py and docs/security.md): "auto" sandboxes wherever
    # this machine can and says why not where it cannot; "on" refuses to run without it; "off"
    # runs the script with your privileges, files, network and environment.
    sandbox: str = attrs.field(default="auto", validator=attrs.validators.in_(("auto", "on", "off")))
    # Folders the sandboxed script may read besides its own tree (data sets, say), read-only.
    read_paths: tuple[str, ...] = ()
    # Names of environment variables passed into the sandbox (nothing of arrl's environment is,
    # but the script contract's variables and the locale).
    forward_env: tuple[str, ...] = ()
    # Sizes of the sandbox's private /tmp and /dev/shm (memory-backed).
    tmp_size: str = attrs.field(default="1g", validator=size_at_least(1 << 20))
    shm_size: str = attrs.field(default="1g", validator=size_at_least(1 << 20))
    # The experiment's memory (its /tmp and /dev/shm included) and its tasks (processes and
    # threads), held by a cgroup (limits.py): "auto" is three quarters of the machine's memory;
    # "none" asks for no limit. A record's details say whether each was held.
    memory: str = attrs.field(default="auto", validator=_memory_option)
    pids: int = attrs.field(default=16384, validator=attrs.validators.ge(0))
    # The sandbox's network: "none" (a loopback only), or "egress": the internet through
    # slirp4netns, with the host, its loopback and every private and link-local range refused
    # (network.py). Without the sandbox the script has your network whatever this says.
    network: str = attrs.field(default="none", validator=attrs.validators.in_(("none", "egress")))
    # Landlock inside the sandbox (landlock.py), where the kernel has it: "auto" keeps the
    # experiment's writable folders from being executed (and, with ABI 6, its signals and
    # abstract sockets in); "off" leaves the sandbox to bubblewrap and seccomp alone.
    landlock: str = attrs.field(default="auto", validator=attrs.validators.in_(("auto", "off")))

    def memory_bytes(self) -> int:
        if self.memory == "auto":
            return limits.default_memory()
        return 0 if self.memory == "none" else parse_size(self.memory)


def processes_with_token(prefix: str) -> list[int]:
    """Pids whose environment holds ``ARRL_PROCESS_TOKEN`` starting with ``prefix``."""
    needle = f"{TOKEN_VARIABLE}={prefix}".encode()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as handle:
                environ = handle.read()
        except OSError:
            continue
        if any(item.startswith(needle) for item in environ.split(b"\0")):
            found.append(int(entry))
    return found


def kill_token(prefix: str) -> int:
    killed = 0
    for _ in range(50):  # repeat: a process may fork between the scan and the kill
        pids = processes_with_token(prefix)
        if not pids:
            break
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
                killed += 1
            except ProcessLookupError:
                pass
        time.sleep(0.01)
    return killed


class _Process:
    """The reaper and, through the containment, every process the experiment started."""

    def __init__(self, popen: subprocess.Popen[bytes], token: str, grace: float, containment: Containment) -> None:
        self.popen = popen
        self.token = token
        self.grace = grace
        self.containment = containment
        self.ended = False
        self.ending = False  # arrl itself is ending the run
        self.reaper_killed_by = 0  # the signal that killed the reaper, when arrl did not send it

    def poll(self) -> int | None:
        code = self.popen.poll()
        if code is None:
            return None
        if code < 0 and not self.ending and not self.reaper_killed_by:
            self.reaper_killed_by = -code
        # The reaper is gone -- by itself, or killed by the script. Whatever it left (a setsid
        # daemon holding the pipes, say) dies now: the experiment ends with its reaper.
        self.end_all()
        return code

    def terminate(self) -> None:
        self.ending = True
        try:
            self.popen.send_signal(signal.SIGTERM)  # the reaper: SIGTERM, grace, SIGKILL all
            self.popen.wait(timeout=self.grace + 0.3)
        except (subprocess.TimeoutExpired, ProcessLookupError):
            pass
        if self.popen.poll() is None:
            try:
                os.killpg(self.popen.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.popen.wait()
        self.end_all()

    def end_all(self) -> None:
        if not self.ended:
            self.containment.kill_all(self.popen.pid)
            kill_token(self.token)
            self.ended = True


@attrs.define
class _Launch:
    """How one experiment's script is started."""

    command: list[str]
    env: dict[str, str]
    pass_fds: tuple[int, ...] = ()
    details: dict[str, str] = attrs.Factory(dict)
    workspace_copy: Path | None = None  # the sandbox's copy of the tree, held to the quota
    egress: network.Egress | None = None


class _Nothing:
    def close(self) -> None:
        pass


class SubprocessRunner(arrl.Runner):
    def __init__(self, options: SubprocessOptions = SubprocessOptions()) -> None:
        self.options = options
        self.probe = sandbox.probe() if options.sandbox != "off" else None
        if options.sandbox == "on" and self.probe is not None and not self.probe.available:
            raise arrl.ConfigError(f"[options.runner] sandbox = \"on\", but {self.probe.reason}")
        if options.network == "egress" and self.sandboxed and network.missing():
            raise arrl.ConfigError(f"[options.runner] {network.missing()}")

    @property
    def sandboxed(self) -> bool:
        return self.probe is not None and self.probe.available

    def isolation(self) -> arrl.Isolation:
        if self.sandboxed:
            net = ("the internet only (egress)" if self.options.network == "egress" else "no network")
            return arrl.Isolation("sandbox", f"bubblewrap: {net}, an allow-listed file tree, no capabilities")
        if self.options.sandbox == "off":
            return arrl.Isolation("none", "the subprocess runner's sandbox is off ([options.runner] sandbox = \"off\")",
                                  chosen=True)
        assert self.probe is not None
        return arrl.Isolation("none", self.probe.reason)

    def environment(self, request: arrl.RunRequest, token: str) -> dict[str, str]:
        """The experiment's environment: arrl's own, the request's ARRL_* variables, the token
        that lets a later arrl find its processes, and unbuffered output for live metrics."""
        return {**os.environ, **request.env, TOKEN_VARIABLE: token, "PYTHONUNBUFFERED": "1"}

    def run(self, request: arrl.RunRequest, monitor: arrl.RunMonitor) -> arrl.RunResult:
        token = f"arrl-{request.run_id}-{request.experiment_id}-{uuid.uuid4().hex}"
        request.output_dir.mkdir(parents=True, exist_ok=True)
        with self._launch(request, token) as launch:
            result = self._supervise(request, monitor, token, launch)
        details = launch.details
        removed = scrub_tree(request.output_dir) if self.sandboxed else []
        if removed:
            details["output_removed"] = ", ".join(removed[:20])
        return attrs.evolve(result, details={**result.details, **details})

    @contextlib.contextmanager
    def _launch(self, request: arrl.RunRequest, token: str) -> Iterator[_Launch]:
        """The command, environment and descriptors that start the script: in the sandbox (a
        fresh copy of its tree, removed afterwards), or as a plain process."""
        python = self.options.python or sys.executable
        if not self.sandboxed:
            command = script_command(python, str(request.script), request.args, request.trace,
                                     output_dir=str(request.output_dir), root=str(request.workspace))
            yield _Launch(command, self.environment(request, token), details={"sandbox": "off"})
            return
        assert self.probe is not None
        scratch = Path(tempfile.mkdtemp(prefix=f"arrl-sandbox-{request.run_id}-{request.experiment_id}-"))
        try:
            copy = scratch / "workspace"
            sandbox.copy_workspace(request.workspace, copy)
            spec = sandbox.SandboxSpec(
                workspace=request.workspace, workspace_copy=copy, output_dir=request.output_dir,
                workdir=request.workdir, python=python, read_paths=self.options.read_paths,
                tmp_size=parse_size(self.options.tmp_size), shm_size=parse_size(self.options.shm_size),
                gpus=request.env.get("CUDA_VISIBLE_DEVICES", os.environ.get("CUDA_VISIBLE_DEVICES")),
                identity=scratch / "etc", tracer=TRACER if request.trace else None)
            asked = self.options.network == "egress"
            with seccomp.filter_descriptor(self.probe.seccomp) as filter_fd, \
                    contextlib.closing(network.Egress() if asked else _Nothing()) as made:
                egress = made if isinstance(made, network.Egress) else None
                extra = [*egress.bwrap_args(), *network.resolv_conf(scratch / "net")] if egress else []
                script, locked = self._landlocked(python, request)
                command = sandbox.bwrap_command(self.probe, spec, filter_fd, script, extra)
                env = sandbox.environment(request.env, TOKEN_VARIABLE, token, self.options.forward_env)
                details = {"sandbox": "bwrap", "landlock": locked,
                           "network": "egress (slirp4netns; the host and private ranges refused)" if egress else "none",
                           "seccomp": "on" if filter_fd is not None else f"off ({seccomp.machine()})"}
                fds = (*((filter_fd,) if filter_fd is not None else ()), *(egress.passed_fds() if egress else ()))
                yield _Launch(command, env, fds, details, copy, egress)
        finally:
            remove_tree(scratch)

    def _landlocked(self, python: str, request: arrl.RunRequest) -> tuple[list[str], str]:
        """The script's command inside the sandbox, under Landlock where it holds, and what the
        record says of it."""
        command = script_command(python, str(request.script), request.args, request.trace,
                                 output_dir=str(request.output_dir), root=str(request.workspace),
                                 tracer=MOUNTED_TRACER)
        if self.options.landlock == "off":
            return command, 'off (runner option landlock = "off")'
        if landlock.abi() == 0:
            return command, landlock.status()
        writable = [str(request.workspace), str(request.output_dir), "/tmp", "/dev/shm"]
        readable = sandbox.read_only_paths(python, self.options.read_paths)
        if request.trace:
            readable.append(MOUNTED_TRACER)
        return landlock.wrap(python, command, readable, writable), landlock.status()

    def _supervise(self, request: arrl.RunRequest, monitor: arrl.RunMonitor, token: str,
                   launch: _Launch) -> arrl.RunResult:
        containment = contain(self.options.containment, token)
        held = limits.impose(token, self.options.memory_bytes(), self.options.pids,
                             containment.path if isinstance(containment, CgroupContainment) else None)
        command = [sys.executable, str(REAPER), str(self.options.term_grace), *containment.reaper_args(),
                   *held.reaper_args(), "--", *launch.command]
        started = time.monotonic()
        try:
            popen = subprocess.Popen(
                command, cwd=request.workdir, env=launch.env, stdin=subprocess.DEVNULL, pass_fds=launch.pass_fds,
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
            )
        except BaseException:
            containment.close()
            held.close()
            raise
        process = _Process(popen, token, self.options.term_grace, containment)
        try:
            assert popen.stdout is not None and popen.stderr is not None
            unconnected = _connect(launch, process)
            result = supervise(request, monitor, process, popen.stdout, popen.stderr,
                               request.silence_timeout, started, self.options, launch.workspace_copy)
            if unconnected:
                result = attrs.evolve(result, outcome=arrl.Outcome.FAILED, failure_reason=unconnected)
            return _explained(result, held, process, containment.kind)
        finally:
            if popen.poll() is None:
                process.terminate()
            process.end_all()
            containment.close()
            held.close()
            for stream in (popen.stdout, popen.stderr):
                if stream is not None:
                    stream.close()

    def cleanup_stale(self, run_id: str) -> int:
        killed = kill_token(f"arrl-{run_id}-")
        for group in [*stale_cgroups(run_id), *limits.stale_groups(run_id)]:
            killed += kill_cgroup(group)
            remove_cgroup(group)
        # The sandbox copies of an arrl that was killed (SIGKILL, a power cut) before it could
        # remove them: the run's lock says no other arrl is running it now.
        for scratch in Path(tempfile.gettempdir()).glob(f"arrl-sandbox-{glob.escape(run_id)}-*"):
            try:
                seen = scratch.lstat()
            except FileNotFoundError:
                continue
            if stat.S_ISDIR(seen.st_mode) and seen.st_uid == os.getuid():  # a folder, not a link
                remove_tree(scratch)
        return killed


def _connect(launch: _Launch, process: _Process) -> str:
    """Give a sandbox that asked for egress its network before its script starts; '' when
    done or not asked, else why not (the experiment is then ended before it began)."""
    if launch.egress is None:
        return ""
    launch.egress.after_start()
    try:
        launch.egress.connect()
    except (OSError, subprocess.SubprocessError) as error:
        process.terminate()
        return f"network egress could not be set up, so the script was not started: {error}"
    return ""


def _explained(result: arrl.RunResult, held: limits.Limits, process: _Process, containment: str) -> arrl.RunResult:
    """The result with what held the experiment in its details, and a failure the kernel's
    memory limit or a killed reaper caused said as such (the script's own exit says neither)."""
    result = attrs.evolve(result, details={**result.details, "containment": containment, **held.details})
    if held.out_of_memory() and result.outcome is arrl.Outcome.FAILED:
        result = attrs.evolve(result, failure_reason=(
            f"out of memory: the experiment reached its limit of {held.details['memory_limit'].split(',')[0]} "
            f"(runner option memory) and the kernel ended it; {result.failure_reason}"))
    if process.reaper_killed_by and result.outcome is arrl.Outcome.FAILED:
        name = signal.Signals(process.reaper_killed_by).name
        result = attrs.evolve(result, failure_reason=(
            f"the script killed arrl's reaper process ({name}); every process of the "
            f"experiment was ended ({containment})"))
    return result


@arrl.hookimpl
def arrl_runners():
    yield arrl.Registration(
        name="subprocess",
        summary="local process; budget, silence and early stop enforced from outside",
        factory=lambda options, context: SubprocessRunner(options),
        options=SubprocessOptions,
    )
