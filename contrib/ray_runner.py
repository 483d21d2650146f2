"""The Ray runner: each experiment runs on a Ray cluster, through any other runner.

Install with ``pip install 'arrl[ray]'`` and choose it with ``--plugin runner=ray`` (or
``arrl run --ray-address ADDRESS``). With ``arrl run --workers N`` the N workers run N experiments
on the cluster at once.

What goes to Ray, and what stays: the coordinator (proposer, validators, journal, memory, reward,
rollback, the early stopper) stays in the arrl process; only running the experiment goes to Ray.
Each worker's runner owns one Ray actor, a process on some node of the cluster, which builds the
*inner* runner (``subprocess`` by default; ``podman`` and ``docker`` work the same) on that node
and runs the experiment with it. So the budget, the silence timeout, the containment and the
containers are exactly the inner runner's: Ray adds a place to run, nothing else.

- **Metrics and early stopping.** The inner runner's monitor, inside the actor, hands each metric
  line to the arrl process and waits for its verdict (continue, stop early) before the script's
  next line is read: an early stop happens at the same line as without Ray. The arrl process
  long-polls the actor, so a line costs one round trip, not a polling interval.
- **Files.** On the arrl process's own node the actor uses the worktree in place. On another node
  (or always, with ``ship = "always"``) the worktree's files (not ``.git``) travel through Ray's
  object store; the experiment's output directory and logs are packed on the node into a file
  (folders and regular files only, any depth) that the arrl process takes piece by piece (32 MiB
  at a time) onto its own disk, to the paths the journal names: a large output never sits whole
  in its memory.
- **The budget.** The inner runner ends a run at the budget. Should the actor itself stop
  answering (its node lost, a hang in Ray), the arrl process gives up ``grace`` seconds after the
  budget, kills the actor and records a timeout.
- **A Ray worker killed mid-experiment** (the OOM killer, a lost node) is recorded once, as a
  failed experiment: the actor is created with no restarts and its calls with no retries, so Ray
  never runs the experiment a second time behind the journal's back. What the experiment left on
  its node (processes, containers) is removed there, and the next experiment gets a new actor.

The cluster: ``address = ""`` starts a small local one for the run (``num_cpus`` CPUs, no
dashboard, a small object store) and stops it at the end; ``"auto"`` joins the cluster this
machine belongs to (``ray start --head`` beforehand); ``host:port`` or ``ray://host:port`` joins
that one. Every node needs arrl, the inner runner's dependencies and, for a container runner, the
image (build it there with ``arrl image build`` or pull it from a registry).
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import os
import shutil
import socket
import stat
import subprocess
import tarfile
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import attrs

import arrl
from arrl.errors import ConfigError
from arrl.output import parse_size, remove_tree, size_at_least, walk_tree
from arrl.records import MetricPoint, Outcome


def _ray_installed() -> bool:
    try:
        return importlib.util.find_spec("ray") is not None
    except (ImportError, ValueError):
        return False


# Checked without importing ray (a second of start-up), so that `arrl plugins` stays light; a
# missing ray makes this plugin fail to load, which `arrl plugins` reports.
if not _ray_installed():
    raise ImportError("No module named 'ray': install it with pip install 'arrl[ray]'")


@attrs.frozen
class RayOptions:
    # The runner that runs the experiment on the Ray node, and its options.
    inner: str = "subprocess"
    inner_options: dict[str, Any] = attrs.Factory(dict)
    # "": a local cluster started for this run; "auto": the cluster this machine belongs to;
    # "host:port" or "ray://host:port": that cluster.
    address: str = ""
    # The local cluster's CPUs; 0: the CPUs arrl may use. Ignored when joining a cluster.
    num_cpus: int = attrs.field(default=0, validator=attrs.validators.ge(0))
    # The local cluster's object store (carries shipped worktrees and outputs), in MiB.
    object_store_mb: int = attrs.field(default=256, validator=attrs.validators.ge(80))
    # GPUs Ray reserves for each experiment; its CUDA_VISIBLE_DEVICES then replaces --gpus'.
    gpus_per_experiment: float = attrs.field(default=0.0, validator=attrs.validators.ge(0))
    # "auto": ship the worktree only to another node; "always": ship it even to this node (what
    # a multi-node cluster does, on one machine); "never": the nodes share the file system.
    ship: str = attrs.field(default="auto", validator=attrs.validators.in_(("auto", "always", "never")))
    # Bytes of an experiment's returned output that the arrl process holds in memory at once.
    return_piece: str = attrs.field(default="32m", validator=size_at_least(1 << 20))
    # Variables of the arrl process's environment that experiments get too (names). Otherwise
    # an experiment sees its Ray node's environment, plus the ARRL_* and thread variables.
    forward_env: list[str] = attrs.Factory(list)
    # Seconds past the budget after which an unanswering actor is killed and a timeout recorded.
    grace: float = attrs.field(default=30.0, validator=attrs.validators.gt(0))
    # Seconds to wait for Ray to place and start an experiment's actor (a busy cluster frees room
    # as other work ends; an autoscaling one adds nodes); past it the experiment fails, unrun.
    start_timeout: float = attrs.field(default=600.0, validator=attrs.validators.gt(0))


# --- the cluster -----------------------------------------------------------------------------

_cluster_lock = threading.Lock()
_cluster_users = 0
_started_here = False


def _connect(options: RayOptions) -> None:
    """Join (or start) the cluster once per process; every Ray runner of the run shares it."""
    global _cluster_users, _started_here
    import ray

    with _cluster_lock:
        if not ray.is_initialized():
            os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # no prompt, nothing sent
            _check_reachable(options.address)
            try:
                if options.address:
                    ray.init(address=options.address, log_to_driver=False, configure_logging=False)
                else:
                    from arrl.run.resources import available_cpus

                    # Marked, so that what outlives a SIGKILLed arrl (Ray's agents do) is found
                    # and removed by the next local cluster's start.
                    _remove_orphaned_clusters()
                    os.environ[OWNER_VARIABLE] = str(os.getpid())

                    # Small: no dashboard UI, no idle workers started ahead of need (each is a
                    # Python process of ~80 MB); an experiment's actor starts when it is first used.
                    ray.init(num_cpus=options.num_cpus or available_cpus(), include_dashboard=False,
                             object_store_memory=options.object_store_mb * 1024 * 1024,
                             log_to_driver=False, configure_logging=False,
                             _system_config={"enable_worker_prestart": False,
                                             "prestart_worker_first_driver": False})
                    _started_here = True
            except Exception as error:  # noqa: BLE001 - Ray raises many kinds; each is one clear line here
                where = f"at {options.address!r}" if options.address else "(a local one)"
                raise arrl.ArrlError(f"cannot reach the Ray cluster {where}: {error}") from None
        _cluster_users += 1


OWNER_VARIABLE = "ARRL_RAY_CLUSTER_OWNER"


def _remove_orphaned_clusters() -> int:
    """SIGKILL the processes of local clusters whose arrl process is gone (it was killed before
    it could stop them); returns how many."""
    import signal

    needle = f"{OWNER_VARIABLE}=".encode()
    removed = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as handle:
                owner = next((item[len(needle):] for item in handle.read().split(b"\0") if item.startswith(needle)), b"")
            if not owner.isdigit() or int(owner) == os.getpid() or Path(f"/proc/{int(owner)}").exists():
                continue
            os.kill(int(entry), signal.SIGKILL)
            removed += 1
        except (OSError, ValueError):
            continue
    return removed


def _check_reachable(address: str) -> None:
    """Fail at once on a host:port nothing listens on: Ray itself retries for minutes."""
    host, colon, port = address.removeprefix("ray://").rpartition(":")
    if not colon or not host or not port.isdigit() or address == "auto":
        return
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=10).close()
    except OSError as error:
        raise arrl.ArrlError(f"cannot reach the Ray cluster at {address!r}: {error}; start one with "
                             "`ray start --head`, or use --ray-address local for a cluster of this run's own") from None


def _disconnect() -> None:
    global _cluster_users, _started_here
    import ray

    with _cluster_lock:
        _cluster_users -= 1
        if _cluster_users <= 0 and _started_here:
            ray.shutdown()  # the local cluster was this run's: its processes end with it
            _started_here = False


# --- what runs on the Ray node ---------------------------------------------------------------

def _pack(*directories: tuple[Path, str]) -> bytes:
    """A tar of each (directory, name in the archive), without version-control metadata."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz", compresslevel=1) as tar:
        for directory, name in directories:
            if directory.is_dir():
                tar.add(directory, arcname=name, filter=lambda info: None if info.name.split("/")[-1] == ".git" else info)
    return buffer.getvalue()


