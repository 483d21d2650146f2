"""The Redis memory: the 32-experiment window and the sha256 dedup, shared by every worker of a
run (threads, processes or machines) through one ``redis-server``.

Keys, namespaced per run (``<prefix>:<run id>:...``)::

    window   sorted set: the newest 32 history entries, scored by experiment id
    claims   hash: program hash -> the token of the claim that won it (exactly one caller wins)
    alive    marker written with the data; its absence means Redis lost this run's keys

Each operation is one Lua script, so it is atomic on the server and checks the marker in the
same step. A claim carries a token of its own, so retrying it after a lost reply (the server ran
it, then the connection dropped) finds its own token and still wins, instead of losing to itself. The journal, not Redis, is the source of truth: when Redis comes back without this
run's keys (restarted without persistence, or flushed) the window and the claims are refilled
from the journal, together with the claims this process holds for experiments still running.
A lost connection is retried with exponential backoff for ``reconnect_seconds``; Redis
unreachable when the run starts is a clear error at once.

Persistence: run Redis with the append-only file (``redis-server --appendonly yes
--appendfsync always``) so that a restart keeps claims of experiments still running on other
machines; without it a restart is still safe for one arrl process (it re-asserts its own), and
the window always comes back from the journal.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import attrs

import arrl
from arrl.errors import ArrlError
from arrl.journal import RunDirectory, memory_from_journal
from arrl.records import from_json, to_json
from arrl.schema import HISTORY_WINDOW

T = TypeVar("T")
JOURNAL_TOKEN = "journal"  # the owner of a claim whose experiment is in the journal

# KEYS: window, claims, alive, sequence. Every script returns -1 when the marker is missing.
_ADD = """
if redis.call('EXISTS', KEYS[3]) == 0 then return -1 end
local score = ARGV[2]
if score == '' then score = tostring(redis.call('INCR', KEYS[4])) end
redis.call('ZADD', KEYS[1], score, score .. '|' .. ARGV[1])
redis.call('ZREMRANGEBYRANK', KEYS[1], 0, -(tonumber(ARGV[3]) + 1))
return 1
"""
_CLAIM = """
if redis.call('EXISTS', KEYS[3]) == 0 then return -1 end
local owner = redis.call('HGET', KEYS[2], ARGV[1])
if not owner then
    redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
    return 1
