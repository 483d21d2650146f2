"""Trackers: MLflow and TensorBoard attached through [tracking.NAME], read back with their own
readers; tracker choice, options, a missing library and a failing tracker."""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path

import pytest

import arrl
from arrl.config import Settings
from arrl.errors import ConfigError
from arrl.journal import RunDirectory
from arrl.manager import Registry, make_plugin_manager
from arrl.run.assembly import assemble_loop
from arrl.run.components import check_choices
from arrl.tracking import attach_trackers, reports_errors
from support import make_repo, records, run_arrl, run_dir, skip_or_fail

# Crashes whenever the batch size leaves 32, so the random proposer produces failures as well as
# successes; reports the loss at six steps.
SCRIPT = """
import math
LEARNING_RATE = 0.01
BATCH_SIZE = 32
DROPOUT = 0.1

if BATCH_SIZE != 32:
    raise RuntimeError(f"batch size {BATCH_SIZE} does not fit this toy")
for step in range(6):
    loss = (math.log10(LEARNING_RATE) + 2.5) ** 2 + DROPOUT + 1.0 / (step + 1)
    print(f"arrl: step={step * 10} val_loss={loss:.6f}")
"""


def _config(tracking: str) -> str:
    return (
        'script = "train.py"\nbudget = 20\nfailure_limit = 50\nseed = 3\n'
        '[plugins]\nproposer = "random"\n[early_stopping]\nenabled = false\n' + tracking
    )


def _require(module: str) -> None:
    try:
        __import__(module)
    except ImportError:
        skip_or_fail(f"{module} is not installed (pip install -e '.[mlflow,tensorboard]')")


@pytest.fixture(scope="module")
def tracked_run(tmp_path_factory) -> tuple[Path, Path]:
    """One real `arrl run` with both trackers on; the tests below read what they wrote."""
    _require("mlflow")
    _require("tensorboard")
    tmp = tmp_path_factory.mktemp("tracked")
    home = tmp / "home"
    home.mkdir()
    store = tmp / "store"
    store.mkdir()
    tracking = (
        f'[tracking.mlflow]\ntracking_uri = "sqlite:///{store}/mlflow.db"\nexperiment = "toy"\n'
        f'artifact_location = "{store}/artifacts"\n'
        '[tracking.tensorboard]\nlog_dir = "tb"\n'
    )
    repo = make_repo(tmp / "project", {"train.py": SCRIPT, ".gitignore": "tb/\n"}, _config(tracking))
    result = run_arrl("run", "--max-experiments", "8", cwd=repo,
                      env={"HOME": str(home), "GIT_CONFIG_NOSYSTEM": "1"})
    assert result.returncode == 0, result.output
    assert "warning: tracker" not in result.stderr, result.stderr
    return repo, store


def test_mlflow_holds_every_experiment_as_the_journal_does(tracked_run) -> None:
    from mlflow.tracking import MlflowClient

    repo, store = tracked_run
    recs = records(repo)
    run_id = run_dir(repo).name
    client = MlflowClient(tracking_uri=f"sqlite:///{store}/mlflow.db")
    experiment = client.get_experiment_by_name("toy")
    assert experiment is not None
    runs = client.search_runs([experiment.experiment_id], max_results=100)
    parents = [r for r in runs if r.data.tags.get("arrl.kind") == "run"]
    children = {int(r.data.tags["arrl.experiment_id"]): r for r in runs
                if r.data.tags.get("arrl.kind") == "experiment"}
    assert len(parents) == 1 and parents[0].data.tags["arrl.run_id"] == run_id
    parent = parents[0]
    assert parent.info.status == "FINISHED"
    assert parent.data.params["metric"] == "val_loss" and parent.data.params["budget"] == "20.0"
    assert parent.data.params["plugins.proposer"] == "random"
    assert sorted(children) == [r["id"] for r in recs]

    outcomes = {r["outcome"] for r in recs}
    assert {"ok", "failed"} <= outcomes, outcomes  # seed 3 gives both; each is checked below
    for record in recs:
        child = children[record["id"]]
        tags, params = child.data.tags, child.data.params
        assert tags["mlflow.parentRunId"] == parent.info.run_id
        assert tags["arrl.outcome"] == record["outcome"]
        assert tags["arrl.kept"] == str(record["kept"]).lower()
        assert params == {k: str(v) for k, v in record["config"].items()}
        assert child.info.status == {"failed": "FAILED", "timed_out": "FAILED"}.get(record["outcome"], "FINISHED")
        history = client.get_metric_history(child.info.run_id, "val_loss")
        assert [(m.step, m.value) for m in sorted(history, key=lambda m: m.step)] == [
            (p["step"], p["value"]) for p in record["curve"]]
        if record["outcome"] == "ok":
            assert len(history) == 6
            assert child.data.metrics["final_val_loss"] == pytest.approx(record["value"])
        else:
            assert "final_val_loss" not in child.data.metrics
            assert record["failure_reason"].startswith(tags["arrl.failure_reason"][:40])
        assert child.data.metrics["reward"] == pytest.approx(record["reward"])
        artifacts = {a.path for a in client.list_artifacts(child.info.run_id)}
        if record["proposer"] == "baseline":
            assert artifacts == set()  # the unmodified script changes nothing
            continue
        assert tags["arrl.edit"] == record["edit"]["description"]
        assert artifacts == {"diff_parent.patch", "diff_baseline.patch"}
        local = Path(client.download_artifacts(child.info.run_id, "diff_parent.patch", str(store / "dl")))
        assert local.read_text() == record["diff_parent"]