def _unpack(archive: bytes, destination: Path) -> None:
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
        tar.extractall(destination, filter="data")


def _pack_into(path: Path, *directories: tuple[Path, str], limit: int = 4 << 30) -> None:
    """What an experiment left, as a tar file: folders and regular files only (output is data:
    no link, device or pipe comes back), walked without recursion (arrl.output.walk_tree), so
    a tree of any depth is packed rather than ending the worker."""
    with tarfile.open(path, mode="w:gz", compresslevel=1) as tar:
        for directory, name in directories:
            if not directory.is_dir():
                continue
            tar.add(directory, arcname=name, recursive=False)
            apparent = 0
            for entry in walk_tree(directory, skip=lambda e: e.name == ".git"):
                # A sparse file passes the quota (blocks on disk) and would unpack whole on
                # arrl's disk: what comes back is held to the quota in apparent size too.
                apparent += entry.info.st_size
                if apparent > limit:
                    break
                info = tarfile.TarInfo("/".join((name, *entry.parts)))
                info.mode, info.mtime = stat.S_IMODE(entry.info.st_mode), int(entry.info.st_mtime)
                if stat.S_ISDIR(entry.info.st_mode):
                    info.type = tarfile.DIRTYPE
                    tar.addfile(info)
                elif stat.S_ISREG(entry.info.st_mode):
                    with contextlib.suppress(OSError), open(
                            os.open(entry.name, os.O_RDONLY | os.O_NOFOLLOW, dir_fd=entry.folder), "rb") as handle:
                        info.size = os.fstat(handle.fileno()).st_size
                        tar.addfile(info, handle)


