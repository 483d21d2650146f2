"""The live display of ``arrl run``: a subscriber of the run's events drawn with rich.

It shows each running experiment (several, once workers run side by side: every event names
its experiment) with its edit, its budget as a bar and its loss so far; the best so far; the
last few results with one-line diffs; experiments per hour and the time early stopping saved.
Not on a terminal, :func:`console_subscribers` chooses plain lines instead.

The picture is a pure function of the events received (:class:`Progress`) and of "now", so a
recorded event stream renders the same picture again.
"""

from __future__ import annotations

import math
import statistics
import sys
import threading
import time
from collections.abc import Callable
from typing import IO, Any

import attrs

from arrl.output import printable
from arrl.records import Direction, ExperimentRecord, MetricPoint, Outcome
from arrl.results.best import becomes_best
from arrl.results.tables import describe, one_line_diff

from .events import Event, JsonLines, LineWriter, Subscriber

RECENT = 5


@attrs.define
class Running:
    """An experiment between its start and its record."""

    id: int
    edit: str
    started: float
    budget: float
    points: list[MetricPoint] = attrs.Factory(list)


@attrs.define
class Progress:
    """What the display knows, folded from events."""

    metric: str = "val_loss"
    direction: Direction = Direction.MINIMIZE
    budget: float = 0.0
    run_id: str = ""
    session_started: float | None = None  # this arrl process's run_started
    last_event: float = 0.0
    running: dict[int, Running] = attrs.Factory(dict)
    finished: list[ExperimentRecord] = attrs.Factory(list)  # every record, earlier sessions too
    finished_this_session: int = 0
    best: ExperimentRecord | None = None
    status: str = ""

    def fold(self, event: Event) -> None:
        self.last_event = max(self.last_event, event.at)
        data = event.data
        if event.kind == "run_started":
            self.run_id, self.metric = event.run_id, str(data["metric"])
            self.direction, self.budget = Direction(data["direction"]), float(data["budget_seconds"])
            self.session_started, self.finished_this_session, self.status = event.at, 0, "running"
            self.running.clear()
            for record in event.arguments()["previous"]:
                self._add(record)
        elif event.kind == "experiment_started":
            record = event.record
            self.running[record.id] = Running(record.id, describe(record), event.at, float(data["budget_seconds"]))
        elif event.kind == "metric":
            running = self.running.get(event.experiment_id or -1)
            if running is not None:
                running.points.append(event.point)
        elif event.kind == "experiment_finished":
            record = event.record
            self.running.pop(record.id, None)
            self._add(record)
            self.finished_this_session += 1
        elif event.kind == "run_paused":
            self.status = f"paused: {data['reason']}"
        elif event.kind == "run_finished":
            self.status = str(data["status"])
            self.running.clear()

    def _add(self, record: ExperimentRecord) -> None:
        self.finished.append(record)
        if becomes_best(record, None if self.best is None else self.best.value):
            self.best = record

    def experiments_per_hour(self, now: float) -> float | None:
        if self.session_started is None or now - self.session_started < 1 or not self.finished_this_session:
            return None
        return self.finished_this_session * 3600.0 / (now - self.session_started)

    def seconds_saved(self) -> float:
        """Early stopping's saving: for each early-stopped run, how much shorter it was than a
        run that went to its end (the median complete run; the budget before there is one)."""
        complete = [r.wall_clock_seconds for r in self.finished
                    if r.outcome in (Outcome.OK, Outcome.NO_EFFECT) and r.wall_clock_seconds > 0]
        typical = min(statistics.median(complete), self.budget) if complete else self.budget
        return sum(max(0.0, typical - r.wall_clock_seconds)
                   for r in self.finished if r.outcome is Outcome.EARLY_STOPPED)


def _duration(seconds: float) -> str:
    seconds = max(0.0, seconds)
    if seconds < 10:
        return f"{seconds:.1f}s"
    if seconds < 90:
        return f"{seconds:.0f}s"
    if seconds < 5400:
        return f"{seconds / 60:.1f}min"
    return f"{seconds / 3600:.1f}h"


def _value(value: float) -> str:
    return f"{value:.6g}" if math.isfinite(value) else "-"