def test_tensorboard_scalars_read_back(tracked_run) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    repo, _ = tracked_run
    recs = records(repo)
    run_id = run_dir(repo).name
    base = repo / "tb" / run_id
    for record in recs:
        folder = base / f"experiment-{record['id']:04d}"
        if not record["curve"]:
            assert not folder.exists()
            continue
        events = EventAccumulator(str(folder))
        events.Reload()
        points = [(e.step, e.value) for e in events.Scalars("val_loss")]
        assert points == [(p["step"], pytest.approx(p["value"])) for p in record["curve"]]

    summary = EventAccumulator(str(base))
    summary.Reload()
    ok = [r for r in recs if r["outcome"] == "ok"]
    assert [(e.step, e.value) for e in summary.Scalars("arrl/val_loss")] == [
        (r["id"], pytest.approx(r["value"])) for r in ok]
    best, expected = None, []
    for r in recs:
        if r["outcome"] == "ok" and (best is None or r["value"] < best):
            best = r["value"]
        if best is not None:
            expected.append((r["id"], pytest.approx(best)))
    assert [(e.step, e.value) for e in summary.Scalars("arrl/best_val_loss")] == expected
    assert [e.step for e in summary.Scalars("arrl/reward")] == [r["id"] for r in recs]


def test_a_new_process_writes_to_the_mlflow_runs_it_already_has(tracked_run, tmp_path: Path) -> None:
    """A continued run (or one whose process died mid-experiment) is a new tracker object on the
    same run directory: it finds its parent run and the started experiment's run by their tags."""
    from mlflow.tracking import MlflowClient

    from arrl.contrib.mlflow_tracking import MlflowOptions, MlflowTracker

    repo, store = tracked_run
    run = RunDirectory(run_dir(repo))
    first_record = run.records()[0]
    uri = f"sqlite:///{store}/mlflow.db"
    options = MlflowOptions(tracking_uri=uri, experiment="continued", artifact_location=str(store / "c"))
    context = arrl.PluginContext(run.path, repo, "train.py", "val_loss", arrl.Direction.MINIMIZE, 20, 3)
    died = MlflowTracker(options, context)
    died.arrl_experiment_started(experiment_id=0, run_id=run.run_id)  # then the process dies
    again = MlflowTracker(options, context)
    again.arrl_experiment_finished(record=first_record, run_id=run.run_id)
    again.close()
    client = MlflowClient(tracking_uri=uri)
    runs = client.search_runs([client.get_experiment_by_name("continued").experiment_id])
    kinds = sorted((r.data.tags["arrl.kind"], r.info.status) for r in runs)
    assert kinds == [("experiment", "FINISHED"), ("run", "FINISHED")]
    assert again.parent == died.parent


# --- choosing trackers ----------------------------------------------------------------------

def test_unknown_tracker_or_option_is_refused_before_anything_runs(tmp_path: Path, arrl_env) -> None:
    repo = make_repo(tmp_path / "p", {"train.py": SCRIPT}, _config("[tracking.mlflw]\n"))
    result = run_arrl("run", "--max-experiments", "1", cwd=repo, env=arrl_env)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == ("arrl: error: unknown tracker 'mlflw' in [tracking]; "
                                     "choose one of: mlflow, tensorboard")
    assert not (repo / ".arrl").exists()
    registry = Registry(make_plugin_manager(entry_points=False))
    with pytest.raises(ConfigError, match="unknown option logdir for tracker 'tensorboard'; its options are: log_dir"):
        check_choices(registry, Settings(tracking={"tensorboard": {"logdir": "x"}}))