def _unpack_file(path: Path, destination: Path) -> int:
    """Unpack member by member (the data filter: nothing outside ``destination``); a member that
    cannot be written here (a path past PATH_MAX) is skipped. Returns how many were."""
    skipped = 0
    try:
        with tarfile.open(path, mode="r:gz") as tar:
            for member in tar:
                try:
                    tar.extract(member, destination, filter="data")
                except (OSError, tarfile.TarError):
                    skipped += 1
    except (OSError, EOFError, tarfile.TarError):
        return -1  # cut short: what was unpacked stays
    return skipped


class _RemoteMonitor(arrl.RunMonitor):
    """The inner runner's monitor on the Ray node: each metric point waits for the arrl process's
    verdict, so an early stop ends the run at the same point as it would without Ray."""

    # An arrl process that stops answering must not freeze the run: its own deadline kills us.
    VERDICT_WAIT = 60.0

    def __init__(self) -> None:
        self.condition = threading.Condition()
        self.points: list[MetricPoint] = []
        self.answered = 0
        self.stop = False
        self.abort = False
        self.finished = False

    def on_metric(self, point: MetricPoint) -> bool:
        with self.condition:
            self.points.append(point)
            index = len(self.points)
            self.condition.notify_all()
            self.condition.wait_for(lambda: self.answered >= index or self.stop or self.abort, self.VERDICT_WAIT)
            return not self.stop

    def should_abort(self) -> bool:
        return self.abort

    def exchange(self, answered: int, stop: bool, abort: bool, wait: float) -> tuple[list[MetricPoint], bool]:
        """Take the verdicts up to ``answered``; return the points after it (waiting up to
        ``wait`` seconds for one) and whether the run has ended."""
        with self.condition:
            self.answered, self.stop, self.abort = answered, self.stop or stop, abort
            self.condition.notify_all()
            self.condition.wait_for(lambda: len(self.points) > answered or self.finished, wait)
            return self.points[answered:], self.finished

    def end(self) -> None:
        with self.condition:
            self.finished = True
            self.condition.notify_all()


