"""The Podman runner: each experiment in a locked-down container, killed from outside at the budget.

Uses the ``podman`` command line (no service to start). The container has no network, a
read-only root file system, no capabilities, a pids limit, memory and CPU limits, runs as
nobody, and sees the workspace read-only and its own output directory read-write; nothing else
of the host is writable. See ``container.py`` for the image and the mounts.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import attrs

import arrl
from arrl.errors import EngineError
from arrl.output import scrub_tree
from arrl.run.supervision import supervise

from . import container as c
from .sized_output import sized_output, unmount_stale


@attrs.frozen
class PodmanOptions(c.ContainerOptions):
    podman: str = "podman"  # the command to run


# Measured here: runc refuses nproc at the host's hard limit (96365) with "error setting rlimit
# type 6: operation not permitted", and accepts 32768, the value the container notes use.
NPROC_CAP = 32768


def _ulimit_flags() -> list[str]:
    # Podman asks for more open files than this machine's hard limit allows (raising a hard
    # limit needs CAP_SYS_RESOURCE): ask for no more than the hard limits.
    import resource

    flags = []
    for name, limit, cap in (("nofile", resource.RLIMIT_NOFILE, None), ("nproc", resource.RLIMIT_NPROC, NPROC_CAP)):
        hard = resource.getrlimit(limit)[1]
        if hard == resource.RLIM_INFINITY:
            hard = cap or 1048576
        value = min(hard, cap) if cap else hard
        flags += ["--ulimit", f"{name}={value}:{value}"]
    return flags


CGROUP_ROOT = Path("/sys/fs/cgroup")


def parse_size(text: str) -> int:
    """Bytes of an engine-style size: 16g, 256m, 512k, 1024."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kmgt]?)b?\s*", text.lower())
    if not match:
        raise EngineError(f"bad size {text!r}: use a number with k, m, g or t, e.g. 16g")
    return int(float(match.group(1)) * 1024 ** " kmgt".index(match.group(2) or " "))


class _OomWatch:
    """A memory cgroup of arrl's own, made the container's parent, holding the memory limit.

    Why: measured here (Podman 4.3, runc, cgroup v1, kernel 6.18), `podman inspect` reports
    OOMKilled=false for a container the kernel OOM-killed, and the v1 oom_kill counters stay 0.
    The kernel's OOM notification (an eventfd registered on memory.oom_control, as containerd
    does for Docker) does fire, and registering it on a parent that exists before the container
    starts leaves no window to miss it.
    """

    def __init__(self, name: str, memory: str, swap: str) -> None:
        self.name = name
        self.memory = CGROUP_ROOT / "memory" / "arrl" / name
        self.memory.mkdir(parents=True)
        (self.memory / "memory.limit_in_bytes").write_text(str(parse_size(memory)))
        (self.memory / "memory.memsw.limit_in_bytes").write_text(str(parse_size(swap)))
        self.event = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)
        self.control = os.open(self.memory / "memory.oom_control", os.O_RDONLY | os.O_CLOEXEC)
        (self.memory / "cgroup.event_control").write_text(f"{self.event} {self.control}")

    @staticmethod
    def available() -> bool:
        memory = CGROUP_ROOT / "memory"
        return (memory / "cgroup.event_control").exists() and os.access(memory, os.W_OK) and hasattr(os, "eventfd")

    @property
    def parent(self) -> str:
        return f"/arrl/{self.name}"

    def fired(self) -> bool:
        try:
            return os.eventfd_read(self.event) > 0
        except BlockingIOError:
            return False

    def close(self) -> None:
        os.close(self.event)
        os.close(self.control)
        remove_cgroups(self.name)


def remove_cgroups(name: str) -> None:
    """Remove arrl/<name> (and what the engine left inside it) from every controller."""
    for top in CGROUP_ROOT.glob(f"*/arrl/{name}"):
        for directory in sorted((p for p in top.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)):
            with contextlib.suppress(OSError):
                directory.rmdir()
        with contextlib.suppress(OSError):
            top.rmdir()


class _Container:
    def __init__(self, runner: PodmanRunner, name: str, popen: subprocess.Popen[bytes]) -> None:
        self.runner = runner
        self.name = name
        self.popen = popen
        self.killed = False

    def poll(self) -> int | None:
        return self.popen.poll()

    def terminate(self) -> None:
        self.killed = True
        self.runner._podman("kill", "--signal", "KILL", self.name, check=False)
        try:
            self.popen.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait()


