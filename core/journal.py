"""Run directories: where a run keeps its settings, its journal and each experiment's files.

    <runs_dir>/<run_id>/run.json            what the run is and whether it is finished
    <runs_dir>/<run_id>/journal.jsonl       one experiment record per line, append-only
    <runs_dir>/<run_id>/proposer.state      the proposer's own saved state
    <runs_dir>/<run_id>/experiments/<id>/   stdout.log, stderr.log and output/ of each experiment
    <runs_dir>/<run_id>/workspace/          the checkout experiments run in

The journal is the source of truth: each record is written whole with one ``write`` and
fsynced before the loop moves on, and a torn last line (a crash mid-write) is ignored on
reading, so what was recorded survives a ``kill -9`` and nothing is recorded twice.
"""

from __future__ import annotations

import contextlib
import datetime
import enum
import errno
import fcntl
import json
import os
import re
import secrets
import shutil
from pathlib import Path
from typing import Any

import attrs

from .errors import ArrlError
from .records import ExperimentRecord, HistoryEntry, Outcome, converter, from_dict, to_json
from .schema import HISTORY_WINDOW


class RunStatus(str, enum.Enum):
    RUNNING = "running"
    PAUSED = "paused"  # stopped itself after consecutive failures; a human should look
    INTERRUPTED = "interrupted"  # the user pressed Ctrl-C
    FINISHED = "finished"  # reached --max-experiments, --max-hours or --target

    @property
    def unfinished(self) -> bool:
        return self is not RunStatus.FINISHED


@attrs.define
class RunMeta:
    run_id: str
    created_at: str
    status: RunStatus
    settings: dict[str, Any]
    repo_root: str
    status_reason: str = ""
    # What pinned the execution environment of this run's experiments (runner.fingerprint()).
    fingerprint: dict[str, str] = attrs.Factory(dict)


def memory_from_journal(records: list[ExperimentRecord]) -> tuple[list[HistoryEntry], set[str]]:
    """What a memory holds according to the journal: the window's entries (oldest first) and
    every program with a result. Duplicates and interrupted experiments have no result."""
    with_result = [r for r in records if r.outcome not in (Outcome.DUPLICATE, Outcome.INTERRUPTED)]
    return ([r.history_entry() for r in with_result[-HISTORY_WINDOW:]],
            {r.program_hash for r in with_result})


def now_iso(timespec: str = "seconds") -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec=timespec)


def new_run_id() -> str:
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%d-%H%M%S")
    return f"{stamp}-{secrets.token_hex(2)}"


def write_atomic(path: Path, text: str) -> None:
    """Write-then-rename: a kill mid-write leaves the old text or the new, never a torn file
    (proposers save their state with it, so that a continued run can load it)."""
    _write_atomic_bytes(path, text.encode())


