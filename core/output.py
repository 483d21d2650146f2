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

import contextlib
import os
import re
import shutil
import stat
import subprocess
from collections import deque
from collections.abc import Callable, Iterator
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
    """Bytes of disk under ``directory`` (allocated blocks: a sparse file counts what it uses).
    A tree moved while it was counted gives what was counted before the move: the next look,
    or the one after the run, counts the rest."""
    total = 0
    try:
        for entry in walk_tree(directory):
            total += entry.info.st_blocks * 512
    except (FileNotFoundError, NotADirectoryError, TreeChanged):
        pass
    return total


# -- an experiment's tree, walked without recursion -------------------------------------------
_FOLDER_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


class TreeChanged(OSError):
    """A folder was moved while arrl walked the tree it was in."""


@attrs.frozen
class _Place:
    """A folder's path below the top, as a chain to its parent: one step per folder, however
    deep (a tuple per entry would make a walk cost the square of the depth)."""

    parent: _Place | None
    name: str

    def parts(self) -> tuple[str, ...]:
        names: list[str] = []
        place: _Place | None = self
        while place is not None:
            names.append(place.name)
            place = place.parent
        return tuple(reversed(names))


@attrs.frozen
class TreeEntry:
    folder: int  # a descriptor of the folder that holds the entry, open while the entry is handled
    name: str
    info: os.stat_result  # not following a link
    place: _Place | None  # the folder that holds it (None: the top)

    @property
    def parts(self) -> tuple[str, ...]:
        """Its path below the top (built on demand: O(depth))."""
        return (*(self.place.parts() if self.place is not None else ()), self.name)

    @property
    def relative(self) -> str:
        return os.path.join(*self.parts)


def walk_tree(top: Path, on_leave: Callable[[int, str], None] | None = None,
              skip: Callable[[TreeEntry], bool] | None = None) -> Iterator[TreeEntry]:
    """Each entry below ``top``, a folder before what it holds, never following a link.

    An experiment decides the shape of what it leaves. ``os.walk`` and ``shutil.rmtree`` recurse
    on Python 3.11, so a tree 1500 folders deep ended arrl with a RecursionError, and a path
    past PATH_MAX cannot be opened by name at all. This holds one folder open at a time and goes
    up by ``..``, checked against the folder it came down from: a tree moved under the walk ends
    it with :class:`TreeChanged` rather than leading it elsewhere. A folder the experiment made
    unreadable to arrl (mode 000: it is arrl's own uid's) is given back its owner's rights, so
    that nothing below it escapes the count, the scrub or the removal. ``on_leave(parent,
    name)`` is called when a folder's whole content has been walked (so that it may be removed);
    an entry ``skip`` returns True for is neither yielded nor entered.
    """
    current = _open_folder(None, str(top))
    top_info = os.fstat(current)
    below: list[tuple[str, int, int]] = []  # (name, device, inode) of each folder down to ``current``
    places: list[_Place | None] = [None]  # the place of each folder down to ``current``
    waiting: list[list[str]] = []  # per depth, the folders still to enter
    try:
        while True:
            if len(waiting) == len(below):
                listing = [e for e in _list(current, places[-1]) if skip is None or not skip(e)]
                yield from listing
                waiting.append([e.name for e in reversed(listing) if stat.S_ISDIR(e.info.st_mode)])
            if waiting[-1]:
                name = waiting[-1].pop()
                try:
                    child = _open_folder(current, name)
                except OSError:
                    continue  # removed, or made a link, by whoever handled the entry
                child_info = os.fstat(child)
                os.close(current)
                current = child
                below.append((name, child_info.st_dev, child_info.st_ino))
                places.append(_Place(places[-1], name))
                continue
            waiting.pop()
            if not below:
                return
            name = below.pop()[0]
            places.pop()
            parent = os.open("..", _FOLDER_FLAGS, dir_fd=current)
            os.close(current)
            current = parent
            expected = below[-1][1:] if below else (top_info.st_dev, top_info.st_ino)
            found = os.fstat(current)
            if (found.st_dev, found.st_ino) != expected:
                raise TreeChanged(f"a folder below {top} was moved while arrl walked it")
            if on_leave is not None:
                on_leave(current, name)
    finally:
        os.close(current)


