"""The memory contract, for every registered memory plugin (parametrized over the registry, as
Optuna tests every sampler), and the Redis memory's sharing, concurrency and faults against a
real redis-server."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import arrl
from arrl.errors import ArrlError
from arrl.journal import RunDirectory
from arrl.manager import Registry, build_options, make_plugin_manager
from arrl.records import Direction, ExperimentRecord, Outcome
from arrl.roles import PluginContext
from arrl.schema import HISTORY_WINDOW

MEMORIES = Registry(make_plugin_manager()).names("memory")
NEEDS_SERVER = {"redis"}


def entry(i: int, program: str | None = None) -> arrl.HistoryEntry:
    return arrl.HistoryEntry(config_hash=f"c{i}", val_loss=float(i), wall_clock_seconds=1.0, early_stopped=False,
                             program_hash=program or f"p{i}", experiment_id=i)


def context(run_dir: Path) -> PluginContext:
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "journal.jsonl").touch()
    return PluginContext(run_dir=run_dir, repo_root=run_dir, script_path="train.py", metric="val_loss",
                         direction=Direction.MINIMIZE, budget_seconds=10, seed=0)


@pytest.fixture(params=MEMORIES)
def make_memory(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[..., arrl.Memory]:
    """Builds the parametrized memory plugin for a run directory, as the loop would."""
    name = request.param
    options: dict[str, Any] = {}
    if name in NEEDS_SERVER:
        options["url"] = request.getfixturevalue("redis_server").url
    registration = Registry(make_plugin_manager()).get("memory", name)
    built: list[arrl.Memory] = []

    def make(run: str = "run-a", **extra: Any) -> arrl.Memory:
        memory = registration.factory(build_options(registration, {**options, **extra}), context(tmp_path / run))
        memory.refill([], [])  # the loop's start
        built.append(memory)
        return memory

    yield make
    for memory in built:
        memory.close()


# --- the contract, for every memory ----------------------------------------------------------

def test_window_holds_the_newest_entries_oldest_first(make_memory) -> None:
    memory = make_memory()
    for i in range(45):
        memory.add(entry(i))
    assert [e.experiment_id for e in memory.window()] == list(range(45 - HISTORY_WINDOW, 45))
    assert memory.window()[-1] == entry(44)  # entries come back whole
    assert memory.contains("p44") and memory.contains(f"p{45 - HISTORY_WINDOW}")
    assert not memory.contains(f"p{44 - HISTORY_WINDOW}") and not memory.contains("p0")
    assert len(memory) == HISTORY_WINDOW


def test_exactly_one_claim_wins_and_a_release_frees_it(make_memory) -> None:
    memory = make_memory()
    assert memory.claim("a") and not memory.claim("a")
    assert memory.claim("b")
    memory.release("a")
    assert memory.claim("a") and not memory.claim("a") and not memory.claim("b")


def test_claims_outlive_the_window(make_memory) -> None:
    # A program with a result is never run again in this run, even once its entry has left.
    memory = make_memory()
    assert memory.claim("p0")
    for i in range(HISTORY_WINDOW + 5):
        memory.add(entry(i))
    assert not memory.contains("p0") and not memory.claim("p0")


def test_refill_replaces_window_and_claims(make_memory) -> None:
    memory = make_memory()
    memory.add(entry(100))
    memory.claim("stale")
    memory.refill([entry(1), entry(2)], {"p1", "p2", "p7"})
    assert [e.experiment_id for e in memory.window()] == [1, 2]
    assert not memory.contains("p100")
    assert not memory.claim("p7") and memory.claim("stale")


def test_concurrent_claims_from_threads_have_one_winner(make_memory) -> None:
    memory = make_memory()
    wins: list[str] = []
    lock = threading.Lock()

    def claimer() -> None:
        for i in range(100):
            if memory.claim(f"h{i}"):
                with lock:
                    wins.append(f"h{i}")

    threads = [threading.Thread(target=claimer) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(wins) == sorted(f"h{i}" for i in range(100))


# --- Redis -----------------------------------------------------------------------------------

def redis_memory(url: str, run_dir: Path, **options: Any) -> arrl.Memory:
    from arrl.plugins.redis_memory import RedisMemory, RedisOptions

    return RedisMemory(RedisOptions(url=url, **options), context(run_dir).run_dir)


def test_runs_are_namespaced(redis_server, tmp_path: Path) -> None:
    first, second = redis_memory(redis_server.url, tmp_path / "one"), redis_memory(redis_server.url, tmp_path / "two")
    first.refill([], [])
    second.refill([], [])
    first.add(entry(1))
    assert first.claim("x") and second.claim("x")
    assert second.window() == () and first.window() == (entry(1),)


def test_unreachable_redis_is_a_clear_error_at_start(tmp_path: Path) -> None:
    from conftest import free_port

    url = f"redis://127.0.0.1:{free_port()}/0"
    with pytest.raises(ArrlError, match=rf"cannot reach Redis at {url}.*--plugin memory=deque"):
        redis_memory(url, tmp_path / "run", timeout=1)


def test_listing_plugins_does_not_import_redis() -> None:
    code = ("import sys; from arrl.manager import Registry, make_plugin_manager; "
            "assert 'redis' in Registry(make_plugin_manager()).names('memory'); "
            "assert 'redis' not in sys.modules, 'redis imported'")
    subprocess.run([sys.executable, "-c", code], check=True)


# Each process claims and records 200 experiments; a quarter of the programs are shared by
# all four, so each shared program is claimed four times and must be won once.
WORKER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from arrl.journal import RunDirectory
    from arrl.plugins.redis_memory import RedisMemory, RedisOptions
    from arrl.records import Direction, ExperimentRecord, Outcome

    url, run_dir, worker, go, workers = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3]), Path(sys.argv[4]), int(sys.argv[5])
    memory = RedisMemory(RedisOptions(url=url), run_dir)
    journal = RunDirectory(run_dir)
    (go.parent / f"ready-{worker}").touch()  # connected: a restart from now on is one mid-run
    while not go.exists():
        time.sleep(0.01)
    for j in range(200):
        experiment_id = j * workers + worker
        program = f"shared-{j // 4}" if j % 4 == 0 else f"own-{worker}-{j}"
        won = memory.claim(program)
        record = ExperimentRecord(id=experiment_id, parent_id=None, outcome=Outcome.OK if won else Outcome.DUPLICATE,
                                  config={}, config_hash="", program_hash=program, metric_name="val_loss",
                                  direction=Direction.MINIMIZE, value=float(experiment_id))
        journal.append(record)  # the journal first: it is the source of truth
        if won:
            memory.add(record.history_entry())
    print(memory.reconnects, memory.refills)
    memory.close()
""")


