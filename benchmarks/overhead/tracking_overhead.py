"""What a tracker adds to each experiment: the time its ``arrl_experiment_finished`` takes.

Tables in docs/benchmarks.md: "What a tracker adds to each experiment".

Each tracker is built on a fresh run directory (MLflow on a local ``sqlite:///`` store,
TensorBoard on a local folder) and fed the same records, each with a curve of ``--points``
metric points and a small diff, as the loop would after every experiment. Prints a Markdown table
of median and worst milliseconds per experiment, plus the one-off cost of attaching (building)
the tracker.

    .venv/bin/python benchmarks/overhead/tracking_overhead.py --records 20 --points 100
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import arrl
from arrl.journal import RunDirectory, now_iso
from arrl.records import MetricPoint, Outcome


def _records(count: int, points: int) -> list[arrl.ExperimentRecord]:
    diff = "--- a/train.py\n+++ b/train.py\n@@ -1 +1 @@\n-LR = 0.01\n+LR = 0.02\n"
    return [
        arrl.ExperimentRecord(
            id=i, parent_id=0 if i else None, outcome=Outcome.OK,
            config={"learning_rate": 0.01 * (i + 1), "batch_size": 32}, config_hash=f"c{i}",
            program_hash=f"p{i}", metric_name="val_loss", direction=arrl.Direction.MINIMIZE,
            value=1.0 / (i + 1), wall_clock_seconds=30.0, commit=f"{i:040x}",
            curve=[MetricPoint("val_loss", 2.0 / (s + 1), s, s * 0.1) for s in range(points)],
            reward=0.1, kept=True, proposer="bench", edit=arrl.Edit({}, f"change {i}"),
            diff_parent=diff, diff_baseline=diff, started_at=now_iso(), finished_at=now_iso(),
        )
        for i in range(count)
    ]


def _measure(build: Callable[[arrl.PluginContext], Any], records: list[arrl.ExperimentRecord]) -> tuple[float, list[float]]:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        run = RunDirectory.create(root / ".arrl", {"metric": "val_loss"}, root)
        context = arrl.PluginContext(run.path, root, "train.py", "val_loss", arrl.Direction.MINIMIZE, 300, 0)
        started = time.perf_counter()
        tracker = build(context)
        attach = time.perf_counter() - started
        times = []
        for record in records:
            started = time.perf_counter()
            tracker.arrl_experiment_finished(record=record, run_id=run.run_id)
            times.append(time.perf_counter() - started)
        tracker.close()
    return attach, times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=20)
    parser.add_argument("--points", type=int, default=100)
    args = parser.parse_args()
    from arrl.contrib.mlflow_tracking import MlflowOptions, MlflowTracker
    from arrl.contrib.tensorboard_tracking import TensorBoardOptions, TensorBoardTracker

    records = _records(args.records, args.points)
    trackers: dict[str, Callable[[arrl.PluginContext], Any]] = {
        "mlflow (sqlite)": lambda c: MlflowTracker(
            MlflowOptions(tracking_uri=f"sqlite:///{c.repo_root}/mlflow.db",
                          artifact_location=str(c.repo_root / "artifacts")), c),
        "tensorboard": lambda c: TensorBoardTracker(TensorBoardOptions(), c),
    }
    print("| tracker | attach (ms) | per experiment, median (ms) | worst (ms) | experiments | points each |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for name, build in trackers.items():
        attach, times = _measure(build, records)
        print(f"| {name} | {attach * 1000:.0f} | {statistics.median(times) * 1000:.0f} | "
              f"{max(times) * 1000:.0f} | {len(times)} | {args.points} |")


if __name__ == "__main__":
    main()
