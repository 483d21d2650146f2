"""Early stopping measured on the search benchmark's curves: arrl's trend rule against no
stopping and against Optuna's MedianPruner and HyperbandPruner, all fed the same curves.

Tables in docs/benchmarks.md: "Early stopping on the family's curves".

For each held-out member a hill climb (arrl's random one- or two-move edits of the best, keep if
better) runs ``--experiments`` proposals. Each proposal's noisy curve (the one its train.py
would print) is fed point by point to the stopper; a stopped run costs the points it printed and
is not kept. A run that diverges ends at its first nan, as arrl's monitor ends it; a crash costs
one point. Every stopper sees the same proposals from the same generator; they differ only
where a stop changes what was kept.

Reported per stopper: compute (points printed) relative to no stopping, the regret of the best
configuration found, how many runs were stopped, and the false-stop rate: stopped runs whose
full curve would have ended better than the best so far (they would have become the best).

    nice -n 10 .venv/bin/python benchmarks/early_stopping/stopping_curves.py --seeds 0-19 --experiments 64
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import sys
from collections.abc import Callable
from pathlib import Path

import optuna

from arrl.records import Direction
from arrl.run.early_stopping import EarlyStoppingSettings, TrendStopper
from arrl.script.actions import random_edit

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "common"))  # simfamily, simloop, measures
import simfamily  # noqa: E402
from measures import noisy_curve, seeds  # noqa: E402


class Stopper:
    """One early-stopping rule, asked point by point whether to end the current run."""

    def start(self, best: float | None, best_curve: list[float]) -> Callable[[int, float], bool]:
        raise NotImplementedError

    def finish(self, values: list[float], completed: bool) -> None:
        pass


class NoStopping(Stopper):
    def start(self, best, best_curve):
        return lambda step, value: False


class Trend(Stopper):
    def __init__(self, settings: EarlyStoppingSettings = EarlyStoppingSettings()) -> None:
        self.settings = settings

    def start(self, best, best_curve):
        stopper = TrendStopper(self.settings, best, Direction.MINIMIZE, best_curve)
        return lambda step, value: stopper.should_stop(value)


class OptunaPruner(Stopper):
    """An Optuna pruner over a study that sees every run's curve as intermediate values."""

    def __init__(self, pruner: optuna.pruners.BasePruner) -> None:
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self.study = optuna.create_study(direction="minimize", pruner=pruner,
                                         sampler=optuna.samplers.RandomSampler(seed=0))
        self.trial: optuna.Trial | None = None

    def start(self, best, best_curve):
        self.trial = self.study.ask()
        trial = self.trial

        def check(step: int, value: float) -> bool:
            trial.report(value, step)
            return trial.should_prune()

        return check

    def finish(self, values: list[float], completed: bool) -> None:
        assert self.trial is not None
        finite = [v for v in values if math.isfinite(v)]
        if completed and finite and math.isfinite(values[-1]):
            self.study.tell(self.trial, values[-1])
        elif finite:
            self.study.tell(self.trial, state=optuna.trial.TrialState.PRUNED)
        else:
            self.study.tell(self.trial, state=optuna.trial.TrialState.FAIL)


def climb(member_seed: int, experiments: int, stopper: Stopper) -> dict[str, float]:
    member = simfamily.member(member_seed)
    rng = random.Random(f"climb:{member_seed}")
    best_config = dict(simfamily.BASELINE)
    best_curve = noisy_curve(best_config, member)
    best = best_curve[-1]
    stopper.start(None, [])  # the baseline: never stopped (there is no best yet)
    stopper.finish(best_curve, True)
    cost, stopped, false_stops = float(len(best_curve)), 0, 0
    for _ in range(experiments):
        edit = random_edit(best_config, rng, 2)
        config = {**best_config, **edit.changes}
        full = noisy_curve(config, member)
        if not full:  # crashed at start
            cost += 1
            continue
        check = stopper.start(best, best_curve)
        seen: list[float] = []
        ended_early = False
        for step, value in enumerate(full):
            seen.append(value)
            if not math.isfinite(value):
                break
            if step < len(full) - 1 and check(step, value):
                ended_early = True
                break
        cost += len(seen)
        completed = not ended_early and math.isfinite(seen[-1])
        stopper.finish(seen, completed)
        if ended_early:
            stopped += 1
            false_stops += math.isfinite(full[-1]) and full[-1] < best
            continue
        if completed and seen[-1] < best:
            best, best_config, best_curve = seen[-1], config, seen
    optimum = simfamily.optimum(member)[0]
    return {"cost": cost, "regret": simfamily.true_final(best_config, member) - optimum,
            "stopped": stopped, "false_stops": false_stops}


STOPPERS: dict[str, Callable[[], Stopper]] = {
    "none": NoStopping,
    "arrl trend (default)": Trend,
    "arrl trend, margin 1.05": lambda: Trend(EarlyStoppingSettings(margin=1.05)),
    "arrl trend, margin 1.02": lambda: Trend(EarlyStoppingSettings(margin=1.02)),
    "optuna MedianPruner": lambda: OptunaPruner(optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=9)),
    "optuna HyperbandPruner": lambda: OptunaPruner(optuna.pruners.HyperbandPruner(min_resource=3,
                                                                                  max_resource=simfamily.POINTS)),
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", default="0-19")
    parser.add_argument("--experiments", type=int, default=64)
    args = parser.parse_args()
    members = seeds(args.seeds)
    results = {name: [climb(s, args.experiments, make()) for s in members] for name, make in STOPPERS.items()}
    base = results["none"]
    print(f"Hill climb of {args.experiments} proposals on members {args.seeds} ({len(members)} members), "
          f"{simfamily.POINTS} points per full run.\n")
    print("| stopper | compute vs no stopping (median per member) | total compute | regret median [IQR] "
          "| runs stopped | false stops (would have become the best) |")
    print("|---|---:|---:|---|---:|---:|")
    for name, rows in results.items():
        ratios = [r["cost"] / b["cost"] for r, b in zip(rows, base)]
        regrets = sorted(r["regret"] for r in rows)
        q = statistics.quantiles(regrets, n=4, method="inclusive")
        stopped = sum(r["stopped"] for r in rows)
        false = sum(r["false_stops"] for r in rows)
        rate = f"{false} ({false / stopped:.1%})" if stopped else "0"
        print(f"| {name} | {statistics.median(ratios):.2f} | {sum(r['cost'] for r in rows) / sum(b['cost'] for b in base):.2f} "
              f"| {q[1]:.3f} [{q[0]:.3f}, {q[2]:.3f}] | {stopped} | {rate} |")


if __name__ == "__main__":
    main()