class ExperimentHost:
    """The Ray actor: builds the inner runner on its node and runs one experiment at a time."""

    def __init__(self, inner: str, inner_options: dict[str, Any], context: arrl.PluginContext) -> None:
        from arrl.manager import Registry, build_options, plugin_manager

        registration = Registry(plugin_manager()).get("runner", inner)
        self.runner: arrl.Runner = registration.factory(build_options(registration, inner_options), context)
        # One monitor per run() call (keyed by a token the arrl process draws), made by whichever comes first, run() or the arrl process's
        # first exchange(): the actor serves calls concurrently, and an exchange served before
        # run() had made a new monitor took the last experiment's points for the new one's.
        self.monitors: dict[str, _RemoteMonitor] = {}
        self.monitors_lock = threading.Lock()
        self.returned: Path | None = None  # the last shipped experiment's packed output
        quota = getattr(build_options(registration, inner_options), "output_quota", "4g")
        self.output_quota = parse_size(quota)

    def where(self) -> tuple[str, int]:
        import ray

        return ray.get_runtime_context().get_node_id(), os.getpid()

    def run(self, request: arrl.RunRequest, archive: bytes | None, key: str) -> tuple[arrl.RunResult, int | None]:
        """Run one experiment; with ``archive`` (shipped), pack what it left into a file kept on
        this node for :meth:`read_returned`, and return its size."""
        import ray

        monitor = self._monitor(key, current=True)
        gpus = ray.get_gpu_ids()
        if gpus:  # Ray's choice of GPU on this node, not the arrl machine's --gpus
            request = attrs.evolve(request, env={**request.env, "CUDA_VISIBLE_DEVICES": ",".join(map(str, gpus))})
        if archive is None:
            try:
                return self.runner.run(request, monitor), None
            finally:
                monitor.end()
        # Shipped: the worktree (and the output directory, which a trusted evaluation reads)
        # unpacked in a directory of its own, every path of the request moved there, and the
        # output and logs packed for the way back.
        scratch = Path(tempfile.mkdtemp(prefix=f"arrl-ray-{request.run_id}-{request.experiment_id}-"))
        try:
            workspace, output, logs = scratch / "workspace", scratch / "output", scratch / "log"
            _unpack(archive, scratch)
            for directory in (workspace, output, logs):
                directory.mkdir(exist_ok=True)
            moved = attrs.evolve(
                request, workspace=workspace, script=workspace / request.script.relative_to(request.workspace),
                workdir=workspace / request.workdir.relative_to(request.workspace), output_dir=output, log_dir=logs,
                env={**request.env, "ARRL_OUTPUT_DIR": str(output)})
            try:
                result = self.runner.run(moved, monitor)
            finally:
                monitor.end()
            self.drop_returned()
            self.returned = Path(tempfile.mkdtemp(prefix="arrl-ray-returned-")) / "returned.tar.gz"
            _pack_into(self.returned, (output, "output"), (logs, "log"), limit=self.output_quota)
            return result, self.returned.stat().st_size
        finally:
            remove_tree(scratch)

    def read_returned(self, offset: int, length: int) -> bytes:
        """A piece of the last experiment's packed output: the arrl process takes it piece by
        piece onto its disk, so a large output never sits whole in its memory."""
        assert self.returned is not None
        with self.returned.open("rb") as handle:
            handle.seek(offset)
            return handle.read(length)

    def drop_returned(self) -> None:
        if self.returned is not None:
            remove_tree(self.returned.parent)
            self.returned = None

    def _monitor(self, key: str, current: bool = False) -> _RemoteMonitor:
        """The monitor of the run() call ``key``; ``current`` (run() starting) forgets earlier ones."""
        with self.monitors_lock:
            monitor = self.monitors.setdefault(key, _RemoteMonitor())
            if current:
                self.monitors = {key: monitor}
            return monitor

    def exchange(self, key: str, answered: int, stop: bool, abort: bool,
                 wait: float) -> tuple[list[MetricPoint], bool]:
        return self._monitor(key).exchange(answered, stop, abort, wait)

    def fingerprint(self) -> dict[str, str]:
        return self.runner.fingerprint()

    def build_image(self) -> str:
        return self.runner.build_image()

    def close(self) -> None:
        self.runner.close()


