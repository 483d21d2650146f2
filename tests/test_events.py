"""One event model: the live display, the plain log and the --json stream are subscribers of the
same hooks, and render from the same recorded events."""

from __future__ import annotations

import io
import json
import statistics
from pathlib import Path

import pytest

from arrl.hookspecs import hookimpl
from arrl.manager import make_plugin_manager
from arrl.run.display import LiveDisplay
from arrl.run.events import EVENT_KINDS, Event, JsonLines, LineWriter, Recorder, read_events, replay, subscribed
from support import TOY_CONFIG, make_repo, records, run_arrl, run_dir

TOY_SCRIPT = """
import math, time
LEARNING_RATE = 0.01  # tuned by arrl
BATCH_SIZE = 32
DROPOUT = 0.1

if BATCH_SIZE != 32:
    raise RuntimeError(f"batch size {BATCH_SIZE} does not fit this toy")
for step in range(6):
    loss = (math.log10(LEARNING_RATE) + 2.5) ** 2 + DROPOUT + 1.0 / (step + 1)
    print(f"arrl: step={step} val_loss={loss:.6f} train_loss={loss * 1.1:.6f}", flush=True)
    time.sleep(0.03)
"""



@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    """A real `arrl run --json`: its repository and the event lines it streamed."""
    root = tmp_path_factory.mktemp("events")
    home = root / "home"
    home.mkdir()
    repo = make_repo(root / "project", {"train.py": TOY_SCRIPT}, TOY_CONFIG)
    result = run_arrl("run", "--json", "--max-experiments", "8", cwd=repo,
                      env={"HOME": str(home), "GIT_CONFIG_NOSYSTEM": "1"})
    assert result.returncode == 0, result.output
    return repo, result.stdout.splitlines()


def _manager():
    return make_plugin_manager(entry_points=False)


def test_json_stream_holds_every_event_of_the_run(recorded) -> None:
    repo, lines = recorded
    events = read_events(lines)
    kinds = [e.kind for e in events]
    assert kinds[0] == "run_started" and kinds[-1] == "run_finished"
    assert set(kinds) <= set(EVENT_KINDS)
    recs = records(repo)
    finished = [e.record for e in events if e.kind == "experiment_finished"]
    assert [r.id for r in finished] == [r["id"] for r in recs]
    assert [r.outcome.value for r in finished] == [r["outcome"] for r in recs]
    # Every metric point a run printed arrives as an event naming its experiment, in order.
    for rec in recs:
        points = [e.point for e in events if e.kind == "metric" and e.experiment_id == rec["id"]]
        assert [p.value for p in points if p.name == "val_loss"] == [p["value"] for p in rec["curve"]]
        if rec["curve"]:
            assert {p.name for p in points} == {"val_loss", "train_loss"}
    # Per experiment: proposed, then started (if it ran), then finished.
    for rec in recs:
        own = [e.kind for e in events if e.experiment_id == rec["id"] and e.kind != "metric"]
        ran = bool(rec["commit"])
        assert own == ["experiment_proposed"] + (["experiment_started"] if ran else ["proposal_rejected"]) + [
            "experiment_finished"]
    assert [e.at for e in events] == sorted(e.at for e in events)
    assert all(e.run_id == run_dir(repo).name for e in events)


def test_replay_gives_back_the_json_stream_and_the_plain_log(recorded, tmp_path: Path) -> None:
    repo, lines = recorded
    events = read_events(lines)
    manager = _manager()
    stream = io.StringIO()
    log = tmp_path / "run.log"
    with subscribed(manager, JsonLines(stream), LineWriter(path=log)):
        replay(manager, events)
    # The same events through the hooks again: the same stream, and the same run.log the
    # loop's own subscriber wrote during the real run.
    assert [json.loads(x) for x in stream.getvalue().splitlines()] == [json.loads(x) for x in lines]
    assert log.read_text() == (run_dir(repo) / "run.log").read_text()
    text = log.read_text()
    for rec in records(repo):
        assert f"#{rec['id']} {rec['outcome']}" in text


