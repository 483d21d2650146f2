"""The loop's decisions without its processes: a fast stand-in of `arrl run` on simfamily members.

Tables in docs/benchmarks.md (this stand-in's rows): "What was tried for the PPO, and what each
attempt gave"; "Move-to-result attribution and a meta-learned search strategy (observation version
3)"; "A line search and an opening for the PPO"; "After the opening became the default: what else
was tried (2026-11-26)"; "Coupled moves (2026-11-26)".

For pre-training the PPO prior and for quick comparisons while developing. It makes the same
decisions as arrl's loop (duplicates in the 32-entry window are not run, the trend stopper
against the best curve, the composite reward, keep if better, the proposer learns from every
proposal) but computes a member's noisy curve in-process instead of running its script. The
reported benchmark (benchmarks/search/search.py) always goes through the real loop.

    nice -n 10 .venv/bin/python benchmarks/common/simloop.py --seeds 0-9 --experiments 64 --proposers random ppo
    nice -n 10 .venv/bin/python benchmarks/common/simloop.py --seeds 0-9 --proposers ppo -o prior=builtin
    nice -n 10 .venv/bin/python benchmarks/common/simloop.py --proposers random ppo ppo:continuation=off,opening=off
    nice -n 10 .venv/bin/python benchmarks/common/simloop.py --drawn-baselines --proposers random ppo
    nice -n 10 .venv/bin/python benchmarks/common/simloop.py --noise-scale 3 --proposers random ppo

Like the loop, it runs the unmodified script ``--baseline-runs`` times (default 3, the loop's
default noise floor) before the first proposal; ``--baseline-runs 1`` gives the figures measured
before that default. ``--drawn-baselines`` starts each member from a starting script of its own
(simfamily.drawn_baseline) instead of the family's common one.

A proposer written NAME:key=value,key=value gets those options on top of the -o ones (so one
command can compare variants of one proposer).
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
from collections import deque
from pathlib import Path
from typing import Any

import attrs

import arrl
from arrl.manager import Registry, build_options, plugin_manager
from arrl.plugins.composite_reward import CompositeReward
from arrl.run.early_stopping import EarlyStoppingSettings, TrendStopper
from arrl.run.noise import noise_floor
from arrl.schema import HISTORY_WINDOW, config_hash
from arrl.script.reader import extract, program_hash

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "common"))  # simfamily, simloop, measures
import simfamily  # noqa: E402
from measures import CHECKPOINTS, best_true_after, noisy_curve, quartiles, seeds  # noqa: E402

BUDGET = 5.0
SCRIPT_SECONDS = 0.15  # what a full member run takes in the real loop, roughly


def parse_options(items: list[str]) -> dict[str, Any]:
    """``key=value`` strings as proposer options, numbers as numbers."""
    options: dict[str, Any] = {}
    for item in items:
        key, _, text = item.partition("=")
        value: Any = text
        for kind in (int, float):
            try:
                value = kind(text)
                break
            except ValueError:
                continue
        options[key] = value
    return options


def make_proposer(name: str, options: dict[str, Any], seed: int, scratch: Path) -> arrl.Proposer:
    registration = Registry(plugin_manager()).get("proposer", name)
    context = arrl.PluginContext(scratch, scratch, "train.py", "val_loss", arrl.Direction.MINIMIZE, BUDGET, seed)
    return registration.factory(build_options(registration, options), context)


def run_proposal(record: arrl.ExperimentRecord, config: dict[str, Any], member: dict[str, Any],
                 window: deque[arrl.HistoryEntry], best: float, best_curve: list[float]) -> list[float]:
    """Run ``record``'s configuration on ``member`` as the loop would: a duplicate of a program in
    the window is not run; the trend stopper watches the curve against the best one; the record
    gets its outcome, value, curve and seconds. Returns the points it ran."""
    points: list[float] = []
    if any(entry.program_hash == record.program_hash for entry in window):
        record.outcome = arrl.Outcome.DUPLICATE
        return points
    full = noisy_curve(config, member)
    stopper = TrendStopper(EarlyStoppingSettings(), best, arrl.Direction.MINIMIZE, best_curve)
    if not full:
        record.outcome = arrl.Outcome.FAILED
    for value in full:
        points.append(value)
        if not math.isfinite(value):
            record.outcome = arrl.Outcome.FAILED
            break
        if stopper.should_stop(value):
            record.outcome = arrl.Outcome.EARLY_STOPPED
            break
    if record.outcome in (arrl.Outcome.OK, arrl.Outcome.EARLY_STOPPED):
        record.value = points[-1]
    record.wall_clock_seconds = 0.05 + SCRIPT_SECONDS * len(points) / simfamily.POINTS
    record.curve = [arrl.MetricPoint("val_loss", v) for v in points]
    return points


def episode(proposer: arrl.Proposer, member_seed: int, experiments: int, baseline_runs: int = 3,
            drawn: bool = False, noise_scale: float = 1.0) -> list[dict[str, Any]]:
    """One run of ``experiments`` experiments after the first baseline; each record's true final
    loss. As in the loop, the first ``baseline_runs - 1`` of them run the unmodified script again
    with other seeds (the noise floor): they fill the history and count as experiments, but
    proposals are compared with the first baseline's value. ``drawn``: start from the member's
    drawn baseline (simfamily.drawn_baseline) instead of the family's common one. ``noise_scale``
    multiplies the member's evaluation noise (its true losses do not change)."""
    member = simfamily.member(member_seed)
    member["noise"] *= noise_scale
    reward = CompositeReward()
    script = simfamily.script(member_seed, simfamily.drawn_baseline(member_seed) if drawn else None)
    found = extract(script, "train.py")
    config = dict(found.values)
    curve = noisy_curve(config, member)
    best, best_curve = curve[-1], curve
    window: deque[arrl.HistoryEntry] = deque(maxlen=HISTORY_WINDOW)
    baseline = arrl.ExperimentRecord(id=0, parent_id=None, outcome=arrl.Outcome.OK, config=config,
                                     config_hash=config_hash(config), program_hash=program_hash(script),
                                     metric_name="val_loss", direction=arrl.Direction.MINIMIZE, value=best,
                                     proposer="baseline", wall_clock_seconds=SCRIPT_SECONDS)
    window.append(baseline.history_entry())
    rows = [{"outcome": "ok", "value": best, "true": simfamily.true_final(config, member), "config": config}]
    runs = [baseline]
    for i in range(1, min(baseline_runs, experiments + 1)):
        repeat = attrs.evolve(baseline, id=i, value=noisy_curve(config, member, run_seed=i)[-1])
        runs.append(repeat)
        window.append(repeat.history_entry())
        rows.append({"outcome": "baseline", "value": repeat.value, "true": rows[0]["true"], "config": config})
    floor = noise_floor(runs)  # the loop's: the spread of the unmodified script's results
    for i in range(len(rows), experiments + 1):
        observation = arrl.Observation(script, dict(config), tuple(window), best_value=best,
                                       editable=tuple(found.editable), choices=dict(found.choices),
                                       noise_floor=floor)
        proposal = proposer.propose(observation)
        new = dict(extract(proposal.script, "train.py").values)
        record = arrl.ExperimentRecord(id=i, parent_id=0, outcome=arrl.Outcome.OK, config=new,
                                       config_hash=config_hash(new), program_hash=program_hash(proposal.script),
                                       metric_name="val_loss", direction=arrl.Direction.MINIMIZE, value=math.inf,
                                       edit=proposal.edit)
        points = run_proposal(record, new, member, window, best, best_curve)
        score = reward.score(record, arrl.RewardContext(best, BUDGET, arrl.Direction.MINIMIZE))
        proposer.learn(record, score)
        if record.outcome is arrl.Outcome.OK and record.value < best:
            best, best_curve, script, config = record.value, points, proposal.script, new
        if record.outcome is not arrl.Outcome.DUPLICATE:
            window.append(record.history_entry())
        rows.append({"outcome": record.outcome.value, "value": record.value,
                     "true": simfamily.true_final(new, member), "config": new})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", default="0-9")
    parser.add_argument("--experiments", type=int, default=64)
    parser.add_argument("--proposers", nargs="+", default=["random", "ppo"])
    parser.add_argument("--baseline-runs", type=int, default=3,
                        help="runs of the unmodified script before the first proposal (the loop's default: 3)")
    parser.add_argument("--drawn-baselines", action="store_true",
                        help="start each member from a baseline drawn at random, not the family's common one")
    parser.add_argument("--noise-scale", type=float, default=1.0,
                        help="multiply each member's evaluation noise (0.003-0.02 in loss units) by this")
    parser.add_argument("-o", dest="options", action="append", default=[], help="proposer option key=value")
    args = parser.parse_args()
    options = parse_options(args.options)

    print("| proposer | " + " | ".join(f"@{c}" for c in CHECKPOINTS if c <= args.experiments) + " |")
    for label in args.proposers:
        name, _, extra = label.partition(":")
        variant = {**options, **parse_options(extra.split(","))} if extra else options
        regrets: dict[int, list[float]] = {c: [] for c in CHECKPOINTS if c <= args.experiments}
        for seed in seeds(args.seeds):
            with tempfile.TemporaryDirectory() as scratch:
                chosen = dict(variant) if name == "ppo" or extra else {}
                proposer = make_proposer(name, chosen, seed, Path(scratch))
                rows = episode(proposer, seed, args.experiments, args.baseline_runs, args.drawn_baselines,
                               args.noise_scale)
            optimum = simfamily.optimum(simfamily.member(seed))[0]
            for c in regrets:
                regrets[c].append(best_true_after(rows, c) - optimum)
        cells = []
        for values in regrets.values():
            q1, med, q3 = quartiles(values)
            cells.append(f"{med:.3f} [{q1:.3f}, {q3:.3f}]")
        shown = variant if name == "ppo" or extra else ""
        print(f"| {name} {shown} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
