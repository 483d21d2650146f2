"""The in-process sliding window: the last 32 experiments, with duplicate detection."""

from __future__ import annotations

from collections import Counter, deque

import attrs

import arrl
from arrl.schema import HISTORY_WINDOW


@attrs.frozen
class DequeOptions:
    size: int = attrs.field(default=HISTORY_WINDOW, validator=attrs.validators.in_(range(1, HISTORY_WINDOW + 1)))


class DequeMemory(arrl.Memory):
    """O(1) insert and lookup. A program hash stays "seen" exactly as long as an entry with it
    is in the window: a counter, not a set, so that evicting one of two equal entries (the loop
    never adds duplicates, but a plugin may) does not forget the other."""

    def __init__(self, size: int = HISTORY_WINDOW) -> None:
        self._entries: deque[arrl.HistoryEntry] = deque(maxlen=size)
        self._seen: Counter[str] = Counter()

    def add(self, entry: arrl.HistoryEntry) -> None:
        if len(self._entries) == self._entries.maxlen:
            evicted = self._entries[0]
            self._seen[evicted.program_hash] -= 1
            if not self._seen[evicted.program_hash]:
                del self._seen[evicted.program_hash]
        self._entries.append(entry)
        self._seen[entry.program_hash] += 1

    def window(self) -> tuple[arrl.HistoryEntry, ...]:
        return tuple(self._entries)

    def contains(self, program_hash: str) -> bool:
        return program_hash in self._seen


@arrl.hookimpl
def arrl_memories():
    yield arrl.Registration(
        name="deque",
        summary="in-process window of the last 32 experiments, sha256 dedup",
        factory=lambda options, context: DequeMemory(options.size),
        options=DequeOptions,
    )