class LiveDisplay(Subscriber):
    """The rich picture of a run, redrawn a few times a second while it is live."""

    def __init__(self, console: Any = None, clock: Callable[[], float] | None = None, live: bool = True) -> None:
        from rich.console import Console

        self.console = console if console is not None else Console(stderr=True)
        self.progress = Progress()
        # None: "now" is the last event's time, so a replayed stream draws what was seen then.
        self.clock = clock
        self._lock = threading.Lock()
        self._live: Any = None
        self._want_live = live

    def handle(self, event: Event) -> None:
        with self._lock:
            self.progress.fold(event)
        if self._want_live and self._live is None and event.kind == "run_started":
            from rich.live import Live

            self._live = Live(self, console=self.console, refresh_per_second=4, transient=False)
            self._live.start()
        elif self._live is not None and event.kind == "run_finished":
            self.close()

    def close(self) -> None:
        if self._live is not None:
            live, self._live = self._live, None
            live.stop()

    def __rich__(self) -> Any:
        return self.render()

    @staticmethod
    def _baseline_line(p: Progress) -> Any:
        """The baseline as its mean and noise floor, and the margin a gain must beat."""
        from rich.text import Text

        from .noise import NOISE_SIGMAS, baseline_of

        summary = baseline_of(p.finished)
        if summary.mean is None:
            return Text("baseline: not measured yet", style="dim")
        line = Text.assemble(("baseline ", "bold"), f"{summary.mean:.4g}")
        if summary.floor is None:
            line.append(" (one run; noise floor not measured yet)", style="dim")
        else:
            line.append(f" ± {summary.floor:.2g} ({summary.runs} runs); a gain must beat "
                        f"{NOISE_SIGMAS * summary.floor:.2g}")
        return line

    def render(self) -> Any:
        """The picture as a rich renderable. At any width down to 80 columns the numbers stay
        whole (budget, elapsed time, the metric, the step, the best, the noise floor): narrower,
        the budget bar goes first, then the edit and the diff are shortened."""
        from rich.console import Group
        from rich.text import Text

        with self._lock:
            p = self.progress
            now = self.clock() if self.clock is not None else p.last_event
            wide = self.console.width >= 110
            parts: list[Any] = [*self._header(p, now), self._baseline_line(p), self._best_line(p)]
            if p.running:
                parts.append(self._running(p, now, wide))
            if p.finished:
                parts.append(self._recent(p))
            if p.status and p.status != "running":
                # The closing message itself is arrl's last line, printed once, below.
                parts.append(Text(printable(p.status if p.status.startswith("paused") else f"run {p.status}"),
                                  style="yellow"))
        return Group(*parts)

    @staticmethod
    def _header(p: Progress, now: float) -> list[Any]:
        from rich.text import Text

        arrow = "lower is better" if p.direction is Direction.MINIMIZE else "higher is better"
        rate = p.experiments_per_hour(now)
        return [Text.assemble(("arrl ", "bold"), f"run {p.run_id}  ", (p.metric, "bold"), f" ({arrow})"),
                Text(f"{len(p.finished)} experiments  "
                     + (f"{rate:.1f}/hour" if rate is not None else "-/hour")
                     + f"  early stopping saved {_duration(p.seconds_saved())}")]

    @staticmethod
    def _best_line(p: Progress) -> Any:
        from rich.text import Text

        if p.best is None:
            return Text("best: none yet", style="dim")
        best = p.best
        what = "the unmodified script" if best.proposer == "baseline" else printable(describe(best))
        return Text.assemble(("best ", "bold green"), f"{p.metric}={_value(best.value)} ", f"from #{best.id}: {what}")

    @staticmethod
    def _running(p: Progress, now: float, wide: bool) -> Any:
        from rich.progress_bar import ProgressBar
        from rich.table import Table
        from rich.text import Text

        # Text, never a plain string: rich reads a string as markup ("arr[i]" loses "[i]").
        table = Table(box=None, pad_edge=False, show_header=True, header_style="bold")
        table.add_column("#", no_wrap=True)
        table.add_column("running", no_wrap=True, overflow="ellipsis", ratio=1, min_width=12)
        if wide:
            table.add_column("budget", no_wrap=True)
        for column in ("time", p.metric, "step"):
            table.add_column(column, no_wrap=True, justify="right")
        for item in sorted(p.running.values(), key=lambda r: r.id):
            elapsed = max(0.0, now - item.started)
            mine = [q for q in item.points if q.name == p.metric]
            last = mine[-1] if mine else None
            bar = [ProgressBar(total=max(item.budget, 1e-9), completed=min(elapsed, item.budget), width=24)] if wide else []
            table.add_row(f"#{item.id}", Text(printable(item.edit)), *bar,
                          f"{_duration(elapsed)}/{_duration(item.budget)}",
                          _value(last.value) if last else "-",
                          "" if last is None or last.step is None else str(last.step))
        return table

    @staticmethod
    def _recent(p: Progress) -> Any:
        from rich.table import Table
        from rich.text import Text

        table = Table(box=None, pad_edge=False, show_header=True, header_style="bold")
        table.add_column("#", no_wrap=True)
        for column in ("outcome", p.metric, "time"):
            table.add_column(column, no_wrap=True)
        table.add_column("last results", no_wrap=True, overflow="ellipsis", ratio=1, min_width=12)
        for record in p.finished[-RECENT:]:
            style = "green" if record.kept else ("red" if record.outcome.is_failure else
                                                 "yellow" if record.outcome is Outcome.NO_EFFECT else "")
            diff = "(baseline)" if record.proposer == "baseline" else printable(one_line_diff(record.diff_parent, 70))
            table.add_row(f"#{record.id}", Text(record.outcome.value, style=style), _value(record.value),
                          _duration(record.wall_clock_seconds), Text(diff))
        return table


def console_subscribers(json_stream: bool, stdout: IO[str] | None = None,
                        stderr: IO[str] | None = None) -> list[Subscriber]:
    """What ``arrl run`` shows: the live display on a terminal, else plain lines; with
    ``--json`` the event stream takes standard output and the display moves to standard error."""
    from rich.console import Console

    out = stdout if stdout is not None else sys.stdout
    err = stderr if stderr is not None else sys.stderr
    subscribers: list[Subscriber] = []
    human = out
    if json_stream:
        subscribers.append(JsonLines(out))
        human = err
    if human.isatty():
        subscribers.append(LiveDisplay(Console(file=human), clock=time.time))
    else:
        # `arrl run` prints the run's last line itself, with the error or pause that alerted.
        subscribers.append(LineWriter(stream=human, timestamps=False, progress_every=60.0,
                                      omit=("run_finished", "alert")))
    return subscribers

