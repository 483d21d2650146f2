"""Watching a running experiment: logs, metric lines, and the reasons to end it early.

Every runner has the same duties once its process or container is started -- keep stdout and
stderr, pass metric lines to the monitor as they appear, end the run at the budget, after a
silence, on an early stop or when the user aborts -- and only the way of starting and killing
differs. :func:`supervise` holds the shared part; a runner passes its process as a
:class:`Watched`.
"""

from __future__ import annotations

import contextlib
import enum
import os
import selectors
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO, Protocol

import attrs

from arrl.metrics import PREFIX, parse_line
from arrl.output import CappedLog, LineSplitter, OutputLimits, disk_usage, printable, remove_tree
from arrl.records import MetricPoint, Outcome, RunResult
from arrl.roles import RunMonitor, RunRequest

POLL_SECONDS = 0.02
QUOTA_CHECK_SECONDS = 0.5
FULL_MARGIN = 1 << 20  # a sized output file system with less room than this is full
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
    QUOTA = "quota"


@attrs.define
class _State:
    started: float
    last_output: float
    points: list[MetricPoint] = attrs.Factory(list)
    metric_errors: list[str] = attrs.Factory(list)
    stderr_tail: deque[str] = attrs.Factory(lambda: deque(maxlen=STDERR_TAIL_LINES))
    early_stop: bool = False
    lock: threading.Lock = attrs.Factory(threading.Lock)


READ_BYTES = 1 << 16
# After the process tree is gone, how long the pipes may take to deliver what is buffered.
DRAIN_SECONDS = 2.0


class _Pump:
    """Copies one output stream to its capped log and hands its lines on, in a thread.

    A pipe is read with a poll timeout, never a blocking read, so a stray process that
    still holds the pipe's write end cannot keep the pump (or arrl) waiting: once told to
    stop, the pump returns within one poll interval. An engine stream (an iterator of
    chunks) is read as it comes, and abandoned if it does not end."""

    def __init__(self, source: IO[bytes] | Iterable[bytes], log: CappedLog, line_limit: int,
                 on_line: Callable[[str, bool], None]) -> None:
        self.source = source
        self.log = log
        self.splitter = LineSplitter(line_limit)
        self.on_line = on_line
        self.stop = threading.Event()
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True, name=f"arrl-pump-{log.path.name}")
        self.thread.start()

    def _chunks(self) -> Iterator[bytes]:
        fileno = getattr(self.source, "fileno", None)
        if fileno is None:
            yield from self.source  # type: ignore[misc]
            return
        fd = fileno()
        with selectors.DefaultSelector() as selector:
            selector.register(fd, selectors.EVENT_READ)
            while not self.stop.is_set():
                if not selector.select(timeout=0.1):
                    continue
                try:
                    chunk = os.read(fd, READ_BYTES)
                except (BlockingIOError, InterruptedError):
                    continue
                except OSError:
                    return
                if not chunk:
                    return
                yield chunk

    def _run(self) -> None:
        try:
            for chunk in self._chunks():
                self.log.write(chunk)
                for line, cut in self.splitter.feed(chunk):
                    self.on_line(line.decode(errors="replace"), cut)
            for line, cut in self.splitter.finish():
                self.on_line(line.decode(errors="replace"), cut)
        finally:
            self.log.close()
            self.done.set()

    def finish(self, deadline: float) -> None:
        """Let the pump drain until ``deadline``, then stop it."""
        self.done.wait(timeout=max(0.0, deadline - time.monotonic()))
        self.stop.set()
        self.thread.join(timeout=0.5)