def _write_atomic_bytes(path: Path, data: bytes) -> None:
    """Write-then-rename: a reader sees the old bytes or the new, never a mix."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    try:
        with tmp.open("wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
        _fsync_dir(path.parent)
    except OSError as error:
        tmp.unlink(missing_ok=True)
        raise ArrlError(f"cannot write {path}: {error.strerror or error}; the previous version is intact") from None


class JournalDamaged(ArrlError):
    """A whole line of the journal is not a readable record."""


@attrs.frozen
class DamagedLine:
    line_number: int
    reason: str
    text: bytes


def _damage_reason(error: Exception) -> str:
    if isinstance(error, (UnicodeDecodeError, json.JSONDecodeError)):
        return f"not valid JSON ({error})"
    return f"not an experiment record ({type(error).__name__}: {str(error).splitlines()[0][:200] if str(error) else ''})"


# The lines run.log's LineWriter (arrl.run.events) writes for an experiment: "<time> #<id> ...".
# A finished experiment's line (arrl.run.events.summary), not its "started" line.
_LOGGED_EXPERIMENT = re.compile(r"^\S+ #(\d+) (?!started:)")


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def prepare_runs_dir(runs_dir: Path) -> None:
    runs_dir.mkdir(parents=True, exist_ok=True)
    ignore = runs_dir / ".gitignore"
    if not ignore.exists():
        # Keeps the user's `git status` clean without touching their own .gitignore.
        ignore.write_text("# created by arrl: run directories are not source\n*\n")


class RunsDirectoryBusy(ArrlError):
    """Another arrl process holds the runs directory."""


class RunsLock:
    """One ``arrl run`` at a time per runs directory.

    Two processes continuing one run would write the same experiment ids twice, and one's
    stale-process cleanup would kill the other's experiment. ``flock`` on ``<runs_dir>/lock``
    is released by the kernel when the holder dies, even by SIGKILL, so a crash never leaves
    the directory locked. The file holds the holder's pid, for the refusal message only.
    """

    FILE = "lock"

    def __init__(self, runs_dir: Path) -> None:
        self.path = runs_dir / self.FILE
        self._fd: int | None = None

    def acquire(self) -> None:
        prepare_runs_dir(self.path.parent)
        while True:
            # O_CLOEXEC (Python's default): experiments never inherit the lock, so a process an
            # experiment leaves behind cannot keep the directory locked.
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
                os.close(fd)
                raise RunsDirectoryBusy(
                    f"another arrl (pid {holder}) is running in {self.path.parent}; wait for it to "
                    f"finish or stop it (Ctrl-C there, or `kill {holder}`), then run again") from None
            # The holder before us removes the file as it lets go: a lock taken on the file it
            # removed is no lock at all, so take it again on the file that is there now.
            try:
                if os.stat(self.path).st_ino == os.fstat(fd).st_ino:
                    break
            except FileNotFoundError:
                pass
            os.close(fd)
        with contextlib.suppress(OSError):  # the pid is for the refusal message only: a full disk may refuse it
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd

    def release(self) -> None:
        """Let go, leaving no lock file behind (a killed arrl leaves one, which the next takes)."""
        if self._fd is not None:
            with contextlib.suppress(OSError):
                self.path.unlink()  # while still holding it: see acquire
            os.close(self._fd)  # closing the last descriptor drops the flock
            self._fd = None

    def __enter__(self) -> RunsLock:
        self.acquire()
        return self

    def __exit__(self, *_: object) -> None:
        self.release()


class JournalFile:
    """The journal's lines: appended whole and fsynced, read back with damage told apart from a
    torn tail, repaired, and damaged lines set aside. The run directory's other files are
    :class:`RunDirectory`'s."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def append(self, record: ExperimentRecord) -> None:
        line = (to_json(record) + "\n").encode()
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                # One write of the whole line: a crash leaves it whole or torn at the end, never
                # interleaved; a torn tail is dropped by records() and rewritten by repair().
                written = os.write(fd, line)
                if written != len(line):
                    raise OSError(errno.ENOSPC, f"short write ({written} of {len(line)} bytes)")
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as error:
            self._truncate_to_whole_lines()
            raise ArrlError(
                f"cannot write experiment {record.id} to the journal {self.path}: "
                f"{error.strerror or error}. Every experiment recorded before is intact; free space "
                "and run `arrl run` to continue (this experiment runs again)") from None

    def _truncate_to_whole_lines(self) -> None:
        # A failed write may have left part of a line: cut it so nothing half-written remains.
        try:
            data = self.path.read_bytes()
            if data and not data.endswith(b"\n"):
                os.truncate(self.path, data.rfind(b"\n") + 1)
        except OSError:
            pass  # repair() does the same on the next start

    def records(self) -> list[ExperimentRecord]:
        """Every record of the journal; :class:`JournalDamaged` if a whole line is unreadable."""
        records, damaged = self.read()
        if damaged:
            first = damaged[0]
            more = f" (and {len(damaged) - 1} more damaged line(s))" if len(damaged) > 1 else ""
            raise JournalDamaged(
                f"{self.path}:{first.line_number}: damaged record: {first.reason}{more}. The "
                f"{len(records)} other records are intact. `arrl run --skip-damaged` continues the run "
                f"without the damaged line(s), which are moved to {self.damaged_path.name} and reported")
        return records

    def read(self) -> tuple[list[ExperimentRecord], list[DamagedLine]]:
        """The readable records, and the whole lines that are not (bit rot, a hand edit).

        A torn last line (no newline: a crash mid-write) is neither: that record never existed."""
        records: list[ExperimentRecord] = []
        damaged: list[DamagedLine] = []
        for number, line in enumerate(self.path.read_bytes().splitlines(keepends=True), start=1):
            if not line.endswith(b"\n"):
                break
            try:
                records.append(from_dict(json.loads(line), ExperimentRecord))
            except Exception as error:  # any way a line can fail to be a record is damage
                damaged.append(DamagedLine(number, _damage_reason(error), line))
        return records, damaged

    @property
    def damaged_path(self) -> Path:
        return self.path.with_name("journal.damaged.jsonl")

    def set_aside_damaged(self) -> list[DamagedLine]:
        """Move damaged lines out of the journal into ``journal.damaged.jsonl``; the rest stays
        byte for byte. Returns what was moved, for the caller to report."""
        _, damaged = self.read()
        if not damaged:
            return []
        with self.damaged_path.open("ab") as aside:
            for entry in damaged:
                aside.write(entry.text)
            aside.flush()
            os.fsync(aside.fileno())
        skip = {entry.line_number for entry in damaged}
        lines = self.path.read_bytes().splitlines(keepends=True)
        kept = b"".join(line for number, line in enumerate(lines, start=1) if number not in skip)
        _write_atomic_bytes(self.path, kept)
        return damaged

    def repair(self) -> None:
        """Drop a torn last line so that the next append starts on a line of its own."""
        data = self.path.read_bytes()
        if data and not data.endswith(b"\n"):
            keep = data[: data.rfind(b"\n") + 1]
            write_atomic(self.path, keep.decode())


