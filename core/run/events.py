"""One event model: the event hooks of :mod:`arrl.hookspecs` as data, and their subscribers.

The loop calls the event hooks; everything that shows or keeps a run's progress -- the live
display, the plain log (``run.log``), the ``arrl run --json`` stream, a user's own plugin -- is a
plugin registered on the same manager. :class:`Subscriber` turns every hook call into one
:class:`Event` (the hook's arguments as JSON-ready data), so a subscriber handles events, not
hook signatures, and a recorded stream can be replayed through the hooks (:func:`replay`).
"""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

import attrs
import pluggy

from arrl.hookspecs import hookimpl
from arrl.output import counted, printable
from arrl.records import ExperimentRecord, MetricPoint, converter

# Every event hook, in the order a run calls them.
EVENT_KINDS: tuple[str, ...] = (
    "run_started", "experiment_proposed", "proposal_rejected", "experiment_started", "metric",
    "experiment_finished", "run_paused", "alert", "note", "run_finished",
)

# Hook arguments that travel as attrs data and are structured back on replay.
_TYPED_ARGUMENTS: dict[str, Any] = {
    "record": ExperimentRecord, "point": MetricPoint, "previous": list[ExperimentRecord],
}


@attrs.frozen
class Event:
    """One event hook call: ``kind`` is the hook's name without ``arrl_``; ``data`` holds its
    arguments other than ``run_id`` and ``at``, unstructured to plain JSON data."""

    kind: str
    run_id: str
    at: float
    data: dict[str, Any] = attrs.Factory(dict)

    @property
    def experiment_id(self) -> int | None:
        if "experiment_id" in self.data:
            return int(self.data["experiment_id"])
        record = self.data.get("record")
        return int(record["id"]) if isinstance(record, dict) else None

    @property
    def record(self) -> ExperimentRecord:
        return converter.structure(self.data["record"], ExperimentRecord)

    @property
    def point(self) -> MetricPoint:
        return converter.structure(self.data["point"], MetricPoint)

    def arguments(self) -> dict[str, Any]:
        """The hook's keyword arguments, attrs objects rebuilt: what :func:`replay` calls with."""
        arguments: dict[str, Any] = {"run_id": self.run_id, "at": self.at}
        for name, value in self.data.items():
            kind = _TYPED_ARGUMENTS.get(name)
            arguments[name] = value if kind is None else converter.structure(value, kind)
        return arguments

    def to_json(self) -> str:
        return json.dumps({"event": self.kind, "run_id": self.run_id, "at": self.at, **self.data},
                          sort_keys=True)

    @classmethod
    def from_json(cls, line: str) -> Event:
        data = json.loads(line)
        return cls(kind=data.pop("event"), run_id=data.pop("run_id"), at=float(data.pop("at")), data=data)

    @property
    def time_text(self) -> str:
        return datetime.datetime.fromtimestamp(self.at, datetime.UTC).isoformat(timespec="seconds")


def _event(kind: str, run_id: str, at: float, **data: Any) -> Event:
    return Event(kind, run_id, at, {k: converter.unstructure(v) for k, v in data.items()})


