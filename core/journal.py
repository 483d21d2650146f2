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

import datetime
import enum
import errno
import json
import os
import secrets
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
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec=timespec)


def new_run_id() -> str:
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%d-%H%M%S")
    return f"{stamp}-{secrets.token_hex(2)}"


def _write_atomic(path: Path, text: str) -> None:
    """Write-then-rename: a reader sees the old text or the new, never a mix."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    try:
        with tmp.open("w") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
        _fsync_dir(path.parent)
    except OSError as error:
        tmp.unlink(missing_ok=True)
        raise ArrlError(f"cannot write {path}: {error.strerror or error}; the previous version is intact") from None


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class RunDirectory:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.journal = path / "journal.jsonl"
        self.meta_path = path / "run.json"
        self.proposer_state = path / "proposer.state"

    @classmethod
    def create(cls, runs_dir: Path, settings: dict[str, Any], repo_root: Path) -> RunDirectory:
        runs_dir.mkdir(parents=True, exist_ok=True)
        ignore = runs_dir / ".gitignore"
        if not ignore.exists():
            # Keeps the user's `git status` clean without touching their own .gitignore.
            ignore.write_text("# created by arrl: run directories are not source\n*\n")
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
        _write_atomic(self.meta_path, json.dumps(converter.unstructure(meta), indent=2, sort_keys=True))

    def set_status(self, status: RunStatus, reason: str = "") -> None:
        meta = self.load_meta()
        meta.status, meta.status_reason = status, reason
        self.save_meta(meta)

    def experiment_dir(self, experiment_id: int) -> Path:
        return self.path / "experiments" / str(experiment_id)

    def append(self, record: ExperimentRecord) -> None:
        line = (to_json(record) + "\n").encode()
        try:
            fd = os.open(self.journal, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
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
                f"cannot write experiment {record.id} to the journal {self.journal}: "
                f"{error.strerror or error}. Every experiment recorded before is intact; free space "
                "and run `arrl run` to continue (this experiment runs again)") from None

    def _truncate_to_whole_lines(self) -> None:
        # A failed write may have left part of a line: cut it so nothing half-written remains.
        try:
            data = self.journal.read_bytes()
            if data and not data.endswith(b"\n"):
                os.truncate(self.journal, data.rfind(b"\n") + 1)
        except OSError:
            pass  # repair() does the same on the next start

    def records(self) -> list[ExperimentRecord]:
        records = []
        for line in self.journal.read_bytes().splitlines(keepends=True):
            if not line.endswith(b"\n"):
                break  # torn by a crash mid-write: that record was never complete
            records.append(from_dict(json.loads(line), ExperimentRecord))
        return records

    def repair(self) -> None:
        """Drop a torn last line so that the next append starts on a line of its own."""
        data = self.journal.read_bytes()
        if data and not data.endswith(b"\n"):
            keep = data[: data.rfind(b"\n") + 1]
            _write_atomic(self.journal, keep.decode())