def test_live_display_renders_running_experiment_best_and_recent_results(recorded) -> None:
    from rich.console import Console

    repo, lines = recorded
    events = read_events(lines)
    recs = records(repo)
    ran = [r for r in recs if r["curve"] and r["id"] > 0]
    target = ran[-1]
    # Stop the replay at the target's third metric point: it is running, mid-budget.
    points = [i for i, e in enumerate(events) if e.kind == "metric" and e.experiment_id == target["id"]
              and e.data["point"]["name"] == "val_loss"]
    cut = points[2] + 1
    console = Console(file=io.StringIO(), force_terminal=True, width=200, record=True, color_system=None)
    display = LiveDisplay(console=console, live=False)
    manager = _manager()
    with subscribed(manager, display):
        replay(manager, events[:cut])
        console.print(display.render())
    mid = console.export_text()
    assert f"#{target['id']}" in mid and target["edit"]["description"][:40] in mid
    assert f"{target['curve'][2]['value']:.6g}" in mid  # its loss so far
    assert "/20s" in mid
    before = [r for r in recs if r["id"] < target["id"]]
    best = min((r for r in before if r["outcome"] == "ok"), key=lambda r: float(r["value"]))
    assert f"best val_loss={float(best['value']):.6g} from #{best['id']}" in mid
    assert "/hour" in mid and "early stopping saved" in mid
    # The last few results, each with its one-line diff.
    for rec in before[-5:]:
        row = next(line for line in mid.splitlines() if line.startswith(f"#{rec['id']} "))
        assert rec["outcome"] in row
        if rec["id"] > 0:  # e.g. "LEARNING_RATE = 0.01 → 0.005"
            old, new = (next(line[1:].split("#")[0].split("=") for line in rec["diff_parent"].splitlines()
                             if line.startswith(sign) and not line.startswith(sign * 3)) for sign in "-+")
            assert f"{old[0].strip()} = {old[1].strip()} → {new[1].strip()}" in row

    # Its budget as a bar: drawn 10 s into the 20 s budget, half of it is filled.
    started = next(e for e in events if e.kind == "experiment_started" and e.experiment_id == target["id"])
    console = Console(file=io.StringIO(), force_terminal=True, width=200, record=True, color_system=None)
    display = LiveDisplay(console=console, live=False, clock=lambda: started.at + 10)
    with subscribed(manager, display):
        replay(manager, events[:cut])
        console.print(display.render())
    row = next(line for line in console.export_text().splitlines() if line.startswith(f"#{target['id']} "))
    assert "10s/20s" in row and 10 <= row.count("━") <= 14

    # After the whole stream: nothing running, the final status shown.
    console = Console(file=io.StringIO(), force_terminal=True, width=200, record=True, color_system=None)
    display = LiveDisplay(console=console, live=False)
    with subscribed(manager, display):
        replay(manager, events)
        console.print(display.render())
    end = console.export_text()
    assert "running" not in end.split("last results")[0].split("\n", 2)[-1]
    # It ended; the closing message is arrl's own last line, printed once, not here as well.
    assert "run finished" in end and "reached --max-experiments 8" not in end
    # The baseline as its mean and noise floor over its runs, and the margin a gain must beat.
    runs = [float(r["value"]) for r in recs if r["proposer"] == "baseline" and r["outcome"] == "ok"]
    assert f"baseline {statistics.fmean(runs):.4g}" in end
    if len(runs) > 1:
        floor = statistics.stdev(runs)
        assert f" ± {floor:.2g} ({len(runs)} runs); a gain must beat {2 * floor:.2g}" in end


def test_every_concurrent_experiment_shows(recorded) -> None:
    """Events carry experiment ids: two experiments running at once both show, each with its
    own loss (the stream of two workers, interleaved as they would arrive)."""
    from rich.console import Console

    _, lines = recorded
    events = read_events(lines)
    ran = sorted({e.experiment_id for e in events if e.kind == "experiment_started"})[1:3]
    first, second = ([e for e in events if e.experiment_id == i and e.kind in ("experiment_started", "metric")]
                     for i in ran)
    interleaved = [events[0], first[0], second[0], first[1], second[1], first[2]]
    console = Console(file=io.StringIO(), force_terminal=True, width=200, record=True, color_system=None)
    display = LiveDisplay(console=console, live=False)
    manager = _manager()
    with subscribed(manager, display):
        replay(manager, interleaved)
        console.print(display.render())
    text = console.export_text()
    for stream in (first, second):
        started, *metrics = stream
        row = next(line for line in text.splitlines() if line.strip().startswith(f"#{started.experiment_id} "))
        assert started.record.edit is not None and started.record.edit.description[:30] in row
        last = [m.point for m in metrics[:2] if m.point.name == "val_loss"][-1]
        assert f"{last.value:.6g}" in row