def remove_leftovers(run_id: str, experiment_id: int | None = None, ray_worker: int = 0) -> int:
    """Remove, on this node, what experiments of ``run_id`` (or only ``experiment_id``) left
    running after their Ray worker died or was given up: the worker process ``ray_worker`` itself
    when it is still there (a frozen one holds its CPUs until Ray's own kill gets through), then
    processes (by their token), cgroups and containers."""
    import signal

    from arrl.plugins.runners.container import LABEL_EXPERIMENT, LABEL_RUN
    from arrl.plugins.runners.containment import cgroup2_base, kill_cgroup, remove_cgroup
    from arrl.plugins.runners.subprocess_runner import kill_token

    removed = 0
    try:
        with open(f"/proc/{ray_worker}/cmdline", "rb") as handle:
            is_ray_worker = ray_worker > 0 and handle.read().startswith(b"ray::")  # not a reused pid
        if is_ray_worker:
            os.kill(ray_worker, signal.SIGKILL)
            removed += 1
    except OSError:
        pass
    prefix = f"arrl-{run_id}-" + (f"{experiment_id}-" if experiment_id is not None else "")
    removed += kill_token(prefix)
    base = cgroup2_base()
    for group in base.glob(f"{prefix}*") if base is not None else ():
        removed += kill_cgroup(group)
        remove_cgroup(group)
    filters = ["--filter", f"label={LABEL_RUN}={run_id}"]
    if experiment_id is not None:
        filters += ["--filter", f"label={LABEL_EXPERIMENT}={experiment_id}"]
    for engine in ("podman", "docker"):
        if shutil.which(engine) is None:
            continue
        listed = subprocess.run([engine, "ps", "--all", "--quiet", *filters], capture_output=True, text=True,
                                timeout=60, check=False)
        ids = listed.stdout.split()
        if ids:
            subprocess.run([engine, "rm", "--force", *ids], capture_output=True, timeout=120, check=False)
            removed += len(ids)
    return removed


# --- the arrl process's side -----------------------------------------------------------------

class _NotStarted(Exception):
    """Ray found no room for an experiment's actor in time."""


