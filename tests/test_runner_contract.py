"""The runner contract (arrl.roles.Runner), one test body for every registered runner, as Optuna
tests every sampler: real processes, real containers, a real local Ray cluster; tiny scripts
without torch.

What each runner must do with the scripts below: pass each metric line to the monitor while the
script runs, keep stdout and stderr, report a crash with its exit code, end a run at the budget
leaving no process behind, end it when the monitor says so (an early stop; the loop's answer to a
non-finite loss) or when the user aborts, and describe itself. The slower, runner-specific claims
(memory limits, file-system walls, the network) stay in test_containers.py, test_sandbox.py,
test_harness_limits.py and test_ray.py.

A new runner is tested by adding its name to RUNNERS with what it needs to start (an engine, a
cluster); test_contract_coverage.py fails while a registered runner is missing here.
"""

from __future__ import annotations

import json
import math
import subprocess
import textwrap
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from test_containers import _engine_ready

import arrl
from arrl.errors import EngineError
from arrl.manager import Registry, build_options, make_plugin_manager
from arrl.trace import TRACE_FILE, load
from support import local_ray_cluster, skip_or_fail

REGISTRY = Registry(make_plugin_manager())


def _container_engine(name: str) -> Callable[[pytest.FixtureRequest], dict[str, Any]]:
    def prepare(request: pytest.FixtureRequest) -> dict[str, Any]:
        why = _engine_ready(name)
        if why:
            skip_or_fail(why)
        return {}

    return prepare


def _ray(request: pytest.FixtureRequest) -> dict[str, Any]:
    return {"address": request.getfixturevalue("ray_cluster")}


# Registered name -> the options it runs with here, after starting what it needs.
RUNNERS: dict[str, Callable[[pytest.FixtureRequest], dict[str, Any]]] = {
    "subprocess": lambda request: {},  # the sandbox wherever this machine has one, as users get it
    "podman": _container_engine("podman"),
    "docker": _container_engine("docker"),
    "ray": _ray,  # through its default inner runner, the subprocess runner
}

# Modes of a runner that take another way through it, tested as well: id -> (name, options).
MODES: dict[str, tuple[str, dict[str, Any]]] = {
    "subprocess-unsandboxed": ("subprocess", {"sandbox": "off"}),  # a plain process, the user's choice
}

BUDGET = 2.0  # of the script that outlives it; the others end by themselves long before theirs
ROOMY = 60.0


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[str]:
    """A local Ray cluster for the module, joined by address as an existing cluster is."""
    with local_ray_cluster() as address:
        yield address


@pytest.fixture(scope="module", params=[pytest.param((name, {}), id=name) for name in sorted(RUNNERS)]
                + [pytest.param((name, options), id=case) for case, (name, options) in sorted(MODES.items())])
