"""Measuring a near-best configuration again: does it get the PPO past its plateau?

Tables in docs/benchmarks.md: "Measuring again near the best (2026-11-26, stop 20): tried in a
stand-in, not in the loop yet".

After 64 experiments the default PPO's regret stops falling on simfamily, and benchmarks/search/plateau.py
says why: on most members a neighbour of the best is truly better by less than the member's noise,
and it was run once and looked worse. This stand-in of the loop (benchmarks/common/simloop.py's
decisions, the default PPO) tries two ways of spending experiments on measuring again, with
another seed, where the best is the configuration with the lowest mean over its runs:

- ``confirm``: a new best that beat the old one by less than the noise margin (2 noise floors) is
  run again before it becomes the best (SMAC's intensification, simplified);
- ``plateau``: once the PPO has no untried single move from the best (it hands over to random
  pairs), the experiment instead runs again the least-measured configuration within the noise
  margin of the best (at most 3 runs each).

``off`` is simloop's own decision (one run per configuration, keep if better). Regret is the true
loss of the best configuration after each experiment, minus the member's optimum.

    nice -n 10 .venv/bin/python benchmarks/search/remeasure.py --seeds 0-29 --experiments 128 --modes off confirm plateau
    nice -n 10 .venv/bin/python benchmarks/search/remeasure.py --seeds 0-29 --noise-scale 3 --modes off confirm plateau

Not part of arrl's loop: measured and left (docs/benchmarks.md, "Measuring again near the best").
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import tempfile
from collections import deque
from pathlib import Path

import attrs

import arrl
from arrl.plugins.composite_reward import CompositeReward
from arrl.run.noise import NOISE_SIGMAS, noise_floor
from arrl.schema import HISTORY_WINDOW, config_hash
from arrl.script.reader import extract, program_hash

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "common"))  # simfamily, simloop, measures
import simfamily  # noqa: E402
from measures import CHECKPOINTS, noisy_curve, quartiles, seeds  # noqa: E402
from simloop import BUDGET, SCRIPT_SECONDS, make_proposer, run_proposal  # noqa: E402

MAX_RUNS = 3  # runs of one configuration, at most, under "plateau"


def episode(proposer: arrl.Proposer, member_seed: int, experiments: int, mode: str,
            noise_scale: float = 1.0) -> list[float]:
    """The true final loss of the best configuration after each experiment (three runs of the
    unmodified script first, as in the loop)."""
    member = simfamily.member(member_seed)
    member["noise"] *= noise_scale
    reward = CompositeReward()
    script = simfamily.script(member_seed)
    found = extract(script, "train.py")
    config = dict(found.values)
    curve = noisy_curve(config, member)
    window: deque[arrl.HistoryEntry] = deque(maxlen=HISTORY_WINDOW)
    baseline = arrl.ExperimentRecord(
        id=0, parent_id=None, outcome=arrl.Outcome.OK, config=config, config_hash=config_hash(config),
        program_hash=program_hash(script), metric_name="val_loss", direction=arrl.Direction.MINIMIZE,
        value=curve[-1], proposer="baseline", wall_clock_seconds=SCRIPT_SECONDS)
    repeats = [attrs.evolve(baseline, id=i, value=noisy_curve(config, member, run_seed=i)[-1]) for i in (1, 2)]
    for record in (baseline, *repeats):
        window.append(record.history_entry())
    floor = noise_floor([baseline, *repeats]) or 0.0
    margin = NOISE_SIGMAS * floor
    runs: dict[str, list[float]] = {baseline.config_hash: [curve[-1]]}  # proposals' seed, then others
    made: dict[str, tuple[dict, str, list[float]]] = {baseline.config_hash: (config, script, curve)}
    best_hash = baseline.config_hash

    def mean(key: str) -> float:
        return statistics.fmean(runs[key])

    def measure_again(key: str) -> None:
        nonlocal best_hash
        runs[key].append(noisy_curve(made[key][0], member, run_seed=100 + len(runs[key]))[-1])
        best_hash = min(runs, key=mean)

    trues = [simfamily.true_final(config, member)] * 3
    pending: str | None = None  # a close new best, waiting for its second run ("confirm")
    while len(trues) <= experiments:
        if pending is not None:
            key, pending = pending, None
            runs[key].append(noisy_curve(made[key][0], member, run_seed=100 + len(runs[key]))[-1])
            if mean(key) < mean(best_hash):
                best_hash = key
        else:
            config, script, best_curve = made[best_hash]
            observation = arrl.Observation(script, dict(config), tuple(window), best_value=mean(best_hash),
                                           editable=tuple(found.editable), choices=dict(found.choices),
                                           noise_floor=floor)
            proposal = proposer.propose(observation)
            close = [k for k in runs if len(runs[k]) < MAX_RUNS and mean(k) - mean(best_hash) < margin]
            if mode == "plateau" and "hill-climb" in (proposal.id or "") and close:
                measure_again(min(close, key=lambda k: (len(runs[k]), mean(k))))
                trues.append(simfamily.true_final(made[best_hash][0], member))
                continue
            new = dict(extract(proposal.script, "train.py").values)
            record = arrl.ExperimentRecord(
                id=len(trues), parent_id=0, outcome=arrl.Outcome.OK, config=new, config_hash=config_hash(new),
                program_hash=program_hash(proposal.script), metric_name="val_loss",
                direction=arrl.Direction.MINIMIZE, value=math.inf, edit=proposal.edit)
            points = run_proposal(record, new, member, window, mean(best_hash), best_curve)
            old_best = mean(best_hash)
            proposer.learn(record, reward.score(record, arrl.RewardContext(old_best, BUDGET, arrl.Direction.MINIMIZE)))
            if record.outcome is arrl.Outcome.OK:
                runs.setdefault(record.config_hash, []).append(record.value)
                made[record.config_hash] = (new, proposal.script, points)
                if record.value < old_best:
                    if mode == "confirm" and old_best - record.value < margin:
                        pending = record.config_hash
                    else:
                        best_hash = record.config_hash
            if record.outcome is not arrl.Outcome.DUPLICATE:
                window.append(record.history_entry())
        trues.append(simfamily.true_final(made[best_hash][0], member))
    return trues


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", default="0-29")
    parser.add_argument("--experiments", type=int, default=128)
    parser.add_argument("--modes", nargs="+", default=["off", "confirm", "plateau"],
                        choices=["off", "confirm", "plateau"])
    parser.add_argument("--noise-scale", type=float, default=1.0)
    args = parser.parse_args()
    checkpoints = [c for c in CHECKPOINTS if c <= args.experiments]
    print("| mode | " + " | ".join(f"@{c}" for c in checkpoints) + " |")
    for mode in args.modes:
        regrets: dict[int, list[float]] = {c: [] for c in checkpoints}
        for seed in seeds(args.seeds):
            with tempfile.TemporaryDirectory() as scratch:
                trues = episode(make_proposer("ppo", {}, seed, Path(scratch)), seed, args.experiments, mode,
                                args.noise_scale)
            optimum = simfamily.optimum(simfamily.member(seed))[0]
            for c in checkpoints:
                regrets[c].append(trues[c] - optimum)
        cells = [f"{quartiles(v)[1]:.3f} [{quartiles(v)[0]:.3f}, {quartiles(v)[2]:.3f}]" for v in regrets.values()]
        print(f"| {mode} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