class RayRunner(arrl.Runner):
    # How long one long poll of the actor waits for a metric point before checking the rest.
    POLL_SECONDS = 0.25

    def __init__(self, options: RayOptions, context: arrl.PluginContext) -> None:
        if options.inner == "ray":
            raise ConfigError("runner 'ray' runs experiments through another runner: set inner to subprocess, "
                              "podman or docker, not ray")
        from arrl.manager import Registry, build_options, plugin_manager

        # The inner runner's name and options are checked here, before any cluster is touched.
        registration = Registry(plugin_manager()).get("runner", options.inner)
        build_options(registration, options.inner_options)
        self.options = options
        self.context = context
        _connect(options)
        self.connected = True
        self.actor: Any = None
        self.actor_node = ""
        self.actor_pid = 0

    def isolation(self) -> arrl.Isolation:
        """The inner runner's, as it would be built on this machine (each node builds its own)."""
        from arrl.manager import Registry, build_options, plugin_manager

        registration = Registry(plugin_manager()).get("runner", self.options.inner)
        inner = registration.factory(build_options(registration, self.options.inner_options), self.context)
        try:
            return inner.isolation()
        finally:
            inner.close()

    def _host(self, cpus: float) -> Any:
        """This runner's actor, created on first use (and again after one died)."""
        import ray

        if self.actor is None:
            forwarded = {name: os.environ[name] for name in self.options.forward_env if name in os.environ}
            host = ray.remote(ExperimentHost).options(
                num_cpus=cpus or 1, num_gpus=self.options.gpus_per_experiment, max_concurrency=4,
                max_restarts=0, max_task_retries=0,
                runtime_env={"env_vars": forwarded} if forwarded else None)
            self.actor = host.remote(self.options.inner, self.options.inner_options, self.context)
            try:
                self.actor_node, self.actor_pid = ray.get(self.actor.where.remote(),
                                                          timeout=self.options.start_timeout)
            except ray.exceptions.GetTimeoutError:
                self._lose_actor()
                raise _NotStarted(f"Ray did not start a worker for the experiment within {self.options.start_timeout:g} "
                                  f"s: no room on the cluster for {cpus or 1:g} CPUs"
                                  + (f" and {self.options.gpus_per_experiment:g} GPUs"
                                     if self.options.gpus_per_experiment else "")) from None
        return self.actor

    def _lose_actor(self) -> None:
        import ray

        if self.actor is not None:
            try:
                ray.kill(self.actor, no_restart=True)
            except Exception:  # noqa: BLE001 - already dead is what we want
                pass
        self.actor = None

    def _ship(self) -> bool:
        import ray

        if self.options.ship != "auto":
            return self.options.ship == "always"
        return self.actor_node != ray.get_runtime_context().get_node_id()

    def run(self, request: arrl.RunRequest, monitor: arrl.RunMonitor) -> arrl.RunResult:
        import ray
        from ray.exceptions import GetTimeoutError, RayActorError, RayError

        started = time.monotonic()
        request.output_dir.mkdir(parents=True, exist_ok=True)
        request.log_dir.mkdir(parents=True, exist_ok=True)
        try:
            actor = self._host(request.cpus)
        except _NotStarted as error:
            return arrl.RunResult(Outcome.FAILED, None, time.monotonic() - started, (), str(error))
        archive = _pack((request.workspace, "workspace"), (request.output_dir, "output")) if self._ship() else None
        key = uuid.uuid4().hex
        pending = actor.run.remote(request, archive, key)
        # The backstop: the inner runner ends the run at the budget; only a silent actor lasts
        # past budget + grace (counted from when the actor is ready: waiting for room on the
        # cluster is not the experiment's time).
        deadline = time.monotonic() + request.budget_seconds + self.options.grace
        seen: list[MetricPoint] = []
        try:
            _follow(actor, key, monitor, deadline, seen, self.POLL_SECONDS)
            result, returned = ray.get(pending, timeout=max(deadline - time.monotonic(), 1.0))
        except GetTimeoutError:
            self._lose_actor()
            self._remove_leftovers(request, kill_worker=True)
            return arrl.RunResult(Outcome.TIMED_OUT, None, time.monotonic() - started, tuple(seen),
                                  f"the Ray worker did not answer within the budget + {self.options.grace:g} s; "
                                  "it was killed")
        except RayActorError as error:
            # No restart, no retry: the experiment is recorded once, as failed.
            self.actor = None
            self._remove_leftovers(request)
            cause = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            return arrl.RunResult(
                Outcome.FAILED, None, time.monotonic() - started, tuple(seen),
                f"the Ray worker running the experiment died ({cause[:300]}); it was not retried")
        except RayError as error:
            self._lose_actor()
            self._remove_leftovers(request, kill_worker=True)
            raise arrl.ArrlError(f"Ray could not run experiment {request.experiment_id}: {error}") from None
        if returned is not None:
            result = _bring_back(actor, returned, request, result, parse_size(self.options.return_piece))
        return attrs.evolve(result, details={**result.details, "ray_node": self.actor_node})

    def _remove_leftovers(self, request: arrl.RunRequest, kill_worker: bool = False) -> None:
        """Run :func:`remove_leftovers` for this experiment on the node its actor was on."""
        _on_nodes([self.actor_node] if self.actor_node else [], request.run_id, request.experiment_id,
                  self.actor_pid if kill_worker else 0)

    def fingerprint(self) -> dict[str, str]:
        import ray

        return {**ray.get(self._host(0).fingerprint.remote()), "runner": f"ray/{self.options.inner}"}

    def build_image(self) -> str:
        import ray

        return str(ray.get(self._host(0).build_image.remote()))

    def cleanup_stale(self, run_id: str) -> int:
        import ray

        return _on_nodes([node["NodeID"] for node in ray.nodes() if node.get("Alive")], run_id, None)

    def close(self) -> None:
        if self.actor is not None:
            try:
                import ray

                ray.get(self.actor.close.remote(), timeout=30)
            except Exception:  # noqa: BLE001 - closing a dead actor: nothing to release
                pass
            self._lose_actor()
        if self.connected:
            self.connected = False
            _disconnect()


