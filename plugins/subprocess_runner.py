"""The subprocess runner: the experiment runs as a local process under an outside deadline.

The script runs under a small reaper process (see ``_reaper.py``) in a session of its own. The
budget, the silence timeout and early stops are enforced here, outside anything the script can
edit. Every process of the experiment carries a token in its environment, so a later arrl can
find and remove what a killed one left behind.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import attrs

import arrl
from arrl.supervision import supervise

REAPER = Path(__file__).with_name("_reaper.py")
TOKEN_VARIABLE = "ARRL_PROCESS_TOKEN"


@attrs.frozen
class SubprocessOptions:
    # The interpreter that runs the script; empty means the one running arrl.
    python: str = ""
    # Seconds between SIGTERM and SIGKILL when a run is ended, for a last log flush.
    term_grace: float = attrs.field(default=0.3, validator=[attrs.validators.ge(0), attrs.validators.le(5)])


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
    def __init__(self, popen: subprocess.Popen[bytes], token: str, grace: float) -> None:
        self.popen = popen
        self.token = token
        self.grace = grace

    def poll(self) -> int | None:
        return self.popen.poll()

    def terminate(self) -> None:
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
        kill_token(self.token)


class SubprocessRunner(arrl.Runner):
    def __init__(self, options: SubprocessOptions = SubprocessOptions()) -> None:
        self.options = options

    def run(self, request: arrl.RunRequest, monitor: arrl.RunMonitor) -> arrl.RunResult:
        token = f"arrl-{request.run_id}-{request.experiment_id}-{uuid.uuid4().hex}"
        env = {**os.environ, **request.env, TOKEN_VARIABLE: token, "PYTHONUNBUFFERED": "1"}
        python = self.options.python or sys.executable
        command = [sys.executable, str(REAPER), str(self.options.term_grace), "--",
                   python, str(request.script)]
        request.output_dir.mkdir(parents=True, exist_ok=True)
        started = time.monotonic()
        popen = subprocess.Popen(
            command, cwd=request.workdir, env=env, stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
        )
        process = _Process(popen, token, self.options.term_grace)
        try:
            assert popen.stdout is not None and popen.stderr is not None
            return supervise(request, monitor, process, popen.stdout, popen.stderr,
                             request.silence_timeout, started)
        finally:
            if popen.poll() is None:
                process.terminate()
            kill_token(token)
            for stream in (popen.stdout, popen.stderr):
                if stream is not None:
                    stream.close()

    def cleanup_stale(self, run_id: str) -> int:
        return kill_token(f"arrl-{run_id}-")


@arrl.hookimpl
def arrl_runners():
    yield arrl.Registration(
        name="subprocess",
        summary="local process; budget, silence and early stop enforced from outside",
        factory=lambda options, context: SubprocessRunner(options),
        options=SubprocessOptions,
    )
