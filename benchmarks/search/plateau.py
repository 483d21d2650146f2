"""What is left at a plateau: is the best configuration a local optimum, or was a better neighbour
run and hidden by the noise?

Tables in docs/benchmarks.md: "Coupled moves (2026-11-26)".

For each member, one simloop episode (the loop's decisions, benchmarks/common/simloop.py) with a
proposer; then every single move and coupled move (arrl.plugins.ppo.proposer.COUPLED) from the
best-observed configuration, scored by the member's true (noise-free) final loss. A member whose
best neighbour is truly better, and was already run, is one where the noise hid a gain: more
moves cannot help there, measuring again could.

    nice -n 10 .venv/bin/python benchmarks/search/plateau.py --seeds 0-29 --experiments 128 --proposer ppo
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Any

from arrl.plugins.ppo.proposer import COUPLED, coupled_config
from arrl.schema import SchemaError, config_hash
from arrl.script.actions import apply_move, moves

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "common"))  # simfamily, simloop, measures
import simfamily  # noqa: E402
import simloop  # noqa: E402
from measures import seeds  # noqa: E402


def neighbours(config: dict[str, Any]) -> list[dict[str, Any]]:
    """Every configuration one single move or one coupled move away from ``config``."""
    found = []
    for move in moves(config):
        try:
            found.append(apply_move(config, move))
        except SchemaError:
            continue
    for pair in COUPLED:
        try:
            found.append(coupled_config(config, pair))
        except SchemaError:
            continue
    return [c for c in found if c != config]


def member_row(seed: int, proposer: str, experiments: int, noise_scale: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as scratch:
        made = simloop.make_proposer(proposer, {}, seed, Path(scratch))
        rows = simloop.episode(made, seed, experiments, noise_scale=noise_scale)
    member = simfamily.member(seed)
    optimum = simfamily.optimum(member)[0]
    best = min((r for r in rows if r["outcome"] == "ok"), key=lambda r: r["value"])
    true_best = simfamily.true_final(best["config"], member)
    scored = [(simfamily.true_final(c, member), c) for c in neighbours(best["config"])]
    loss, neighbour = min(scored, key=lambda item: item[0])
    ran = {config_hash(r["config"]) for r in rows}
    return {"seed": seed, "regret": true_best - optimum, "gain": true_best - loss, "noise": member["noise"] * noise_scale,
            "ran": config_hash(neighbour) in ran}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", default="0-29")
    parser.add_argument("--experiments", type=int, default=128)
    parser.add_argument("--proposer", default="ppo")
    parser.add_argument("--noise-scale", type=float, default=1.0)
    args = parser.parse_args()
    table = [member_row(s, args.proposer, args.experiments, args.noise_scale) for s in seeds(args.seeds)]
    print("| member | regret | best neighbour's gain (true loss) | member's noise | that neighbour was run |")
    print("|---:|---:|---:|---:|---|")
    for row in sorted(table, key=lambda r: r["regret"]):
        print(f"| {row['seed']} | {row['regret']:.3f} | {row['gain']:.3f} | {row['noise']:.3f} | "
              f"{'yes' if row['ran'] else 'no'} |")
    better = [r for r in table if r["gain"] > 0.001]
    hidden = [r for r in better if r["gain"] < r["noise"]]
    print(f"\n{len(better)} of {len(table)} members have a neighbour better by more than 0.001 in true loss; on "
          f"{len(hidden)} of them by less than the member's noise (one run of each cannot tell). The best "
          f"neighbour was run on {sum(r['ran'] for r in table)} of {len(table)}.")


if __name__ == "__main__":
    main()