def _follow(actor: Any, key: str, monitor: arrl.RunMonitor, deadline: float, seen: list[MetricPoint], poll: float) -> None:
    """Pass the actor's metric points to ``monitor`` as they come, and its stop and abort back,
    until the experiment ends; ``GetTimeoutError`` past ``deadline`` (the actor went silent)."""
    import ray
    from ray.exceptions import GetTimeoutError

    stop = False
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise GetTimeoutError("past the budget + grace")
        points, finished = ray.get(actor.exchange.remote(key, len(seen), stop, monitor.should_abort(),
                                                         poll), timeout=remaining)
        for point in points:
            seen.append(point)
            if not stop and not monitor.on_metric(point):
                stop = True
        if finished and not points:
            return


def _bring_back(actor: Any, size: int, request: arrl.RunRequest, result: arrl.RunResult, piece: int) -> arrl.RunResult:
    """What the experiment left on its node, into the paths the journal names on this machine."""
    skipped = _take_returned(actor, size, request.log_dir, piece)
    _move_into(request.log_dir / ".returned" / "output", request.output_dir)
    _move_into(request.log_dir / ".returned" / "log", request.log_dir)
    remove_tree(request.log_dir / ".returned")
    result = attrs.evolve(result, stdout_path=_relocate(result.stdout_path, request.log_dir),
                          stderr_path=_relocate(result.stderr_path, request.log_dir))
    if skipped:
        said = "all that was left (the transfer failed)" if skipped < 0 else f"{skipped} entries"
        result = attrs.evolve(result, details={**result.details, "output_skipped": said})
    return result


def _take_returned(actor: Any, size: int, log_dir: Path, piece_size: int) -> int:
    """The node's packed output, piece by piece onto this disk, then unpacked; the pieces
    are what this process holds in memory at once. A transfer that fails loses the output,
    not the run: the record says so (``output_skipped``)."""
    import ray
    from ray.exceptions import GetTimeoutError, RayError

    packed = log_dir / ".returned.tar.gz"
    try:
        with packed.open("wb") as handle:
            offset = 0
            while offset < size:
                piece = ray.get(actor.read_returned.remote(offset, piece_size), timeout=600)
                if not piece:
                    break
                handle.write(piece)
                offset += len(piece)
        actor.drop_returned.remote()
        return _unpack_file(packed, log_dir / ".returned")
    except (RayError, GetTimeoutError, OSError):
        return -1
    finally:
        packed.unlink(missing_ok=True)


def _on_nodes(nodes: list[str], run_id: str, experiment_id: int | None, ray_worker: int = 0) -> int:
    """:func:`remove_leftovers` run on each of ``nodes``; a node that is gone holds nothing."""
    import ray
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    task: Any = ray.remote(remove_leftovers)
    pending = [task.options(num_cpus=0, max_retries=0, scheduling_strategy=NodeAffinitySchedulingStrategy(node, soft=False))
               .remote(run_id, experiment_id, ray_worker) for node in nodes]
    removed = 0
    for reference in pending:
        try:
            removed += int(ray.get(reference, timeout=120))
        except Exception:  # noqa: BLE001 - an unreachable node's leftovers went with it
            pass
    return removed


def _move_into(source: Path, destination: Path) -> None:
    if not source.is_dir():
        return
    destination.mkdir(parents=True, exist_ok=True)
    for item in source.iterdir():
        target = destination / item.name
        if target.is_dir() and item.is_dir():
            _move_into(item, target)
            continue
        if target.exists():
            shutil.rmtree(target) if target.is_dir() else target.unlink()
        shutil.move(str(item), target)


def _relocate(path: str, log_dir: Path) -> str:
    """A log path the Ray node reported, as it lies on this machine (same name, in ``log_dir``)."""
    return str(log_dir / Path(path).name) if path else path


@arrl.hookimpl
def arrl_runners():
    yield arrl.Registration(
        name="ray",
        summary="each experiment on a Ray cluster, through an inner runner (subprocess, podman, docker)",
        factory=lambda options, context: RayRunner(options, context),
        options=RayOptions,
    )
