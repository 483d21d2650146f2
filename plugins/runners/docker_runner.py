"""The Docker runner: each experiment in a locked-down container, through the Docker SDK.

The SDK negotiates the API version with the engine (``version="auto"``), so a newer client
library than the engine works. Limits and mounts are those of the Podman runner (see
``container.py``); the harness kills the container at the budget.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import attrs

import arrl
from arrl.errors import EngineError
from arrl.output import scrub_tree
from arrl.run.supervision import supervise

from . import container as c
from .sized_output import sized_output, unmount_stale


@attrs.frozen
class DockerOptions(c.ContainerOptions):
    base_url: str = ""  # empty: DOCKER_HOST or the default socket


class _Container:
    def __init__(self, container: Any) -> None:
        self.container = container
        self.exit_code: int | None = None
        self.killed = False
        self._waiter = threading.Thread(target=self._wait, daemon=True, name="arrl-docker-wait")
        self._waiter.start()

    def _wait(self) -> None:
        try:
            self.exit_code = int(self.container.wait()["StatusCode"])
        except Exception:  # the container was removed under us: treat as killed
            self.exit_code = 137

    def poll(self) -> int | None:
        return self.exit_code

    def terminate(self) -> None:
        self.killed = True
        try:
            self.container.kill()
        except Exception:
            pass  # already gone
        self._waiter.join(timeout=10)


class DockerRunner(arrl.Runner):
    def __init__(self, options: DockerOptions = DockerOptions()) -> None:
        import docker  # the SDK: imported here so that listing plugins stays cheap

        self.options = options
        self._docker = docker
        try:
            if options.base_url:
                self.client = docker.DockerClient(base_url=options.base_url, version="auto")
            else:
                self.client = docker.from_env(version="auto")
            self.client.ping()
        except docker.errors.DockerException as error:
            raise EngineError(
                f"cannot reach the Docker engine ({error}); start it, e.g. "
                "`dockerd --bridge=none --iptables=false --ip6tables=false &` as root") from None

    def _image_id(self) -> str:
        try:
            return str(self.client.images.get(self.options.image).id)
        except self._docker.errors.ImageNotFound:
            raise EngineError(
                f"docker has no image {self.options.image!r}; build it from this machine's files with "
                "`arrl --plugin runner=docker image build`") from None

    def isolation(self) -> arrl.Isolation:
        return arrl.Isolation("container", "docker: a read-only root, no network, no capabilities, "
                              "the workspace read-only")

    def fingerprint(self) -> dict[str, str]:
        return {"engine": "docker", "image_id": self._image_id(),
                "environment_hash": c.environment_hash(c.site_packages(self.options))}

    def build_image(self) -> str:
        repository, _, tag = self.options.image.partition(":")
        with c.rootfs_tar(c.site_packages(self.options)) as archive:
            try:
                self.client.api.import_image_from_file(str(archive), repository=repository, tag=tag or "latest")
            except self._docker.errors.APIError as error:
                raise EngineError(f"docker could not import the run image: {error.explanation or error}") from None
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
        device_requests = None
        if o.gpus:
            device_requests = [self._docker.types.DeviceRequest(count=-1, capabilities=[["gpu"]])]
        started = time.monotonic()
        container = self.client.containers.create(
            o.image, c.container_command(request), name=c.container_name(request), labels=c.labels(request),
            network_mode="host" if o.network else "none", mem_limit=o.memory,
            memswap_limit=o.swap, nano_cpus=int(c.cpu_limit(request, o) * 1e9), pids_limit=o.pids_limit,
            read_only=True, tmpfs={"/tmp": f"rw,size={o.tmpfs_size},mode=1777"}, shm_size=o.shm_size, cap_drop=["ALL"],
            security_opt=["no-new-privileges"], user=c.NOBODY, working_dir=c.container_workdir(request),
            environment=c.container_env(request, o), device_requests=device_requests,
            # arrl keeps the output itself (capped); the engine's own copy must not grow unbounded.
            log_config=self._docker.types.LogConfig(
                type="json-file", config={"max-size": f"{max(1, o.log_bytes >> 20)}m", "max-file": "1"}),
            volumes={str(request.workspace): {"bind": c.CONTAINER_WORKSPACE, "mode": "ro"},
                     str(request.output_dir): {"bind": c.CONTAINER_OUTPUT, "mode": "rw"},
                     str(c.site_packages(o)): {"bind": c.CONTAINER_ENV, "mode": "ro"},
                     **{source: {"bind": target, "mode": "ro"} for source, target in c.read_only_mounts(request).items()}},
        )
        try:
            # Attach before starting so that no early line is missed.
            stdout = container.attach(stdout=True, stderr=False, stream=True, logs=True)
            stderr = container.attach(stdout=False, stderr=True, stream=True, logs=True)
            container.start()
            watched = _Container(container)
            result = supervise(request, monitor, watched, stdout, stderr,
                               request.silence_timeout, started, o)
            details = {**result.details, **fingerprint}
            container.reload()
            if container.attrs["State"].get("OOMKilled") and not watched.killed:
                return attrs.evolve(result, outcome=arrl.Outcome.FAILED, failure_reason="out of memory",
                                    details=details)
            return attrs.evolve(result, details=details)
        finally:
            try:
                container.remove(force=True)
            except self._docker.errors.NotFound:
                pass

    def cleanup_stale(self, run_id: str) -> int:
        stale = self.client.containers.list(all=True, filters={"label": f"{c.LABEL_RUN}={run_id}"})
        for container in stale:
            container.remove(force=True)
        unmount_stale(run_id)  # after the containers: nothing writes to the images any more
        return len(stale)

    def close(self) -> None:
        self.client.close()


@arrl.hookimpl
def arrl_runners():
    yield arrl.Registration(
        name="docker",
        summary="Docker container via the SDK: no network, read-only, limits, killed at the budget",
        factory=lambda options, context: DockerRunner(options),
        options=DockerOptions,
    )