class Subscriber:
    """Base of every event subscriber: one ``@hookimpl`` per event hook, each passing an
    :class:`Event` to :meth:`handle`. Register an instance with ``manager.register``."""

    def handle(self, event: Event) -> None:
        raise NotImplementedError

    def close(self) -> None:
        """Called once when the subscription ends (flush, stop a live display)."""

    @hookimpl
    def arrl_run_started(self, run_id: str, metric: str, direction: str, budget_seconds: float,
                         previous: list[ExperimentRecord], at: float) -> None:
        self.handle(_event("run_started", run_id, at, metric=metric, direction=direction,
                           budget_seconds=budget_seconds, previous=previous))

    @hookimpl
    def arrl_experiment_proposed(self, record: ExperimentRecord, run_id: str, at: float) -> None:
        self.handle(_event("experiment_proposed", run_id, at, record=record))

    @hookimpl
    def arrl_proposal_rejected(self, record: ExperimentRecord, run_id: str, reason: str, at: float) -> None:
        self.handle(_event("proposal_rejected", run_id, at, record=record, reason=reason))

    @hookimpl
    def arrl_experiment_started(self, experiment_id: int, run_id: str, record: ExperimentRecord,
                                budget_seconds: float, at: float) -> None:
        self.handle(_event("experiment_started", run_id, at, experiment_id=experiment_id, record=record,
                           budget_seconds=budget_seconds))

    @hookimpl
    def arrl_metric(self, run_id: str, experiment_id: int, point: MetricPoint, at: float) -> None:
        self.handle(_event("metric", run_id, at, experiment_id=experiment_id, point=point))

    @hookimpl
    def arrl_experiment_finished(self, record: ExperimentRecord, run_id: str, at: float) -> None:
        self.handle(_event("experiment_finished", run_id, at, record=record))

    @hookimpl
    def arrl_run_paused(self, run_id: str, reason: str, at: float) -> None:
        self.handle(_event("run_paused", run_id, at, reason=reason))

    @hookimpl
    def arrl_alert(self, run_id: str, level: str, message: str, at: float) -> None:
        self.handle(_event("alert", run_id, at, level=level, message=message))

    @hookimpl
    def arrl_note(self, run_id: str, message: str, at: float) -> None:
        self.handle(_event("note", run_id, at, message=message))

    @hookimpl
    def arrl_run_finished(self, run_id: str, status: str, message: str, exit_code: int, at: float) -> None:
        self.handle(_event("run_finished", run_id, at, status=status, message=message, exit_code=exit_code))


def write_console(stream: IO[str], text: str) -> None:
    """Write and flush ``text``. A reader that went away (``arrl run | head``) must not end an
    unattended run: the stream is pointed at /dev/null instead, which also spares Python's own
    flush at exit the same error. The journal and run.log keep everything regardless."""
    try:
        stream.write(text)
        stream.flush()
    except BrokenPipeError:
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, stream.fileno())
            os.close(devnull)
        except (OSError, ValueError, AttributeError):
            pass  # not a real file (a test's StringIO cannot break this way anyway)


class Recorder(Subscriber):
    """Keeps every event in memory (for tests and for replaying)."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self._lock = threading.Lock()

    def handle(self, event: Event) -> None:
        with self._lock:
            self.events.append(event)


class JsonLines(Subscriber):
    """``arrl run --json``: one JSON object per event and line, flushed as it happens."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream
        self._lock = threading.Lock()

    def handle(self, event: Event) -> None:
        with self._lock:
            write_console(self.stream, event.to_json() + "\n")


class LineWriter(Subscriber):
    """Plain text, one line per event that people read (see :func:`plain_line`): ``run.log``
    when given a path, a console when given a stream (with ``timestamps=False``)."""

    def __init__(self, path: Path | None = None, stream: IO[str] | None = None, timestamps: bool = True,
                 run_id: str | None = None, progress_every: float = 0.0, omit: Iterable[str] = ()) -> None:
        self.path = path
        self.stream = stream
        self.timestamps = timestamps
        self.run_id = run_id
        self.progress_every = progress_every
        self.omit = frozenset(omit)
        self.write_error = ""
        self._last_progress: dict[int, float] = {}
        self._lock = threading.Lock()

    def handle(self, event: Event) -> None:
        if self.run_id is not None and event.run_id != self.run_id:
            return  # the run log of one run keeps that run's events only
        if event.kind in self.omit:
            return
        if event.kind == "experiment_started" and event.experiment_id is not None:
            self._last_progress[event.experiment_id] = event.at
        line = plain_line(event)
        if event.kind == "metric":
            line = self._progress(event)
        if line is None:
            return
        # What an experiment or a plugin wrote reaches a terminal here (an escape sequence would
        # act on it); the journal keeps the text as it was.
        line = printable(line)
        text = f"{event.time_text} {line}\n" if self.timestamps else f"{line}\n"
        with self._lock:
            if self.path is not None:
                try:
                    with self.path.open("a") as log:
                        log.write(text)
                except OSError as error:
                    # The journal is the record; a full disk must not end the run over its log.
                    self.write_error = f"cannot write {self.path}: {error.strerror or error}"
            if self.stream is not None:
                write_console(self.stream, text)

    def _progress(self, event: Event) -> str | None:
        """A metric point every ``progress_every`` seconds per experiment, so a long experiment
        is not silent in a log; 0 writes none (the journal keeps every point)."""
        experiment = event.experiment_id
        if not self.progress_every or experiment is None:
            return None
        last = self._last_progress.get(experiment, event.at - event.point.elapsed)
        if event.at - last < self.progress_every:
            return None
        self._last_progress[experiment] = event.at
        point = event.point
        step = f" step={point.step}" if point.step is not None else ""
        return f"#{experiment} running {point.elapsed:.0f}s{step} {point.name}={point.value:.6g}"


