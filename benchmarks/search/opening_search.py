"""How the PPO's opening list (``OPENING`` in plugins/ppo/search.py) was ordered.

Tables in docs/benchmarks.md: "A line search and an opening for the PPO".

A fast, scripted stand-in of the opening with the line search (``continuation = "on"``,
``opening = "on"``) on the pre-training members 100-119 of simfamily (never the held-out ones):
each experiment's result is the member's true final loss plus its noise, crashes and divergences
are not kept, and the search of an order is scored by the regret after 16 and 32 experiments.
The stand-in goes through the list again once it is used up (sweeps), where the proposer hands
over to its policy instead; on held-out members 0-29 both gave the same regret at 16 and 32
(docs/benchmarks.md).
First a greedy construction (17 moves; each position takes the move that lowers the mean regret
at 16 plus at 32 most, over 3 noise draws), then 250 steps of local search (swap, move, insert,
drop; 2 x median regret at 16 plus median at 32, over 4 noise draws), keeping what improves.
The shipped list came from a run of this search cut short by a time limit: run to its end, this
script gives the same first 14 moves and the same median regret at 16 on members 100-119, and
another order for the last four.

    nice -n 10 .venv/bin/python benchmarks/search/opening_search.py
"""

from __future__ import annotations

import math
import random
import statistics
import sys
from pathlib import Path

from arrl.plugins.ppo.proposer import ACTIONS, OPTIMIZER_LEARNING_RATE
from arrl.schema import SchemaError, config_hash
from arrl.script.actions import Move, apply_move

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "common"))  # simfamily, simloop, measures
import simfamily  # noqa: E402

MEMBERS = [simfamily.member(s) for s in range(100, 120)]
OPTIMA = [simfamily.optimum(m)[0] for m in MEMBERS]
CHECKPOINTS = (16, 32)


def episode(order: list[Move], m: dict, rng: random.Random, experiments: int = 32) -> dict[int, float]:
    """True final loss of the best-observed configuration at each checkpoint."""
    config = dict(simfamily.BASELINE)
    best_true = simfamily.true_final(config, m)
    best = best_true + rng.gauss(0, m["noise"])
    tried = {config_hash(config)}
    last: tuple[Move, str, bool] | None = None
    position = 0
    found: dict[int, float] = {}
    for i in range(1, experiments + 1):
        here = config_hash(config)
        new = None
        if last is not None:  # the line search
            move, parent, kept = last
            wanted = move if kept else None
            if not kept and parent == here and move.direction in ("up", "down"):
                wanted = Move(move.field, "down" if move.direction == "up" else "up")
            if wanted is not None:
                try:
                    candidate = apply_move(config, wanted)
                    if candidate != config and config_hash(candidate) not in tried:
                        new, chosen = candidate, wanted
                except SchemaError:
                    pass
        for _ in range(len(order) if new is None else 0):  # the opening, as sweeps
            move = order[position % len(order)]
            position += 1
            try:
                candidate = apply_move(config, move)
            except SchemaError:
                continue
            if candidate == config or config_hash(candidate) in tried:
                continue
            if move.field == "optimizer":
                factor = (OPTIMIZER_LEARNING_RATE.get(candidate["optimizer"], 1.0)
                          / OPTIMIZER_LEARNING_RATE.get(config["optimizer"], 1.0))
                coupled = {**candidate, "learning_rate": config["learning_rate"] * factor}
                if 1e-6 <= coupled["learning_rate"] <= 1.0 and config_hash(coupled) not in tried:
                    candidate = coupled
            new, chosen = candidate, move
            break
        if new is None:
            break  # no move of the list leads anywhere new
        tried.add(config_hash(new))
        true = simfamily.true_final(new, m)
        value = true + rng.gauss(0, m["noise"]) if math.isfinite(true) else math.inf
        kept = value < best
        last = (chosen, here, kept)
        if kept:
            best, best_true, config = value, true, new
        if i in CHECKPOINTS:
            found[i] = best_true
    return {c: found.get(c, best_true) for c in CHECKPOINTS}


def regrets(order: list[Move], draws: int) -> dict[int, list[float]]:
    out: dict[int, list[float]] = {c: [] for c in CHECKPOINTS}
    for draw in range(draws):
        for k, m in enumerate(MEMBERS):
            result = episode(order, m, random.Random(f"{draw}:{k}"))
            for c in CHECKPOINTS:
                out[c].append(result[c] - OPTIMA[k])
    return out


def greedy(length: int) -> list[Move]:
    order: list[Move] = []
    remaining = list(ACTIONS)
    for _ in range(length):
        def cost(move: Move) -> float:
            return sum(statistics.mean(v) for v in regrets(order + [move], 3).values())
        chosen = min(remaining, key=cost)
        order.append(chosen)
        remaining.remove(chosen)
    return order


def local_search(order: list[Move], steps: int, seed: int = 1) -> list[Move]:
    def cost(candidate: list[Move]) -> float:
        medians = {c: statistics.median(v) for c, v in regrets(candidate, 4).items()}
        return 2 * medians[16] + medians[32]

    pool = [m for m in ACTIONS if m not in order]
    best = cost(order)
    rng = random.Random(seed)
    for _ in range(steps):
        trial = list(order)
        r = rng.random()
        if r < 0.5:
            i, j = rng.sample(range(len(trial)), 2)
            trial[i], trial[j] = trial[j], trial[i]
        elif r < 0.75:
            move = trial.pop(rng.randrange(len(trial)))
            trial.insert(rng.randrange(len(trial) + 1), move)
        elif r < 0.88:
            trial.insert(rng.randrange(len(trial) + 1), rng.choice([m for m in pool if m not in trial]))
        elif len(trial) > 6:
            trial.pop(rng.randrange(len(trial)))
        value = cost(trial)
        if value < best:
            best, order = value, trial
    return order


def main() -> None:
    order = local_search(greedy(17), 250)
    for move in order:
        print(move)
    medians = {c: statistics.median(v) for c, v in regrets(order, 4).items()}
    print("median regret on members 100-119:", medians)


if __name__ == "__main__":
    main()