def _open_folder(parent: int | None, name: str) -> int:
    """Open a folder (never through a link); one its owner made unreadable is made its owner's
    again first. The mode is changed through an O_PATH descriptor of the folder itself, so a
    link swapped in meanwhile is never followed to something else."""
    try:
        return os.open(name, _FOLDER_FLAGS, dir_fd=parent)
    except PermissionError:
        handle = os.open(name, os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=parent)
        try:
            os.chmod(f"/proc/self/fd/{handle}", 0o700)
        finally:
            os.close(handle)
        return os.open(name, _FOLDER_FLAGS, dir_fd=parent)


def _list(folder: int, place: _Place | None) -> Iterator[TreeEntry]:
    with os.scandir(folder) as entries:
        for entry in entries:
            try:
                info = os.stat(entry.name, dir_fd=folder, follow_symlinks=False)
            except FileNotFoundError:
                continue
            yield TreeEntry(folder, entry.name, info, place)


def _unlink(entry: TreeEntry) -> bool:
    """Remove a non-folder entry; a folder its owner made read-only is made writable first."""
    try:
        os.unlink(entry.name, dir_fd=entry.folder)
        return True
    except PermissionError:
        with contextlib.suppress(OSError):
            os.fchmod(entry.folder, 0o700)
            os.unlink(entry.name, dir_fd=entry.folder)
            return True
    except OSError:
        pass
    return False


def remove_tree(top: Path) -> None:
    """``shutil.rmtree(top, ignore_errors=True)`` for a tree of any depth (see :func:`walk_tree`)."""
    try:
        info = os.lstat(top)
    except OSError:
        return
    if not stat.S_ISDIR(info.st_mode):
        with contextlib.suppress(OSError):
            os.unlink(top)
        return

    def remove_folder(parent: int, name: str) -> None:
        try:
            os.rmdir(name, dir_fd=parent)
        except PermissionError:
            with contextlib.suppress(OSError):
                os.fchmod(parent, 0o700)
                os.rmdir(name, dir_fd=parent)
        except OSError:
            pass

    with contextlib.suppress(OSError):
        for entry in walk_tree(top, on_leave=remove_folder):
            if not stat.S_ISDIR(entry.info.st_mode):
                _unlink(entry)
    with contextlib.suppress(OSError):
        os.rmdir(top)
    if os.path.lexists(top) and shutil.which("rm"):
        # What the walk could not take (a tree changed under it): rm walks by descriptors too.
        subprocess.run(["rm", "-rf", "--one-file-system", "--", str(top)], capture_output=True, timeout=600)


def scrub_tree(top: Path) -> list[str]:
    """Output is data: a symbolic link, a device, a pipe or a socket an experiment left under
    ``top`` is removed before arrl reads anything there. Returns what was removed (and, marked
    so, what could not be)."""
    removed: list[str] = []
    with contextlib.suppress(FileNotFoundError, NotADirectoryError, TreeChanged):
        for entry in walk_tree(top):
            mode = entry.info.st_mode
            if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
                removed.append(entry.relative if _unlink(entry) else f"{entry.relative} (could not be removed)")
    return removed


# -- text an experiment wrote, on a terminal or in a log ---------------------------------------
# C0 and C1 controls but tab and newline, DEL, and the bidirectional overrides that make a line
# read otherwise than it is.
_UNPRINTABLE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def printable(text: str) -> str:
    """``text`` with each control character shown as ``\\x1b`` (or ``\\u202e``): what an
    experiment printed may reach a terminal through arrl, and an escape sequence there could
    clear the screen, retitle the window or write the clipboard."""
    return _UNPRINTABLE.sub(_escape, text)


def clip(text: str, width: int) -> str:
    """The first line of ``text`` in at most ``width`` characters, cut between words with an
    ellipsis when it is longer: a reason cut mid-word reads as a different sentence."""
    line = text.splitlines()[0] if text else ""
    if len(line) <= width:
        return line
    cut = line[: width - 1]
    space = cut.rfind(" ")
    return (cut[:space] if space > width // 2 else cut).rstrip(" ,;:(") + "…"


def counted(number: int, noun: str) -> str:
    """``1 experiment``, ``2 experiments``."""
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