def test_missing_library_is_a_clear_error(tmp_path: Path, monkeypatch) -> None:
    # None in sys.modules is Python's own way of making an import fail with ImportError.
    monkeypatch.setitem(sys.modules, "mlflow", None)
    monkeypatch.setitem(sys.modules, "mlflow.tracking", None)
    manager = make_plugin_manager(entry_points=False)
    run = RunDirectory.create(tmp_path / ".arrl", {}, tmp_path)
    context = arrl.PluginContext(run.path, tmp_path, "train.py", "val_loss", arrl.Direction.MINIMIZE, 10, 0)
    with pytest.raises(ConfigError) as error:
        attach_trackers(manager, Settings(tracking={"mlflow": {}}), context)
    assert str(error.value) == (
        "tracker 'mlflow' needs the mlflow package, which is not installed: pip install 'arrl[mlflow]' "
        "(or remove [tracking.mlflow] from the configuration)")
    assert not any(name.startswith("tracker:") for name, _ in manager.list_name_plugin())


class _Flaky:
    """A tracker whose every call fails, as one talking to a server that is down would."""

    def __init__(self, log: list[str]) -> None:
        self.log = log

    @arrl.hookimpl
    @reports_errors("flaky")
    def arrl_experiment_finished(self, record, run_id):
        self.log.append(f"finished {record.id}")
        raise ConnectionError("tracking server unreachable")

    def close(self) -> None:
        self.log.append("closed")


def test_failing_tracker_warns_and_the_run_goes_on(tmp_path: Path, capsys) -> None:
    log: list[str] = []
    manager = make_plugin_manager(entry_points=False)
    module = types.ModuleType("flaky_plugin")
    module.arrl_trackers = arrl.hookimpl(  # type: ignore[attr-defined]
        lambda: [arrl.Registration(name="flaky", factory=lambda o, c: _Flaky(log))], specname="arrl_trackers")
    manager.register(module, name="flaky_plugin")
    repo = make_repo(tmp_path / "project", {"train.py": "LR = 0.1\nprint(f'arrl: val_loss={LR}')\n"})
    settings = Settings(script="train.py", budget=10, max_experiments=2, plugins={"proposer": "random"},
                        tracking={"flaky": {}})
    run = RunDirectory.create(repo / ".arrl", json.loads("{}"), repo)
    context = arrl.PluginContext(run.path, repo, "train.py", "val_loss", arrl.Direction.MINIMIZE, 10, 0)
    loop = assemble_loop(manager, settings, run, context, report=lambda _: None)
    try:
        result = loop.run()
    finally:
        loop.close()
    assert result.exit_code == 0 and len(run.records()) == 2
    assert log == ["finished 0", "finished 1", "closed"]
    err = capsys.readouterr().err
    assert err.count("arrl: warning: tracker 'flaky' failed in arrl_experiment_finished: "
                     "ConnectionError: tracking server unreachable") == 2
    assert manager.get_plugin("tracker:flaky") is None  # detached with the run


def test_pauses_and_alerts_reach_both_trackers(tracked_run, tmp_path: Path) -> None:
    from mlflow.tracking import MlflowClient
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from arrl.contrib.mlflow_tracking import MlflowOptions, MlflowTracker
    from arrl.contrib.tensorboard_tracking import TensorBoardOptions, TensorBoardTracker

    repo, store = tracked_run
    run = RunDirectory(run_dir(repo))
    uri = f"sqlite:///{store}/mlflow.db"
    context = arrl.PluginContext(run.path, repo, "train.py", "val_loss", arrl.Direction.MINIMIZE, 20, 3)
    mlflow = MlflowTracker(MlflowOptions(tracking_uri=uri, experiment="alerts",
                                         artifact_location=str(store / "a")), context)
    board = TensorBoardTracker(TensorBoardOptions(log_dir=str(tmp_path / "tb")), context)
    message = "run paused: 3 consecutive failures (last: failed: boom)"
    for tracker in (mlflow, board):
        tracker.arrl_alert(run_id=run.run_id, level="error", message=message)
    mlflow.arrl_run_paused(run_id=run.run_id, reason="3 consecutive failures (last: failed: boom)")
    mlflow.close()
    board.close()

    parent = MlflowClient(tracking_uri=uri).get_run(mlflow.parent)
    assert parent.data.tags["arrl.paused"] == "3 consecutive failures (last: failed: boom)"
    assert parent.data.tags["arrl.last_alert"] == f"[error] {message}"
    assert parent.info.status == "FINISHED"  # the run's journal says finished
    events = EventAccumulator(str(tmp_path / "tb" / run.run_id))
    events.Reload()
    (text,) = events.Tensors("arrl/alerts/text_summary")
    assert text.tensor_proto.string_val[0].decode() == f"[error] {message}"
    # The best so far was read from the journal when the tracker was built.
    assert board.best == min(r.value for r in run.records() if r.outcome is arrl.Outcome.OK)