end
if owner == ARGV[2] then return 1 end
return 0
"""
_WINDOW = """
if redis.call('EXISTS', KEYS[3]) == 0 then return -1 end
return redis.call('ZRANGE', KEYS[1], 0, -1)
"""


@attrs.frozen
class RedisOptions:
    url: str = "redis://127.0.0.1:6379/0"
    # Keys are <prefix>:<run id>:..., so several runs (and other programs) share one server.
    prefix: str = "arrl"
    size: int = attrs.field(default=HISTORY_WINDOW, validator=attrs.validators.in_(range(1, HISTORY_WINDOW + 1)))
    # How long to keep retrying a lost connection (exponential backoff) before the run stops.
    reconnect_seconds: float = attrs.field(default=60.0, validator=attrs.validators.ge(0))
    # Seconds to wait for a connection or a reply before counting it as lost.
    timeout: float = attrs.field(default=5.0, validator=attrs.validators.gt(0))


class RedisMemory(arrl.Memory):
    def __init__(self, options: RedisOptions, run_dir: Path) -> None:
        import redis  # redis-py, the `redis` extra: imported here so listing plugins never needs it
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        self.options = options
        self.run_dir = run_dir
        self._lost = (redis.ConnectionError, redis.TimeoutError)  # BusyLoadingError included
        # Retries are ours (_call): one policy, with a deadline, for every operation.
        self.client = redis.Redis.from_url(options.url, socket_timeout=options.timeout,
                                           socket_connect_timeout=options.timeout, retry=Retry(NoBackoff(), 0))
        namespace = f"{options.prefix}:{run_dir.name}"
        self.keys = [f"{namespace}:{name}" for name in ("window", "claims", "alive", "sequence")]
        self._add = self.client.register_script(_ADD)
        self._claim = self.client.register_script(_CLAIM)
        self._window = self.client.register_script(_WINDOW)
        self._held: dict[str, str] = {}  # program hash -> token, claimed here, not yet added or released
        self._lock = threading.Lock()
        self.reconnects = 0
        self.refills = 0
        try:
            self.client.ping()
        except self._lost as error:
            raise ArrlError(
                f"cannot reach Redis at {options.url} for the redis memory: {str(error).rstrip('.')}. Start "
                "redis-server (see docs/scaling.md), set -o memory.url=redis://HOST:PORT/DB, or use "
                "--plugin memory=deque") from None

    # -- plumbing ---------------------------------------------------------------------------
    def _call(self, operation: Callable[[], T]) -> T:
        """Run ``operation``, retrying a lost connection with exponential backoff."""
        deadline = time.monotonic() + self.options.reconnect_seconds
        delay = 0.05
        while True:
            try:
                return operation()
            except self._lost as error:
                if time.monotonic() + delay > deadline:
                    raise ArrlError(
                        f"lost the connection to Redis at {self.options.url} for more than "
                        f"{self.options.reconnect_seconds:g} s ({error}); every recorded experiment is "
                        "in the journal: restart Redis and continue with `arrl run`") from None
                time.sleep(delay)
                delay = min(delay * 2, 2.0)
                self.reconnects += 1

    def _scripted(self, script: Any, *args: Any) -> Any:
        """Run one of the Lua scripts; refill from the journal first if Redis lost the run's keys."""
        for _ in range(3):
            result = self._call(lambda: script(keys=self.keys, args=list(args)))
            if result != -1:
                return result
            self._recover()
        raise ArrlError(f"Redis at {self.options.url} keeps losing the keys of run {self.run_dir.name}")

    def _recover(self) -> None:
        """Redis came back without this run's keys: put back what the journal and this process
        know. Additive (no deletion), so workers recovering at once cannot undo each other."""
        records = RunDirectory(self.run_dir).records() if (self.run_dir / "journal.jsonl").exists() else []
        entries, claimed = memory_from_journal(records)
        with self._lock:
            held = dict(self._held)
        self._write(entries, claimed, replace=False, held=held)
        self.refills += 1

    def _write(self, entries: Sequence[arrl.HistoryEntry], claimed: Iterable[str], replace: bool,
               held: dict[str, str] | None = None) -> None:
        window, claims, alive, sequence = self.keys
        members: dict[str, float] = {}
        for position, entry in enumerate(entries[-self.options.size:]):
            # Entries without an experiment id keep their order by position.
            score = entry.experiment_id if entry.experiment_id is not None else position
            members[f"{score}|{to_json(entry)}"] = float(score)
        hashes = sorted(set(claimed))

        def write() -> None:
            pipe = self.client.pipeline(transaction=True)
            if replace:
                pipe.delete(window, claims, sequence)
            if members:
                pipe.zadd(window, members)
                pipe.zremrangebyrank(window, 0, -(self.options.size + 1))
            if hashes:
                pipe.hset(claims, mapping={h: JOURNAL_TOKEN for h in hashes})
            for program, token in (held or {}).items():
                pipe.hsetnx(claims, program, token)  # never take a claim another process won since
            pipe.set(alive, "1")
            pipe.execute()

        self._call(write)

    # -- the Memory contract ----------------------------------------------------------------
    def add(self, entry: arrl.HistoryEntry) -> None:
        score = "" if entry.experiment_id is None else str(entry.experiment_id)
        self._scripted(self._add, to_json(entry), score, self.options.size)
        with self._lock:
            self._held.pop(entry.program_hash, None)

    def window(self) -> tuple[arrl.HistoryEntry, ...]:
        members = self._scripted(self._window)
        return tuple(from_json(m.split(b"|", 1)[1], arrl.HistoryEntry) for m in members)

    def contains(self, program_hash: str) -> bool:
        return any(entry.program_hash == program_hash for entry in self.window())

    def claim(self, program_hash: str) -> bool:
        token = uuid.uuid4().hex
        with self._lock:
            if program_hash in self._held:
                return False  # this process holds it already
            # Held before asking, so that a refill racing this call re-asserts it.
            self._held[program_hash] = token
        won = self._scripted(self._claim, program_hash, token) == 1
        if not won:
            with self._lock:
                self._held.pop(program_hash, None)
        return won

    def release(self, program_hash: str) -> None:
        with self._lock:
            self._held.pop(program_hash, None)
        self._call(lambda: self.client.hdel(self.keys[1], program_hash))

    def refill(self, entries: Sequence[arrl.HistoryEntry], claimed: Iterable[str]) -> None:
        with self._lock:
            self._held.clear()
        self._write(entries, claimed, replace=True)

    def close(self) -> None:
        self.client.close()


@arrl.hookimpl
def arrl_memories():
    yield arrl.Registration(
        name="redis",
        summary="the window and sha256 dedup in Redis, shared by every worker of a run",
        factory=lambda options, context: RedisMemory(options, context.run_dir),
        options=RedisOptions,
    )