class RunDirectory:
    """One run's folder (the layout in this module's docstring): its settings and status, its
    journal, each experiment's folder and the run's log."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.journal = path / "journal.jsonl"
        self.lines = JournalFile(self.journal)
        self.meta_path = path / "run.json"
        self.proposer_state = path / "proposer.state"

    @classmethod
    def create(cls, runs_dir: Path, settings: dict[str, Any], repo_root: Path) -> RunDirectory:
        prepare_runs_dir(runs_dir)
        run_id = new_run_id()
        run = cls(runs_dir / run_id)
        run.path.mkdir()
        run.journal.touch()
        # Microseconds: runs started within one second must still order by creation.
        created = now_iso("microseconds")
        run.save_meta(RunMeta(run_id, created, RunStatus.RUNNING, settings, str(repo_root)))
        return run

    @classmethod
    def latest_unfinished(cls, runs_dir: Path) -> RunDirectory | None:
        candidates = []
        for meta_path in runs_dir.glob("*/run.json") if runs_dir.is_dir() else ():
            run = cls(meta_path.parent)
            meta = run.load_meta()
            if meta.status.unfinished:
                candidates.append((meta.created_at, meta.run_id, run))
        return max(candidates, key=lambda c: (c[0], c[1]))[2] if candidates else None

    @classmethod
    def all(cls, runs_dir: Path) -> list[RunDirectory]:
        runs = [cls(p.parent) for p in runs_dir.glob("*/run.json")] if runs_dir.is_dir() else []
        return sorted(runs, key=lambda r: (r.load_meta().created_at, r.path.name))

    @property
    def run_id(self) -> str:
        return self.path.name

    def load_meta(self) -> RunMeta:
        try:
            return from_dict(json.loads(self.meta_path.read_text()), RunMeta)
        except (OSError, ValueError) as error:
            raise ArrlError(f"cannot read {self.meta_path}: {error}") from None

    def save_meta(self, meta: RunMeta) -> None:
        write_atomic(self.meta_path, json.dumps(converter.unstructure(meta), indent=2, sort_keys=True))

    def set_status(self, status: RunStatus, reason: str = "") -> None:
        meta = self.load_meta()
        meta.status, meta.status_reason = status, reason
        self.save_meta(meta)

    def end_after_error(self, error: BaseException) -> RunStatus:
        """Leave a run an error stopped in a status that says so, never "running": finished
        (it could not start, so `arrl run` starts afresh instead of continuing nothing) when
        it recorded no experiment, else interrupted, which `arrl run` continues."""
        message = "stopped by the user" if isinstance(error, KeyboardInterrupt) else str(error) or type(error).__name__
        meta = self.load_meta()
        if meta.status is not RunStatus.RUNNING:
            return meta.status  # the loop already said why (a failed baseline, a pause)
        try:
            records, damaged = self.read() if self.journal.exists() else ([], [])
            recorded = bool(records or damaged)
        except (OSError, ValueError):
            recorded = True  # unreadable: keep it continuable, and let the next start say why
        if recorded:
            self.set_status(RunStatus.INTERRUPTED, f"stopped by an error: {message}")
            return RunStatus.INTERRUPTED
        self.set_status(RunStatus.FINISHED, f"could not start: {message}")
        return RunStatus.FINISHED

    def recorded(self) -> bool:
        """Whether the journal holds anything (a damaged line counts)."""
        return self.journal.exists() and self.journal.stat().st_size > 0

    def began_nothing(self, status: RunStatus, error: BaseException) -> bool:
        """Whether a run that ``error`` ended (``end_after_error`` said ``status``) left nothing
        of the user's: it could not start, its journal is empty, no experiment got its own
        folder (logs, outputs), and it was not a Ctrl-C (the user may want to look)."""
        folder = self.path / "experiments"
        return (status is RunStatus.FINISHED and not self.recorded() and not isinstance(error, KeyboardInterrupt)
                and not (folder.is_dir() and any(folder.iterdir())))

    def remove(self) -> None:
        """Delete the run's folder: only for a run that recorded nothing."""
        shutil.rmtree(self.path, ignore_errors=True)

    def experiment_dir(self, experiment_id: int) -> Path:
        return self.path / "experiments" / str(experiment_id)


    # The journal's lines are JournalFile's; these keep the run directory the one handle callers use.
    def append(self, record: ExperimentRecord) -> None:
        self.lines.append(record)

    def records(self) -> list[ExperimentRecord]:
        """Every record of the journal; :class:`JournalDamaged` if a whole line is unreadable."""
        return self.lines.records()

    def read(self) -> tuple[list[ExperimentRecord], list[DamagedLine]]:
        return self.lines.read()

    @property
    def damaged_path(self) -> Path:
        return self.lines.damaged_path

    def set_aside_damaged(self) -> list[DamagedLine]:
        return self.lines.set_aside_damaged()

    def repair(self) -> None:
        self.lines.repair()

    def complete_log(self, entries: list[tuple[int, str, str]]) -> int:
        """Rebuild ``run.log`` from the journal: add the experiments it lacks (``(id, time,
        summary)``; those recorded just before a kill), in time order. Returns how many."""
        try:
            lines = self.log_path.read_text().splitlines(keepends=True)
        except FileNotFoundError:
            lines = []
        logged = {int(m.group(1)) for line in lines if (m := _LOGGED_EXPERIMENT.match(line))}
        missing = [f"{when} {summary}\n" for id_, when, summary in entries if id_ not in logged]
        if missing:
            # ISO times of one format sort as text; the sort is stable for equal times.
            merged = sorted(lines + missing, key=lambda line: line.split(" ", 1)[0])
            write_atomic(self.log_path, "".join(merged))
        return len(missing)

    @property
    def log_path(self) -> Path:
        return self.path / "run.log"
