"""Watching a running experiment: logs, metric lines, and the reasons to end it early.

Every runner has the same duties once its process or container is started -- keep stdout and
stderr, pass metric lines to the monitor as they appear, end the run at the budget, after a
silence, on an early stop or when the user aborts -- and only the way of starting and killing
differs. :func:`supervise` holds the shared part; a runner passes its process as a
:class:`Watched`.
"""

from __future__ import annotations

import enum
import threading
import time
from collections import deque
from pathlib import Path
from typing import IO, Callable, Iterable, Protocol

import attrs

from .metrics import parse_line
from .records import MetricPoint, Outcome, RunResult
from .roles import RunMonitor, RunRequest

POLL_SECONDS = 0.02
STDERR_TAIL_LINES = 15


class Watched(Protocol):
    def poll(self) -> int | None:
        """The exit code once the run has ended, else None."""

    def terminate(self) -> None:
        """End the run now and everything it started; return once it is gone."""


class Stop(str, enum.Enum):
    ABORT = "abort"
    TIMEOUT = "timeout"
    SILENCE = "silence"
    EARLY = "early"


@attrs.define
class _State:
    started: float
    last_output: float
    points: list[MetricPoint] = attrs.Factory(list)
    metric_errors: list[str] = attrs.Factory(list)
    stderr_tail: deque[str] = attrs.Factory(lambda: deque(maxlen=STDERR_TAIL_LINES))
    early_stop: bool = False
    lock: threading.Lock = attrs.Factory(threading.Lock)


def _pump(
    lines: Iterable[bytes], log: Path, on_line: Callable[[str], None], errors: list[str]
) -> threading.Thread:
    def run() -> None:
        sink: IO[bytes] | None = None
        try:
            sink = log.open("ab", buffering=0)
        except OSError as error:
            errors.append(f"cannot write {log.name}: {error.strerror}")
        for raw in lines:
            if sink is not None:
                try:
                    sink.write(raw)
                except OSError as error:
                    # A full disk must not stop the draining: a blocked pipe would hang the run.
                    errors.append(f"cannot write {log.name}: {error.strerror}")
                    sink.close()
                    sink = None
            on_line(raw.decode(errors="replace"))
        if sink is not None:
            sink.close()

    thread = threading.Thread(target=run, daemon=True, name=f"arrl-pump-{log.name}")
    thread.start()
    return thread


def supervise(
    request: RunRequest,
    monitor: RunMonitor,
    process: Watched,
    stdout: IO[bytes] | Iterable[bytes],
    stderr: IO[bytes] | Iterable[bytes] | None,
    silence_timeout: float,
    started: float | None = None,
) -> RunResult:
    """Watch ``process`` until it ends or must be ended; return what happened.

    ``stderr`` may be None when the engine interleaves both streams into ``stdout``.
    """
    now = time.monotonic()
    state = _State(started=started or now, last_output=now)
    stdout_log, stderr_log = request.log_dir / "stdout.log", request.log_dir / "stderr.log"

    def on_stdout(line: str) -> None:
        elapsed = time.monotonic() - state.started
        state.last_output = time.monotonic()
        parsed = parse_line(line, elapsed)
        if parsed is None:
            return
        with state.lock:
            if parsed.error:
                state.metric_errors.append(parsed.error)
            state.points.extend(parsed.points)
        for point in parsed.points:
            if not monitor.on_metric(point):
                state.early_stop = True

    def on_stderr(line: str) -> None:
        state.last_output = time.monotonic()
        state.stderr_tail.append(line.rstrip("\n"))

    log_errors: list[str] = []
    pumps = [_pump(stdout, stdout_log, on_stdout, log_errors)]
    if stderr is not None:
        pumps.append(_pump(stderr, stderr_log, on_stderr, log_errors))

    deadline = state.started + request.budget_seconds
    stop: Stop | None = None
    exit_code = process.poll()
    while exit_code is None:
        now = time.monotonic()
        if monitor.should_abort():
            stop = Stop.ABORT
        elif now >= deadline:
            stop = Stop.TIMEOUT
        elif silence_timeout and now - state.last_output >= silence_timeout:
            stop = Stop.SILENCE
        elif state.early_stop:
            stop = Stop.EARLY
        if stop is not None:
            process.terminate()
            exit_code = process.poll()
            break
        time.sleep(POLL_SECONDS)
        exit_code = process.poll()
    wall = time.monotonic() - state.started
    for pump in pumps:
        # The process tree is gone, so the pipes reach EOF; the timeout only guards a stray
        # holder of the pipe that a runner failed to kill.
        pump.join(timeout=5)
    if stop is None and state.early_stop:
        stop = Stop.EARLY  # asked for in the last lines before a normal exit: still a success
    result = _result(request, stop, exit_code, wall, state, silence_timeout, stdout_log, stderr_log)
    if log_errors:
        result = attrs.evolve(result, details={**result.details, "log_errors": "; ".join(log_errors[:3])})
    return result


def _result(
    request: RunRequest,
    stop: Stop | None,
    exit_code: int | None,
    wall: float,
    state: _State,
    silence_timeout: float,
    stdout_log: Path,
    stderr_log: Path,
) -> RunResult:
    reason = ""
    if stop is Stop.ABORT:
        outcome, reason = Outcome.INTERRUPTED, "stopped by the user"
    elif stop is Stop.TIMEOUT:
        outcome, reason = Outcome.TIMED_OUT, f"exceeded the {request.budget_seconds:g} s budget"
    elif stop is Stop.SILENCE:
        outcome, reason = Outcome.FAILED, f"no output for {silence_timeout:g} s"
    elif stop is Stop.EARLY:
        outcome = Outcome.EARLY_STOPPED
    elif exit_code == 0:
        outcome = Outcome.OK
    else:
        outcome = Outcome.FAILED
        tail = "\n".join(state.stderr_tail).strip()
        reason = f"exit code {exit_code}" + (f": {tail}" if tail else "")
    details = {}
    if state.metric_errors:
        details["metric_errors"] = "; ".join(state.metric_errors[:5])
    return RunResult(
        outcome=outcome,
        exit_code=exit_code,
        wall_clock_seconds=wall,
        metrics=tuple(state.points),
        failure_reason=reason,
        stdout_path=str(stdout_log),
        stderr_path=str(stderr_log),
        details=details,
    )
