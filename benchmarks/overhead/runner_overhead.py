"""Per-experiment overhead of each runner: start to first metric line, and teardown.

Tables in docs/benchmarks.md: "Per-experiment overhead of each runner".

Runs the same trivial script (print one metric line, exit) through every runner, side by side
in one process, and prints a Markdown table of medians. Usage:

    .venv/bin/python benchmarks/overhead/runner_overhead.py --repeats 10

Needs the run images (`arrl --plugin runner=podman image build`, same for docker); a runner
whose engine is missing is reported as such.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import arrl

SCRIPT = 'print("arrl: val_loss=1.0", flush=True)\n'


class FirstLine(arrl.RunMonitor):
    def __init__(self) -> None:
        self.at: float | None = None

    def on_metric(self, point: arrl.MetricPoint) -> bool:
        self.at = self.at or time.monotonic()
        return True

    def should_abort(self) -> bool:
        return False


def runners() -> dict[str, object]:
    from arrl.plugins.runners.subprocess_runner import SubprocessRunner

    found: dict[str, object] = {"subprocess": SubprocessRunner()}
    for name in ("podman", "docker"):
        try:
            if name == "podman":
                from arrl.plugins.runners.podman_runner import PodmanOptions, PodmanRunner
                runner = PodmanRunner(PodmanOptions(memory="1g"))
            else:
                from arrl.plugins.runners.docker_runner import DockerOptions, DockerRunner
                runner = DockerRunner(DockerOptions(memory="1g"))
            runner.fingerprint()
            found[name] = runner
        except arrl.ArrlError as error:
            found[name] = str(error)
    return found


def measure(runner: arrl.Runner, root: Path, index: int) -> tuple[float, float, float]:
    workspace = root / "workspace"
    workspace.mkdir(parents=True, exist_ok=True)
    (workspace / "bench.py").write_text(SCRIPT)
    experiment = root / str(index)
    request = arrl.RunRequest(run_id="bench", experiment_id=index, script=workspace / "bench.py",
                              workspace=workspace, workdir=workspace, output_dir=experiment / "output",
                              log_dir=experiment, budget_seconds=60, seed=0)
    monitor = FirstLine()
    start = time.monotonic()
    result = runner.run(request, monitor)
    end = time.monotonic()
    assert result.outcome is arrl.Outcome.OK, result.failure_reason
    assert monitor.at is not None
    return monitor.at - start, end - monitor.at, end - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        for name, runner in runners().items():
            if isinstance(runner, str):
                rows.append(f"| {name} | unavailable: {runner} | | | |")
                continue
            measure(runner, Path(scratch) / name, 0)  # warm-up: caches, image layers
            samples = [measure(runner, Path(scratch) / name, i) for i in range(1, args.repeats + 1)]
            first, teardown, total = (statistics.median(s[k] for s in samples) for k in range(3))
            rows.append(f"| {name} | {first * 1000:.0f} | {teardown * 1000:.0f} | {total * 1000:.0f} | {args.repeats} |")
    print("| runner | start to first line (ms) | first line to torn down (ms) | total (ms) | runs |")
    print("| --- | ---: | ---: | ---: | ---: |")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
