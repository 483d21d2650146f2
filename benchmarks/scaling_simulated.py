"""Many simulated workers: where does the one-at-a-time part of arrl become the bottleneck?

Runs the real worker pool (`core/workers.py`) with the real proposer, validator, journal, memory
and git rollback, but a simulated runner: an experiment sleeps for a fixed time instead of
training and reports a loss computed from its config. With N workers and experiments of D
seconds the ideal wall clock is experiments x D / N; what is left is arrl's own overhead, most of
it in the phases that run one at a time (proposing; concluding: reward, journal fsync, rollback
checkout, the proposer's learning and save). Usage:

    nice -n 10 .venv/bin/python benchmarks/scaling_simulated.py [--workers 32] [--experiments 160]
"""

from __future__ import annotations

import argparse
import math
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import arrl
from arrl.assembly import assemble_loop
from arrl.config import settings_from
from arrl.journal import RunDirectory
from arrl.manager import make_plugin_manager
from arrl.records import converter
from arrl.script import extract

SCRIPT = """
LEARNING_RATE = 0.01
DROPOUT = 0.1
WEIGHT_DECAY = 0.0001
BATCH_SIZE = 32
ACTIVATION = "relu"
print("arrl: val_loss=1.0")
"""


class SimulatedRunner(arrl.Runner):
    """Sleeps for the experiment's duration (a worker waiting on its experiment), then reports
    a loss with a known optimum, so that search quality is measurable too."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def run(self, request: arrl.RunRequest, monitor: arrl.RunMonitor) -> arrl.RunResult:
        started = time.monotonic()
        values = extract(request.script.read_text()).values
        loss = (math.log10(float(values["learning_rate"])) + 2.5) ** 2 + float(values["dropout_rate"])
        time.sleep(self.seconds)
        point = arrl.MetricPoint("val_loss", loss, 0, time.monotonic() - started)
        monitor.on_metric(point)
        return arrl.RunResult(arrl.Outcome.OK, 0, time.monotonic() - started, (point,))


SECONDS = [1.0]


@arrl.hookimpl
def arrl_runners():
    import attrs

    @attrs.frozen
    class NoOptions:
        pass

    yield arrl.Registration(name="simulated", summary="sleeps instead of training (benchmark)",
                            factory=lambda options, context: SimulatedRunner(SECONDS[0]), options=NoOptions)


def simulate(workers: int, experiments: int, proposer: str, scratch: Path) -> dict:
    repo = scratch / f"{proposer}-{workers}"
    repo.mkdir()
    (repo / "train.py").write_text(SCRIPT)
    for command in (["init", "-q"], ["add", "-A"], ["-c", "user.name=b", "-c", "user.email=b@b", "commit", "-qm", "b"]):
        subprocess.run(["git", "-C", str(repo), *command], check=True)
    settings = settings_from({"script": "train.py", "budget": 60, "failure_limit": 1000, "workers": workers,
                              "max_experiments": experiments, "plugins": {"runner": "simulated", "proposer": proposer},
                              "early_stopping": {"enabled": False}})
    manager = make_plugin_manager(entry_points=False)
    manager.register(sys.modules[__name__], name="simulated-runner")
    run = RunDirectory.create(repo / ".arrl", converter.unstructure(settings), repo)
    context = arrl.PluginContext(run_dir=run.path, repo_root=repo, script_path="train.py", metric="val_loss",
                                 direction=settings.direction, budget_seconds=60, seed=0)
    loop = assemble_loop(manager, settings, run, context, report=lambda line: None)
    started = time.monotonic()
    try:
        loop.run()
    finally:
        loop.close()
    wall = time.monotonic() - started
    records = run.records()
    ran = sum(1 for r in records if r.outcome is arrl.Outcome.OK)
    log = (run.path / "run.log").read_text()
    found = re.search(r"for ([\d.]+) s: proposing ([\d.]+) s, concluding \(.*?\) ([\d.]+) s", log)
    pool_wall, propose, conclude = (float(x) for x in found.groups()) if found else (wall, 0.0, 0.0)
    return {"wall": wall, "pool_wall": pool_wall, "propose": propose, "conclude": conclude, "ran": ran,
            "records": len(records), "best": min(r.value for r in records)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workers", type=int, nargs="+", default=[32])
    parser.add_argument("--experiments", type=int, default=160)
    parser.add_argument("--seconds", type=float, default=1.0, help="simulated experiment duration")
    parser.add_argument("--proposers", nargs="+", default=["random", "ppo"])
    args = parser.parse_args()
    SECONDS[0] = args.seconds
    print("| proposer | workers | records | ran | pool wall s | ideal s | proposing s (% of wall) "
          "| concluding s (% of wall) | best |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    with tempfile.TemporaryDirectory() as scratch:
        for proposer in args.proposers:
            for workers in args.workers:
                r = simulate(workers, args.experiments, proposer, Path(scratch))
                ideal = r["ran"] * args.seconds / workers
                print(f"| {proposer} | {workers} | {r['records']} | {r['ran']} | {r['pool_wall']:.1f} | {ideal:.1f} "
                      f"| {r['propose']:.1f} ({100 * r['propose'] / r['pool_wall']:.0f} %) "
                      f"| {r['conclude']:.1f} ({100 * r['conclude'] / r['pool_wall']:.0f} %) | {r['best']:.4f} |",
                      flush=True)


if __name__ == "__main__":
    main()