def runner(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[arrl.Runner]:
    """The parametrized runner, built through the registry as the loop builds it (one per
    module: pytest orders the tests so that each engine, image and cluster is set up once)."""
    name, mode = request.param
    if name not in REGISTRY.names("runner"):
        skip_or_fail(f"the {name} runner is not installed")
    options = {**RUNNERS[name](request), **mode}
    registration = REGISTRY.get("runner", name)
    run_dir = tmp_path_factory.mktemp(f"runner-{name}")
    context = arrl.PluginContext(run_dir, run_dir, "train.py", "val_loss", arrl.Direction.MINIMIZE, ROOMY, seed=0)
    built = registration.factory(build_options(registration, options), context)
    try:
        built.fingerprint()
    except EngineError:  # an engine without arrl's image yet: built once, from this machine's files
        built.build_image()
    yield built
    built.close()


class Monitor(arrl.RunMonitor):
    """Records what the runner hands over; may touch a file as points arrive (so a script can
    tell that its line was read while it ran), stop on a non-finite value, or abort."""

    def __init__(self, signal: Path | None = None, abort_after_first: bool = False) -> None:
        self.points: list[arrl.MetricPoint] = []
        self.signal = signal
        self.abort_after_first = abort_after_first

    def on_metric(self, point: arrl.MetricPoint) -> bool:
        self.points.append(point)
        if self.signal is not None:
            self.signal.touch()
        # As the loop's monitor: a non-finite value of the run's metric ends the run.
        return point.name != "val_loss" or math.isfinite(point.value)

    def should_abort(self) -> bool:
        return self.abort_after_first and bool(self.points)


def run(runner: arrl.Runner, tmp_path: Path, script: str, monitor: Monitor | None = None,
        budget: float = ROOMY, **more: Any) -> tuple[arrl.RunResult, arrl.RunRequest, Monitor]:
    """``script`` run as the loop runs an experiment: its own workspace, output and log folders,
    the script contract's variables, a run id of its own (other files' runs share the engines)."""
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    (workspace / "train.py").write_text(textwrap.dedent(script).lstrip())
    experiment = tmp_path / "experiments" / "1"
    output = experiment / "output"
    run_id = f"contract-{uuid.uuid4().hex[:8]}"
    request = arrl.RunRequest(
        run_id=run_id, experiment_id=1, script=workspace / "train.py", workspace=workspace, workdir=workspace,
        output_dir=output, log_dir=experiment, budget_seconds=budget, seed=0,
        env={"ARRL_RUN_ID": run_id, "ARRL_EXPERIMENT_ID": "1", "ARRL_BUDGET_SECONDS": f"{budget:g}",
             "ARRL_OUTPUT_DIR": str(output), "ARRL_SEED": "0", "ARRL_METRIC": "val_loss"}, **more)
    monitor = monitor or Monitor()
    return runner.run(request, monitor), request, monitor


def logs(result: arrl.RunResult) -> str:
    """Both logs (an engine may interleave stderr into stdout)."""
    return "".join(Path(path).read_text() for path in (result.stdout_path, result.stderr_path)
                   if path and Path(path).is_file())


def points(found: list[arrl.MetricPoint] | tuple[arrl.MetricPoint, ...]) -> list[tuple[str, float, int | None]]:
    return [(p.name, p.value, p.step) for p in found]


# Prints a point, then waits until the monitor has it (the file it touches) before the next one:
# a runner that read the output only at the end would leave it waiting.
STREAMING = """
import os, sys, time
out = os.environ["ARRL_OUTPUT_DIR"]
print("arrl: step=0 val_loss=2.5 train_loss=3.0", flush=True)
deadline = time.monotonic() + 20
while not os.path.exists(os.path.join(out, "seen")) and time.monotonic() < deadline:
    time.sleep(0.02)
print("some other output")
print("said on stderr", file=sys.stderr, flush=True)
with open(os.path.join(out, "result.txt"), "w") as handle:
    handle.write("kept")
print(f"arrl: step=1 val_loss=1.25 streamed={int(os.path.exists(os.path.join(out, 'seen')))}", flush=True)
"""


def test_metric_lines_reach_the_monitor_while_the_script_runs(runner: arrl.Runner, tmp_path: Path) -> None:
    output = tmp_path / "experiments" / "1" / "output"
    result, request, monitor = run(runner, tmp_path, STREAMING, Monitor(signal=output / "seen"))
    assert result.outcome is arrl.Outcome.OK and result.exit_code == 0, result
    expected = [("val_loss", 2.5, 0), ("train_loss", 3.0, 0), ("val_loss", 1.25, 1), ("streamed", 1.0, 1)]
    assert points(monitor.points) == expected, "every point, in order, each while the script ran"
    assert points(result.metrics) == expected
    assert "some other output" in Path(result.stdout_path).read_text()
    assert "said on stderr" in logs(result)
    assert (request.output_dir / "result.txt").read_text() == "kept"
    assert result.wall_clock_seconds > 0


ARGUMENTS = """
import json, os, sys
print("argv", json.dumps(sys.argv[1:]), "main", __name__, os.path.basename(__file__))
print("arrl: val_loss=1.5", flush=True)
"""


def test_arguments_and_the_tracer_reach_the_script(runner: arrl.Runner, tmp_path: Path) -> None:
    """The ``args`` setting's arguments, and the baseline's tracer (arrl.trace), which runs the
    script as its ``__main__`` and writes its trace into the output directory, in every runner."""
    arguments = ("--lr", "0.1", "two words")
    result, request, _ = run(runner, tmp_path, ARGUMENTS, args=arguments, trace="trace")
    assert result.outcome is arrl.Outcome.OK, (result, logs(result))
    assert f'argv {json.dumps(list(arguments))} main __main__ train.py' in logs(result)
    trace = load(request.output_dir / TRACE_FILE)
    assert trace["complete"] and trace["script"].endswith("train.py") and trace["records"] == []


CRASH = """
import sys
print("arrl: step=0 val_loss=2.0", flush=True)
print("the last words", file=sys.stderr, flush=True)
sys.exit(3)
"""


def test_a_crash_is_failed_with_its_exit_code(runner: arrl.Runner, tmp_path: Path) -> None:
    result, _, monitor = run(runner, tmp_path, CRASH)
    assert result.outcome is arrl.Outcome.FAILED and result.exit_code == 3, result
    assert result.failure_reason.startswith("exit code 3"), result.failure_reason
    assert points(result.metrics) == points(monitor.points) == [("val_loss", 2.0, 0)]
    assert "the last words" in logs(result)


# Starts a child in a session of its own (it would outlive a runner that killed only the script
# or its process group), then overstays.
OVERSTAYING = """
import subprocess, sys, time
subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)", "{marker}"], start_new_session=True)
print("arrl: step=0 val_loss=2.0", flush=True)
time.sleep(120)
"""


def test_the_budget_ends_the_run_and_every_process_of_it(runner: arrl.Runner, tmp_path: Path) -> None:
    marker = f"arrl-contract-child-{uuid.uuid4().hex}"
    result, _, _ = run(runner, tmp_path, OVERSTAYING.format(marker=marker), budget=BUDGET)
    assert result.outcome is arrl.Outcome.TIMED_OUT, result
    assert result.failure_reason == f"exceeded the {BUDGET:g} s budget"
    survivors = subprocess.run(["pgrep", "-f", marker], capture_output=True, text=True).stdout.split()
    assert survivors == [], "a process of the run outlived run()"


LINGERING = """
import time
print("arrl: step=0 train_loss=-inf val_loss=nan", flush=True)
time.sleep(120)
"""


def test_a_non_finite_value_reaches_the_monitor_whose_no_ends_the_run(runner: arrl.Runner,
                                                                      tmp_path: Path) -> None:
    result, _, monitor = run(runner, tmp_path, LINGERING)
    assert result.outcome is arrl.Outcome.EARLY_STOPPED, result
    assert [p.name for p in monitor.points[:2]] == ["train_loss", "val_loss"]
    assert monitor.points[0].value == -math.inf and math.isnan(monitor.points[1].value)
    assert math.isnan(result.metrics[1].value), "the result keeps the value as printed"


def test_an_abort_ends_the_run_as_interrupted(runner: arrl.Runner, tmp_path: Path) -> None:
    result, _, monitor = run(runner, tmp_path, LINGERING.replace("train_loss=-inf val_loss=nan", "val_loss=1.0"),
                             Monitor(abort_after_first=True))
    assert result.outcome is arrl.Outcome.INTERRUPTED, result
    assert points(monitor.points) == [("val_loss", 1.0, 0)]


def test_a_runner_describes_its_wall_and_environment(runner: arrl.Runner) -> None:
    isolation = runner.isolation()
    assert isinstance(isolation, arrl.Isolation)
    assert isolation.kind in ("sandbox", "container", "none") and isolation.reason
    fingerprint = runner.fingerprint()
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in fingerprint.items())
    assert runner.fingerprint() == fingerprint, "the same environment pins the same fingerprint"
    assert runner.cleanup_stale(f"contract-nothing-{uuid.uuid4().hex[:8]}") == 0
