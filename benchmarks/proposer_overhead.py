"""What a proposer costs per experiment: propose + learn + save, side by side, on real scripts.

Each proposer is built as `arrl run` builds it and driven for N experiments on the same
script with made-up rewards (training is not what is timed). Usage:

    nice -n 10 .venv/bin/python benchmarks/proposer_overhead.py [--experiments 40] [--proposers ppo random grid optuna]
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from pathlib import Path

import arrl
from arrl.manager import Registry, build_options, plugin_manager
from arrl.schema import config_hash
from arrl.script import extract, program_hash

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = {
    "tinygpt": ROOT / "examples" / "tinygpt" / "train.py",
    "digits": ROOT / "examples" / "digits" / "train.py",
    "calls_style": ROOT / "tests" / "scripts" / "calls_style.py",
}


def measure(name: str, script_path: Path, experiments: int, seed: int = 0) -> list[float]:
    registry = Registry(plugin_manager())
    registration = registry.get("proposer", name)
    script = script_path.read_text()
    found = extract(script, "train.py")
    rng = random.Random(seed)
    timings = []
    with tempfile.TemporaryDirectory() as scratch:
        context = arrl.PluginContext(Path(scratch), Path(scratch), "train.py", "loss", arrl.Direction.MINIMIZE, 60, seed)
        proposer = registration.factory(build_options(registration, {}), context)
        history: list[arrl.HistoryEntry] = []
        state = Path(scratch) / "proposer.state"
        for i in range(experiments):
            observation = arrl.Observation(script, dict(found.values), tuple(history[-32:]), best_value=1.0,
                                           editable=tuple(found.editable), choices=dict(found.choices))
            started = time.perf_counter()
            proposal = proposer.propose(observation)
            config = extract(proposal.script, "train.py").values
            value = 1.0 + rng.random()
            record = arrl.ExperimentRecord(
                id=i + 1, parent_id=0, outcome=arrl.Outcome.OK, config=dict(config), config_hash=config_hash(config),
                program_hash=program_hash(proposal.script), metric_name="loss", direction=arrl.Direction.MINIMIZE,
                value=value, wall_clock_seconds=10.0)
            proposer.learn(record, -rng.random())
            proposer.save(state)
            timings.append(time.perf_counter() - started)
            history.append(record.history_entry())
    return timings


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--experiments", type=int, default=40)
    parser.add_argument("--proposers", nargs="+", default=["random", "ppo", "grid", "optuna"])
    parser.add_argument("--scripts", nargs="+", default=list(SCRIPTS))
    args = parser.parse_args()
    print("| script | proposer | median s per experiment | mean | max |")
    print("| --- | --- | ---: | ---: | ---: |")
    for script in args.scripts:
        for name in args.proposers:
            timings = measure(name, SCRIPTS[script], args.experiments)
            print(f"| {script} | {name} | {statistics.median(timings):.4f} | {statistics.mean(timings):.4f} "
                  f"| {max(timings):.4f} |", flush=True)


if __name__ == "__main__":
    main()