def plain_line(event: Event) -> str | None:
    """The line a person reads for an event; None for events too frequent for a log."""
    data = event.data
    if event.kind == "run_started":
        previous = data.get("previous") or []
        again = f", continuing after {counted(len(previous), 'experiment')}" if previous else ""
        return (f"run {event.run_id} started: {data['metric']} ({data['direction']}), "
                f"budget {data['budget_seconds']:g}s per experiment{again}")
    if event.kind == "experiment_started":
        record = event.record
        what = describe_edit(record)
        return f"#{record.id} started: {what} (budget {data['budget_seconds']:g}s)"
    if event.kind == "proposal_rejected":
        return None  # its record follows in experiment_finished, with the reason
    if event.kind == "experiment_finished":
        return summary(event.record)
    if event.kind == "run_paused":
        return f"paused: {data['reason']}"
    if event.kind == "alert":
        return f"{data['level']}: {data['message']}"
    if event.kind == "note":
        return str(data["message"])
    if event.kind == "run_finished":
        return f"run {event.run_id} {data['status']}: {data['message']}"
    return None  # proposals and metric points: in the journal and the --json stream


def describe_edit(record: ExperimentRecord) -> str:
    from arrl.results.tables import describe

    return describe(record)


def summary(record: ExperimentRecord) -> str:
    """One line for a finished experiment."""
    import math

    value = f"{record.metric_name}={record.value:.6g}" if math.isfinite(record.value) else ""
    parts = [f"#{record.id}", record.outcome.value, value, f"{record.wall_clock_seconds:.1f}s"]
    if record.reward is not None:
        parts.append(f"reward={record.reward:+.3f}")
    if record.kept:
        parts.append("kept")
    if record.within_noise:  # better than the best, by less than the noise margin (arrl.run.noise)
        parts.append("(noise)")
    if record.edit and record.edit.description:
        parts.append(f"[{record.edit.description}]")
    if record.failure_reason:
        parts.append(f"({record.failure_reason.splitlines()[0][:160]})")
    return " ".join(p for p in parts if p)


@contextlib.contextmanager
def subscribed(manager: pluggy.PluginManager, *subscribers: Subscriber) -> Iterator[None]:
    """Register the subscribers for the duration of the block, then close and unregister them."""
    for subscriber in subscribers:
        manager.register(subscriber)
    try:
        yield
    finally:
        for subscriber in subscribers:
            manager.unregister(subscriber)
            subscriber.close()


def read_events(lines: Iterable[str]) -> list[Event]:
    """Events of a ``--json`` stream (blank lines ignored)."""
    return [Event.from_json(line) for line in lines if line.strip()]


def replay(manager: pluggy.PluginManager, events: Iterable[Event]) -> None:
    """Call the event hooks again, in order, with the recorded arguments."""
    for event in events:
        getattr(manager.hook, f"arrl_{event.kind}")(**event.arguments())
