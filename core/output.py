"""Bounds on what an experiment may make arrl keep: its logs, its lines, its output directory.

A training script is untrusted in volume as much as in content: it may print without end, print
one line of a gigabyte, or fill ``ARRL_OUTPUT_DIR``. arrl's own memory and disk must not follow.

- Each log keeps its first and its last ``max_log_size / 2`` bytes, with a marker between them
  saying how much was left out (the tail is where a traceback is).
- A line is read in chunks; at most ``max_line_size`` bytes of it are ever held. A longer line
  is cut (and, for a metric line, not parsed).
- The output directory may hold at most ``output_quota`` bytes of disk; going over fails the
  experiment.
"""

from __future__ import annotations

import os
import re
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import attrs

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}


def parse_size(text: str | int) -> int:
    """Bytes of ``"512k"``, ``"10m"``, ``"4g"`` (powers of 1024) or a plain integer."""
    if isinstance(text, int):
        return text
    match = _SIZE.match(text)
    if not match:
        raise ValueError(f"expected a size such as 512k, 10m or 4g, got {text!r}")
    return int(float(match.group(1)) * _UNITS[match.group(2).lower()])


def size_at_least(minimum: int):
    def check(_: object, attribute: attrs.Attribute, value: str) -> None:
        try:
            size = parse_size(value)
        except ValueError as error:
            raise ValueError(f"{attribute.name}: {error}") from None
        if size < minimum:
            raise ValueError(f"{attribute.name} must be at least {minimum} bytes, got {value!r}")
    return check


@attrs.frozen
class OutputLimits:
    """Runner options shared by every shipped runner (``-o runner.max_log_size=50m``)."""

    # Per log (stdout.log, stderr.log): the first and last half are kept.
    max_log_size: str = attrs.field(default="10m", validator=size_at_least(4096))
    # A longer line is cut; a metric line that long is not parsed.
    max_line_size: str = attrs.field(default="1m", validator=size_at_least(256))
    # Disk the experiment's output directory may use; over it, the experiment fails.
    output_quota: str = attrs.field(default="4g", validator=size_at_least(1 << 20))

    @property
    def log_bytes(self) -> int:
        return parse_size(self.max_log_size)

    @property
    def line_bytes(self) -> int:
        return parse_size(self.max_line_size)

    @property
    def output_bytes(self) -> int:
        return parse_size(self.output_quota)


class CappedLog:
    """A log file that keeps its head on disk as it comes and only its tail in memory."""

    def __init__(self, path: Path, limit: int, errors: list[str]) -> None:
        self.path = path
        self.head_left = limit // 2
        self.tail_limit = limit - limit // 2
        self.tail: deque[bytes] = deque()
        self.tail_size = 0
        self.left_out = 0
        self.errors = errors
        self.sink: IO[bytes] | None = None
        try:
            self.sink = path.open("ab", buffering=0)
        except OSError as error:
            errors.append(f"cannot write {path.name}: {error.strerror}")

    def write(self, chunk: bytes) -> None:
        if self.head_left > 0:
            head, chunk = chunk[: self.head_left], chunk[self.head_left :]
            self.head_left -= len(head)
            self._write(head)
        if not chunk:
            return
        self.tail.append(chunk)
        self.tail_size += len(chunk)
        while self.tail_size > self.tail_limit:
            first = self.tail[0]
            excess = self.tail_size - self.tail_limit
            if len(first) <= excess:
                self.tail.popleft()
                self.tail_size -= len(first)
                self.left_out += len(first)
            else:
                self.tail[0] = first[excess:]
                self.tail_size -= excess
                self.left_out += excess

    def close(self) -> None:
        if self.left_out:
            self._write(f"\n[arrl: {self.left_out} bytes left out here: the log keeps its first and "
                        f"last {self.tail_limit} bytes]\n".encode())
        while self.tail:
            self._write(self.tail.popleft())
        if self.sink is not None:
            self.sink.close()
            self.sink = None

    def _write(self, data: bytes) -> None:
        if self.sink is None or not data:
            return
        try:
            self.sink.write(data)
        except OSError as error:
            # A full disk must not stop the draining: a blocked pipe would hang the run.
            self.errors.append(f"cannot write {self.path.name}: {error.strerror}")
            self.sink.close()
            self.sink = None


class LineSplitter:
    """Whole lines out of arbitrary chunks, holding at most ``limit`` bytes of any one line."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.pending = bytearray()
        self.cut = False  # the pending line went over the limit; its rest is being dropped

    def feed(self, chunk: bytes) -> Iterator[tuple[bytes, bool]]:
        """``(line, was_cut)`` for each line that ends in ``chunk``."""
        start = 0
        while True:
            end = chunk.find(b"\n", start)
            piece = chunk[start:] if end < 0 else chunk[start : end + 1]
            room = self.limit - len(self.pending)
            if len(piece) > room:
                self.pending += piece[: max(room, 0)]
                self.cut = True
            else:
                self.pending += piece
            if end < 0:
                return
            yield bytes(self.pending), self.cut
            self.pending.clear()
            self.cut = False
            start = end + 1

    def finish(self) -> Iterator[tuple[bytes, bool]]:
        if self.pending:
            yield bytes(self.pending), self.cut
            self.pending.clear()


def disk_usage(directory: Path) -> int:
    """Bytes of disk under ``directory`` (allocated blocks: a sparse file counts what it uses)."""
    total = 0
    for root, dirs, files in os.walk(directory):
        for name in files + dirs:
            try:
                total += os.lstat(os.path.join(root, name)).st_blocks * 512
            except OSError:
                pass  # removed while we looked
    return total