def _run_loop(tmp_path: Path, arrl_env: dict[str, str], *plugins: object) -> list[Event]:
    """Three experiments through a loop assembled as `arrl run` does, with ``plugins``
    registered beside the built-in ones; the events a Recorder and the JSON stream saw."""
    import os

    from arrl.config import settings_from
    from arrl.journal import RunDirectory
    from arrl.roles import PluginContext
    from arrl.run import assembly

    repo = make_repo(tmp_path / "project", {"train.py": TOY_SCRIPT}, None)
    settings = settings_from({"script": "train.py", "budget": 20, "seed": 3, "max_experiments": 3,
                              "plugins": {"proposer": "random"}})
    run = RunDirectory.create(repo / ".arrl", {}, repo)
    context = PluginContext(run_dir=run.path, repo_root=repo, script_path="train.py", metric="val_loss",
                            direction=settings.direction, budget_seconds=20, seed=3)
    manager = _manager()
    for plugin in plugins:
        manager.register(plugin)
    recorder = Recorder()
    stream = io.StringIO()
    old = {k: os.environ.get(k) for k in arrl_env}
    os.environ.update(arrl_env)
    try:
        loop = assembly.assemble_loop(manager, settings, run, context)
        with subscribed(manager, recorder, JsonLines(stream)):
            loop.run()
        loop.close()
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    assert [e.to_json() for e in recorder.events] == stream.getvalue().splitlines()
    assert [Event.from_json(e.to_json()) for e in recorder.events] == recorder.events
    return recorder.events


def test_a_plugin_sees_the_same_events_as_the_display(tmp_path: Path, arrl_env) -> None:
    """A subscriber is an ordinary plugin: one registered beside the built-in ones receives the
    events the stream shows, in the same order."""

    class Finished:
        def __init__(self) -> None:
            self.seen: list[int] = []

        @hookimpl
        def arrl_experiment_finished(self, record):
            self.seen.append(record.id)

    plugin = Finished()
    events = _run_loop(tmp_path, arrl_env, plugin)
    assert plugin.seen == [0, 1, 2]
    assert [e.record.id for e in events if e.kind == "experiment_finished"] == plugin.seen


def test_a_failing_metric_subscriber_does_not_stall_the_run(tmp_path: Path, arrl_env) -> None:
    """arrl_metric runs in the runner's thread: a subscriber that raises there must not stop the
    output from being read. The experiment finishes normally and a warning says what happened."""

    class Broken:
        @hookimpl
        def arrl_metric(self, point):
            raise RuntimeError("dashboard unreachable")

    events = _run_loop(tmp_path, arrl_env, Broken())
    finished = [e.record for e in events if e.kind == "experiment_finished"]
    assert [r.outcome.value for r in finished][0] == "ok" and len(finished[0].curve) == 6
    warnings = [e.data["message"] for e in events if e.kind == "alert" and e.data["level"] == "warning"]
    assert any("dashboard unreachable" in w and "experiment 0" in w for w in warnings)
    # After the first failure, an experiment's metric events stop (the subscribers registered
    # later are called first, so they saw that first point).
    ran = [r.id for r in finished if r.curve]
    assert sorted(e.experiment_id for e in events if e.kind == "metric") == ran


def test_time_saved_by_early_stopping_and_experiments_per_hour() -> None:
    """Saved time: each early-stopped run against the median complete run (capped at the
    budget); the rate counts this session's experiments over its wall-clock time."""
    from arrl.records import Direction, ExperimentRecord, Outcome, converter
    from arrl.run.display import Progress

    def record(i: int, outcome: Outcome, seconds: float, value: float) -> dict:
        return converter.unstructure(ExperimentRecord(
            id=i, parent_id=None, outcome=outcome, config={}, config_hash="", program_hash="",
            metric_name="val_loss", direction=Direction.MINIMIZE, value=value, wall_clock_seconds=seconds))

    progress = Progress()
    progress.fold(Event("run_started", "r", 1000.0, {"metric": "val_loss", "direction": "minimize",
                                                     "budget_seconds": 100.0, "previous": []}))
    for i, (outcome, seconds, value) in enumerate([(Outcome.OK, 60, 2.0), (Outcome.OK, 80, 1.5),
                                                   (Outcome.EARLY_STOPPED, 20, 3.0),
                                                   (Outcome.FAILED, 5, float("inf"))]):
        progress.fold(Event("experiment_finished", "r", 1000.0 + 90 * (i + 1), {"record": record(i, outcome, seconds, value)}))
    assert progress.seconds_saved() == 50.0  # median complete run 70 s, the stopped one ran 20 s
    assert progress.best is not None and progress.best.id == 1
    assert progress.experiments_per_hour(1000.0 + 360) == 40.0  # 4 experiments in 6 minutes
