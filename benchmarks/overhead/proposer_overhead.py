"""What a proposer costs per experiment: propose + learn + save, side by side, on real scripts.

Tables in docs/benchmarks.md: "Proposer overhead per experiment".

Each proposer is built as `arrl run` builds it and driven for N experiments on the same
script with made-up rewards (training is not what is timed), the proposers taking turns. The observation is the loop's:
the script's fields and declared knobs, the space grown around the baseline, the history
window and the set of programs already tried. Usage:

    nice -n 10 .venv/bin/python benchmarks/overhead/proposer_overhead.py --experiments 30 \
        --scripts tinygpt nanogpt nanogpt_knobs --proposers random ppo grid optuna
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
import tomllib
from pathlib import Path

import attrs

import arrl
from arrl.manager import Registry, build_options, plugin_manager
from arrl.schema import HISTORY_WINDOW, config_hash
from arrl.script.reader import Extraction, extract, program_hash
from arrl.script.space import SpaceEntry, SpaceSettings, build_space

ROOT = Path(__file__).resolve().parents[2]
NANOGPT = ROOT / "tests" / "scripts" / "styles" / "nanogpt"


@attrs.frozen
class Script:
    path: Path
    # Knobs a user would declare in [space] (the script's own names), beside the schema fields.
    knobs: tuple[str, ...] = ()


SCRIPTS = {
    "tinygpt": Script(ROOT / "examples" / "tinygpt" / "train.py"),
    "digits": Script(ROOT / "examples" / "digits" / "train.py"),
    "calls_style": Script(ROOT / "tests" / "scripts" / "calls_style.py"),
    # The real-scripts issue's nanoGPT-style fixture: train.py with an override file exec'd over it.
    "nanogpt": Script(NANOGPT / "train.py"),
    # The same with the knobs `arrl inspect` suggests for it declared in [space].
    "nanogpt_knobs": Script(NANOGPT / "train.py", tuple(tomllib.loads((NANOGPT / "labels.toml").read_text())["tune"])),
}
PARTS = ("propose", "read back", "learn", "save")


class Driver:
    """One proposer driven through experiments on one script, one experiment per ``step``."""

    def __init__(self, name: str, target: Script, scratch: Path, seed: int = 0) -> None:
        registration = Registry(plugin_manager()).get("proposer", name)
        self.script = target.path.read_text()
        self.settings = SpaceSettings({knob: SpaceEntry() for knob in target.knobs})
        self.directory = target.path.parent
        self.found = self.read(self.script)
        self.space = build_space(self.found.values, self.settings, tuple(self.found.editable), strict=True)
        context = arrl.PluginContext(scratch, self.directory, "train.py", "loss", arrl.Direction.MINIMIZE, 60,
                                     seed, space=self.settings)
        self.proposer = registration.factory(build_options(registration, {}), context)
        self.state = scratch / "proposer.state"
        self.rng = random.Random(seed)
        self.history: list[arrl.HistoryEntry] = []
        self.tried: set[str] = {config_hash(self.found.values)}
        self.timings: dict[str, list[float]] = {part: [] for part in PARTS}

    def read(self, source: str) -> Extraction:
        return extract(source, "train.py", knobs=self.settings.knobs, directory=self.directory)

    def step(self) -> None:
        observation = arrl.Observation(
            self.script, dict(self.found.values), tuple(self.history[-HISTORY_WINDOW:]), best_value=1.0,
            editable=tuple(n for n in self.found.editable if n in self.space), choices=dict(self.found.choices),
            space=self.space, tried=frozenset(self.tried))
        started = time.perf_counter()
        proposal = self.proposer.propose(observation)
        proposed = time.perf_counter()
        config = self.read(proposal.script).values  # what the loop does with every proposal
        read_back = time.perf_counter()
        record = arrl.ExperimentRecord(
            id=len(self.history) + 1, parent_id=0, outcome=arrl.Outcome.OK, config=dict(config),
            config_hash=config_hash(config), program_hash=program_hash(proposal.script), metric_name="loss",
            direction=arrl.Direction.MINIMIZE, value=1.0 + self.rng.random(), wall_clock_seconds=10.0)
        learning = time.perf_counter()
        self.proposer.learn(record, -self.rng.random())
        learned = time.perf_counter()
        self.proposer.save(self.state)
        saved = time.perf_counter()
        for part, seconds in zip(PARTS, (proposed - started, read_back - proposed, learned - learning,
                                         saved - learned)):
            self.timings[part].append(seconds)
        self.history.append(record.history_entry())
        self.tried.add(record.config_hash)


def measure(names: list[str], target: Script, experiments: int) -> dict[str, dict[str, list[float]]]:
    """Seconds per experiment for each proposer and part. The proposers take turns, one
    experiment each, so a change in the machine's load falls on all of them alike."""
    with tempfile.TemporaryDirectory() as scratch:
        drivers = {}
        for name in names:
            (Path(scratch) / name).mkdir()
            drivers[name] = Driver(name, target, Path(scratch) / name)
        for _ in range(experiments):
            for driver in drivers.values():
                driver.step()
    return {name: driver.timings for name, driver in drivers.items()}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--experiments", type=int, default=40)
    parser.add_argument("--proposers", nargs="+", default=["random", "ppo", "grid", "optuna"])
    parser.add_argument("--scripts", nargs="+", choices=list(SCRIPTS), default=list(SCRIPTS))
    args = parser.parse_args()
    print("| script | proposer | median s per experiment | mean | max | propose+learn+save median | mean | "
          + " | ".join(f"{part} mean" for part in PARTS) + " |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | " + " | ".join("---:" for _ in PARTS) + " |")
    extras = []
    for script in args.scripts:
        own: dict[str, list[float]] = {}
        for name, parts in measure(args.proposers, SCRIPTS[script], args.experiments).items():
            totals = [sum(values) for values in zip(*parts.values())]
            # The read-back is the loop's, the same for every proposer: not the proposer's cost.
            own[name] = [sum(values) for values in zip(*(parts[p] for p in PARTS if p != "read back"))]
            print(f"| {script} | {name} | {statistics.median(totals):.4f} | {statistics.mean(totals):.4f} "
                  f"| {max(totals):.4f} | {statistics.median(own[name]):.4f} | {statistics.mean(own[name]):.4f} | "
                  + " | ".join(f"{statistics.mean(parts[p]):.4f}" for p in PARTS) + " |", flush=True)
        if "random" in own:
            extras += [f"{script}: {name} costs {statistics.median(own[name]) - statistics.median(own['random']):+.4f} s "
                       f"(median), {statistics.mean(own[name]) - statistics.mean(own['random']):+.4f} s (mean) "
                       "per experiment more than random (propose+learn+save)" for name in own if name != "random"]
    print("\n" + "\n".join(extras))

if __name__ == "__main__":
    main()