class PodmanRunner(arrl.Runner):
    def __init__(self, options: PodmanOptions = PodmanOptions()) -> None:
        self.options = options
        if shutil.which(options.podman) is None:
            raise EngineError(f"{options.podman!r} is not installed; install it with `apt-get install podman`")

    def _podman(self, *args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        result = subprocess.run([self.options.podman, *args], capture_output=True, text=True, timeout=timeout)
        if check and result.returncode != 0:
            raise EngineError(f"podman {args[0]} failed: {result.stderr.strip() or result.stdout.strip()}")
        return result

    def _image_id(self) -> str:
        result = self._podman("image", "inspect", "--format", "{{.Id}}", self.options.image, check=False)
        if result.returncode != 0:
            raise EngineError(
                f"podman has no image {self.options.image!r}; build it from this machine's files with "
                "`arrl --plugin runner=podman image build`")
        return result.stdout.strip()

    def isolation(self) -> arrl.Isolation:
        return arrl.Isolation("container", "podman: a read-only root, no network, no capabilities, "
                              "the workspace read-only")

    def fingerprint(self) -> dict[str, str]:
        return {"engine": "podman", "image_id": self._image_id(),
                "environment_hash": c.environment_hash(c.site_packages(self.options))}

    def build_image(self) -> str:
        with c.rootfs_tar(c.site_packages(self.options)) as archive:
            result = subprocess.run([self.options.podman, "import", str(archive), self.options.image],
                                    capture_output=True, text=True)
        if result.returncode != 0:
            raise EngineError(f"podman import failed: {result.stderr.strip()}")
        return self._image_id()

    def run(self, request: arrl.RunRequest, monitor: arrl.RunMonitor) -> arrl.RunResult:
        c.prepare_output(request)
        with sized_output(request, self.options.output_bytes) as enforced:
            result = self._run_container(request, monitor)
        details = {**result.details, "output_quota": enforced}
        removed = scrub_tree(request.output_dir)  # the container may have left links to the host's files
        if removed:
            details["output_removed"] = ", ".join(removed[:20])
        return attrs.evolve(result, details=details)

    def _run_container(self, request: arrl.RunRequest, monitor: arrl.RunMonitor) -> arrl.RunResult:
        o = self.options
        fingerprint = self.fingerprint()
        c.prepare_output(request)
        name = c.container_name(request)
        oom = _OomWatch(name, o.memory, o.swap) if _OomWatch.available() else None
        if oom is not None:
            limits = ["--cgroup-parent", oom.parent]
        else:  # e.g. cgroup v2, where podman's own OOMKilled is what there is
            limits = ["--memory", o.memory, "--memory-swap", o.swap]
        flags = [
            "run", "--name", name,
            # arrl keeps the output itself (capped); conmon's own log copy would grow unbounded.
            "--log-driver", "none",
            "--network", "host" if o.network else "none",
            *limits, "--cpus", str(c.cpu_limit(request, o)),
            "--pids-limit", str(o.pids_limit), "--read-only", "--read-only-tmpfs=false",
            "--tmpfs", f"/tmp:rw,size={o.tmpfs_size},mode=1777", "--shm-size", o.shm_size,
            "--cap-drop", "ALL", "--security-opt", "no-new-privileges", "--user", c.NOBODY,
            "--volume", f"{request.workspace}:{c.CONTAINER_WORKSPACE}:ro",
            "--volume", f"{request.output_dir}:{c.CONTAINER_OUTPUT}:rw",
            "--volume", f"{c.site_packages(o)}:{c.CONTAINER_ENV}:ro",
            *(f"--volume={source}:{target}:ro" for source, target in c.read_only_mounts(request).items()),
            "--workdir", c.container_workdir(request),
            *_ulimit_flags(),
        ]
        for key, value in c.labels(request).items():
            flags += ["--label", f"{key}={value}"]
        for key, value in c.container_env(request, o).items():
            flags += ["--env", f"{key}={value}"]
        if o.gpus:
            flags += ["--device", "nvidia.com/gpu=all"]
        started = time.monotonic()
        # In the experiment's folder: conmon leaves an "oom" file in its working directory when the
        # kernel kills the container for memory.
        popen = subprocess.Popen([o.podman, *flags, o.image, *c.container_command(request)], cwd=request.log_dir,
                                 stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        container = _Container(self, name, popen)
        try:
            assert popen.stdout is not None and popen.stderr is not None
            result = supervise(request, monitor, container, popen.stdout, popen.stderr,
                               request.silence_timeout, started, o)
            out_of_memory = oom.fired() if oom is not None else self._podman(
                "inspect", "--format", "{{.State.OOMKilled}}", name, check=False).stdout.strip() == "true"
            return self._finish(result, out_of_memory, container.killed, fingerprint)
        finally:
            if popen.poll() is None:
                container.terminate()
            self._podman("rm", "--force", "--time", "0", name, check=False)
            if oom is not None:
                oom.close()

    def _finish(self, result: arrl.RunResult, out_of_memory: bool, killed: bool,
                fingerprint: dict[str, str]) -> arrl.RunResult:
        details = {**result.details, **fingerprint}
        if out_of_memory and not killed:
            return attrs.evolve(result, outcome=arrl.Outcome.FAILED, failure_reason="out of memory", details=details)
        if result.exit_code in (125, 126, 127) and result.outcome is arrl.Outcome.FAILED:
            # Podman's own errors (the container never started), not the script's.
            details["engine_error"] = result.failure_reason
        return attrs.evolve(result, details=details)

    def cleanup_stale(self, run_id: str) -> int:
        listed = self._podman("ps", "--all", "--quiet", "--filter", f"label={c.LABEL_RUN}={run_id}", check=False)
        ids = listed.stdout.split()
        if ids:
            self._podman("rm", "--force", "--time", "0", *ids, check=False)
        for stale in CGROUP_ROOT.glob(f"memory/arrl/arrl-{run_id}-*"):
            remove_cgroups(stale.name)
        unmount_stale(run_id)  # after the containers: nothing writes to the images any more
        return len(ids)


@arrl.hookimpl
def arrl_runners():
    yield arrl.Registration(
        name="podman",
        summary="rootless-style Podman container: no network, read-only, limits, killed at the budget",
        factory=lambda options, context: PodmanRunner(options),
        options=PodmanOptions,
    )