class _QuotaWatch:
    """Measures the output directory now and then; the interval grows with the cost of a scan."""

    def __init__(self, directory: Path, quota: int, what: str = "the output directory") -> None:
        self.directory = directory
        self.quota = quota
        self.what = what
        self.next_check = 0.0
        self.used = 0

    def over(self, now: float) -> bool:
        if now < self.next_check:
            return False
        self.measure()
        cost = time.monotonic() - now
        self.next_check = time.monotonic() + max(QUOTA_CHECK_SECONDS, 20 * cost)
        return self.used > self.quota

    def measure(self) -> int:
        self.used = disk_usage(self.directory)
        if self.used <= self.quota and os.path.ismount(self.directory):
            # A file system of the quota's size (a container runner's sized mount): full is over.
            with contextlib.suppress(OSError):
                stats = os.statvfs(self.directory)
                if stats.f_bavail * stats.f_frsize < FULL_MARGIN:
                    self.used = max(self.used, self.quota + 1)
        return self.used

    def reason(self) -> str:
        return (f"wrote {self.used / (1 << 20):.0f} MiB to {self.what}, reaching or going over "
                f"its quota of {self.quota / (1 << 20):.0f} MiB (runner option output_quota); "
                "the output was removed")


def supervise(
    request: RunRequest,
    monitor: RunMonitor,
    process: Watched,
    stdout: IO[bytes] | Iterable[bytes],
    stderr: IO[bytes] | Iterable[bytes] | None,
    silence_timeout: float,
    started: float | None = None,
    limits: OutputLimits = OutputLimits(),
    workspace: Path | None = None,
) -> RunResult:
    """Watch ``process`` until it ends or must be ended; return what happened.

    ``stdout`` and ``stderr`` are pipes or iterators of byte chunks (split anywhere);
    ``stderr`` may be None when the engine interleaves both streams into ``stdout``.
    ``workspace``: a writable copy of the script's tree (a sandbox's), held to the output's quota.
    """
    now = time.monotonic()
    state = _State(started=started or now, last_output=now)
    stdout_log, stderr_log = request.log_dir / "stdout.log", request.log_dir / "stderr.log"

    def on_stdout(line: str, cut: bool) -> None:
        elapsed = time.monotonic() - state.started
        state.last_output = time.monotonic()
        if cut:
            if line.lstrip().startswith(PREFIX):
                with state.lock:
                    state.metric_errors.append(f"a metric line longer than {limits.line_bytes} bytes was not read")
            return
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

    def on_stderr(line: str, cut: bool) -> None:
        state.last_output = time.monotonic()
        state.stderr_tail.append(printable(line.rstrip("\n")) + (" [line cut]" if cut else ""))

    log_errors: list[str] = []
    pumps = [_Pump(stdout, CappedLog(stdout_log, limits.log_bytes, log_errors), limits.line_bytes, on_stdout)]
    if stderr is not None:
        pumps.append(_Pump(stderr, CappedLog(stderr_log, limits.log_bytes, log_errors), limits.line_bytes,
                           on_stderr))
    watches = [_QuotaWatch(request.output_dir, limits.output_bytes)]
    if workspace is not None:
        watches.append(_QuotaWatch(workspace, limits.output_bytes, "the experiment's workspace"))

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
        elif any(watch.over(now) for watch in watches):
            stop = Stop.QUOTA
        if stop is not None:
            process.terminate()
            exit_code = process.poll()
            break
        time.sleep(POLL_SECONDS)
        exit_code = process.poll()
    drain_until = time.monotonic() + DRAIN_SECONDS
    for pump in pumps:
        pump.finish(drain_until)
    # Measured once the process tree is gone and its output read: the time the experiment took.
    wall = time.monotonic() - state.started
    over = [watch for watch in watches if watch.measure() > watch.quota] if stop in (None, Stop.QUOTA) else []
    if over:
        stop = Stop.QUOTA
        remove_tree(request.output_dir)
        request.output_dir.mkdir(parents=True, exist_ok=True)
    if stop is None and state.early_stop:
        stop = Stop.EARLY  # asked for in the last lines before a normal exit: still a success
    result = _result(request, stop, exit_code, wall, state, silence_timeout, stdout_log, stderr_log)
    if stop is Stop.QUOTA:
        result = attrs.evolve(result, outcome=Outcome.FAILED, failure_reason=(over or watches)[0].reason())
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
