"""The in-process sliding window: the last 32 experiments, with duplicate detection."""

from __future__ import annotations

import threading
from collections import Counter, deque
from collections.abc import Iterable, Sequence

import attrs

import arrl
from arrl.schema import HISTORY_WINDOW


@attrs.frozen
class DequeOptions:
    size: int = attrs.field(default=HISTORY_WINDOW, validator=attrs.validators.in_(range(1, HISTORY_WINDOW + 1)))


class DequeMemory(arrl.Memory):
    """O(1) insert and lookup. A program hash stays "seen" exactly as long as an entry with it
    is in the window: a counter, not a set, so that evicting one of two equal entries (the loop
    never adds duplicates, but a plugin may) does not forget the other.

    Shared by the threads of one process (``arrl run --workers N``): a lock makes each call
    atomic, so exactly one worker wins a claim."""

    def __init__(self, size: int = HISTORY_WINDOW) -> None:
        self._entries: deque[arrl.HistoryEntry] = deque(maxlen=size)
        self._seen: Counter[str] = Counter()
        self._claimed: set[str] = set()
        self._lock = threading.Lock()

    def add(self, entry: arrl.HistoryEntry) -> None:
        with self._lock:
            self._add(entry)

    def _add(self, entry: arrl.HistoryEntry) -> None:
        if len(self._entries) == self._entries.maxlen:
            evicted = self._entries[0]
            self._seen[evicted.program_hash] -= 1
            if not self._seen[evicted.program_hash]:
                del self._seen[evicted.program_hash]
        self._entries.append(entry)
        self._seen[entry.program_hash] += 1

    def window(self) -> tuple[arrl.HistoryEntry, ...]:
        with self._lock:
            return tuple(self._entries)

    def contains(self, program_hash: str) -> bool:
        with self._lock:
            return program_hash in self._seen

    def claim(self, program_hash: str) -> bool:
        with self._lock:
            if program_hash in self._claimed:
                return False
            self._claimed.add(program_hash)
            return True

    def release(self, program_hash: str) -> None:
        with self._lock:
            self._claimed.discard(program_hash)

    def refill(self, entries: Sequence[arrl.HistoryEntry], claimed: Iterable[str]) -> None:
        with self._lock:
            self._entries.clear()
            self._seen.clear()
            for entry in entries:
                self._add(entry)
            self._claimed = set(claimed)


@arrl.hookimpl
def arrl_memories():
    yield arrl.Registration(
        name="deque",
        summary="in-process window of the last 32 experiments, sha256 dedup",
        factory=lambda options, context: DequeMemory(options.size),
        options=DequeOptions,
    )