def run_workers(url: str, run_dir: Path, count: int = 4) -> list[subprocess.Popen[bytes]]:
    go = run_dir / "go"
    processes = [subprocess.Popen([sys.executable, "-c", WORKER, url, str(run_dir), str(k), str(go), str(count)],
                                  stdout=subprocess.PIPE) for k in range(count)]
    # All start together, once every one has connected (importing arrl takes seconds on a busy
    # machine: without the wait one worker could still be connecting when the test restarts Redis).
    deadline = time.monotonic() + 120
    while not all((run_dir / f"ready-{k}").exists() for k in range(count)):
        assert time.monotonic() < deadline and all(p.poll() is None for p in processes), "a worker did not start"
        time.sleep(0.05)
    go.touch()
    return processes


def check_shared_run(memory: arrl.Memory, run_dir: Path, workers: int = 4) -> None:
    records = [json.loads(line) for line in (run_dir / "journal.jsonl").read_text().splitlines()]
    ids = [r["id"] for r in records]
    assert sorted(ids) == list(range(200 * workers)), "every record once, none lost"
    won: dict[str, int] = {}
    for r in records:
        if r["outcome"] == "ok":
            won[r["program_hash"]] = won.get(r["program_hash"], 0) + 1
    programs = {r["program_hash"] for r in records}
    assert won == {p: 1 for p in programs}, "exactly one claim wins per program"
    assert sum(1 for r in records if r["program_hash"].startswith("shared-")) == 50 * workers
    newest = sorted(r["id"] for r in records if r["outcome"] == "ok")[-HISTORY_WINDOW:]
    assert [e.experiment_id for e in memory.window()] == newest


def test_four_processes_share_one_redis_memory(redis_server, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    memory = redis_memory(redis_server.url, run_dir)
    memory.refill([], [])
    processes = run_workers(redis_server.url, run_dir)
    assert [p.wait(timeout=240) for p in processes] == [0, 0, 0, 0]
    check_shared_run(memory, run_dir)


@pytest.mark.parametrize("server", ["redis_server", "volatile_redis_server"])
def test_redis_restarted_mid_run_loses_and_duplicates_nothing(server: str, request, tmp_path: Path) -> None:
    redis = request.getfixturevalue(server)
    run_dir = tmp_path / "run"
    memory = redis_memory(redis.url, run_dir)
    memory.refill([], [])
    processes = run_workers(redis.url, run_dir, count=2)
    journal = run_dir / "journal.jsonl"
    while len(journal.read_bytes().splitlines()) < 100:  # well into the run
        assert all(p.poll() is None for p in processes), "the run ended before the restart"
    redis.restart()
    outputs = [p.communicate(timeout=240)[0].split() for p in processes]
    assert [p.returncode for p in processes] == [0, 0]
    check_shared_run(memory, run_dir, workers=2)
    assert any(int(reconnects) > 0 for reconnects, _ in outputs), "the restart was never noticed"
    if server == "volatile_redis_server":  # Redis came back empty: refilled from the journal
        assert any(int(refills) > 0 for _, refills in outputs)


def test_window_is_refilled_from_the_journal_after_redis_lost_it(volatile_redis_server, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    memory = redis_memory(volatile_redis_server.url, run_dir)
    memory.refill([], [])
    journal = RunDirectory(run_dir)
    for i in range(40):
        record = ExperimentRecord(id=i, parent_id=None, outcome=Outcome.OK, config={}, config_hash=f"c{i}",
                                  program_hash=f"p{i}", metric_name="val_loss", direction=Direction.MINIMIZE,
                                  value=float(i))
        journal.append(record)
        memory.claim(record.program_hash)
        memory.add(record.history_entry())
    assert memory.claim("running")  # an experiment still running when Redis restarts
    volatile_redis_server.restart()
    assert [e.experiment_id for e in memory.window()] == list(range(40 - HISTORY_WINDOW, 40))
    assert not memory.claim("p3") and not memory.claim("running") and memory.claim("new")
    assert memory.refills == 1  # type: ignore[attr-defined]


def test_a_claim_retried_after_a_lost_reply_still_wins(redis_server, tmp_path: Path) -> None:
    # The server ran the claim, then the connection dropped before the reply: the retry carries
    # the same token and must win, not lose to itself (it did, before claims had tokens).
    memory = redis_memory(redis_server.url, tmp_path / "run")
    memory.refill([], [])
    run_claim = memory._claim  # type: ignore[attr-defined]
    keys = memory.keys  # type: ignore[attr-defined]
    assert run_claim(keys=keys, args=["p", "token-1"]) == 1
    assert run_claim(keys=keys, args=["p", "token-1"]) == 1  # the retry
    assert run_claim(keys=keys, args=["p", "token-2"]) == 0  # anyone else
    assert not memory.claim("p")
