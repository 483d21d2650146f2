"""The PPO learner's update latency, synchronous and asynchronous, at 1 to 32 simulated workers.

Tables in docs/benchmarks.md: "PPO learner update latency: synchronous and asynchronous".

N experiments are in flight; each lasts ``--seconds`` (simulated: results arrive every
seconds / N, in random order among those in flight), and each arriving result is learned as the
loop's conclude phase does (``learn`` then ``save``), then a new proposal takes its place. What is
timed:

- ``learn+save``: how long the conclude phase is held per result (mean, and max: the results whose
  ``learn`` takes a PPO step, with ``learner=sync``);
- ``step``: the PPO step's own time;
- ``arrival -> published`` (async): from the arrival of the result that completes a batch to the
  publication of the weights learned from it (median, 95th percentile);
- ``staleness``: how many published versions behind the weights that sampled a learned action were.

    nice -n 10 .venv/bin/python benchmarks/overhead/learner_latency.py --workers 1 8 32 --results 96 --seconds 0.5 \
        --torch-threads 1
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import arrl
from arrl.plugins.ppo.learner import AsyncPPOProposer
from arrl.plugins.ppo.proposer import PPOOptions, PPOProposer
from arrl.schema import config_hash
from arrl.script.reader import extract, program_hash

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "tests" / "scripts" / "calls_style.py"


def simulate(learner: str, workers: int, results: int, seconds: float, threads: int, seed: int = 0) -> dict[str, Any]:
    script = SCRIPT.read_text()
    found = extract(script, "train.py")
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory() as scratch:
        context = arrl.PluginContext(Path(scratch), Path(scratch), "train.py", "loss", arrl.Direction.MINIMIZE, 60,
                                     seed)
        options = PPOOptions(learner=learner, rollout_size=max(workers, 1) * 32, threads=threads)
        proposer: PPOProposer = AsyncPPOProposer(options, context) if learner == "async" else PPOProposer(options, context)
        observation = arrl.Observation(script, dict(found.values), (), best_value=1.0,
                                       editable=tuple(found.editable), choices=dict(found.choices))
        state = Path(scratch) / "proposer.state"
        in_flight: list[arrl.Proposal] = []
        held: list[float] = []
        stale: list[int] = []
        steps_before = 0
        step_seconds: list[float] = []
        gap = seconds / workers
        for i in range(results + workers):
            while len(in_flight) < workers:
                in_flight.append(proposer.propose(observation))
            if i >= results:
                break
            if learner == "async":
                time.sleep(gap)  # the simulated experiments run; the learner has this long
            done = in_flight.pop(rng.randrange(len(in_flight)))
            config = extract(done.script, "train.py").values
            record = arrl.ExperimentRecord(
                id=i + 1, parent_id=0, outcome=arrl.Outcome.OK, config=dict(config), config_hash=config_hash(config),
                program_hash=program_hash(done.script), metric_name="loss", direction=arrl.Direction.MINIMIZE,
                value=1.0 + rng.random(), wall_clock_seconds=seconds, proposal_id=done.id)
            pending = proposer.pending.get(done.id or "")
            if learner == "async" and pending is not None:
                assert isinstance(proposer, AsyncPPOProposer)
                stale.append(proposer.weights_version - pending["weights_version"])
            began = time.perf_counter()
            proposer.learn(record, -rng.random())
            proposer.save(state)
            held.append(time.perf_counter() - began)
            if learner == "sync" and proposer.updates > steps_before:
                step_seconds.append(held[-1])
                steps_before = proposer.updates
        row: dict[str, Any] = {"learner": learner, "workers": workers, "held_mean": statistics.mean(held),
                               "held_max": max(held)}
        if isinstance(proposer, AsyncPPOProposer) and proposer.learner is not None:
            proposer.learner.drain()
            latencies = [latency for latency, _ in proposer.learner.latencies]
            step_seconds = [step for _, step in proposer.learner.latencies]
            row["latency_median"] = statistics.median(latencies)
            row["latency_p95"] = sorted(latencies)[int(0.95 * (len(latencies) - 1))]
            row["staleness_mean"] = statistics.mean(stale) if stale else 0.0
            row["steps"] = proposer.learner.version
            proposer.close()
        else:
            row["steps"] = proposer.updates
        row["step_median"] = statistics.median(step_seconds) if step_seconds else float("nan")
        return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--results", type=int, default=96)
    parser.add_argument("--seconds", type=float, default=0.5, help="simulated length of one experiment")
    parser.add_argument("--torch-threads", type=int, default=1,
                        help="the PPO's threads option: torch's intra-op threads in this process (0: torch's default)")
    args = parser.parse_args()
    print("| learner | workers | results | PPO steps | learn+save mean ms | learn+save max ms | step median ms "
          "| arrival -> published median ms | p95 ms | staleness (versions) |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for workers in args.workers:
        for learner in ("sync", "async"):
            r = simulate(learner, workers, args.results, args.seconds, args.torch_threads)
            latency = (f"{r['latency_median'] * 1e3:.0f} | {r['latency_p95'] * 1e3:.0f} | {r['staleness_mean']:.2f}"
                       if learner == "async" else "- | - | 0")
            print(f"| {learner} | {workers} | {args.results} | {r['steps']} | {r['held_mean'] * 1e3:.1f} | "
                  f"{r['held_max'] * 1e3:.0f} | {r['step_median'] * 1e3:.0f} | {latency} |", flush=True)


if __name__ == "__main__":
    main()
