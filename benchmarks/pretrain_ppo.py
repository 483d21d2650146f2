"""Pre-train the PPO proposer's prior on the pre-training members of the simulated family.

One policy runs episodes (a fresh run of ``--experiments`` proposals) on members 100-119 in
turn, learning online as it does in arrl, for ``--passes`` passes; its weights become the prior
shipped as arrl/plugins/ppo_prior.pt. Held-out members (0-99) are never seen.

    nice -n 10 .venv/bin/python benchmarks/pretrain_ppo.py --passes 2 --experiments 48 \
        --out plugins/ppo_prior.pt
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from search import PRETRAINING  # noqa: E402
from simloop import episode, make_proposer  # noqa: E402

from arrl.plugins.ppo_prior import save_prior  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--passes", type=int, default=2)
    parser.add_argument("--experiments", type=int, default=48)
    parser.add_argument("--out", type=Path, default=Path("plugins/ppo_prior.pt"))
    args = parser.parse_args()
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as scratch:
        proposer = make_proposer("ppo", {"prior": "none"}, 0, Path(scratch))
        order = list(PRETRAINING)
        for turn in range(args.passes):
            random.Random(turn).shuffle(order)
            for member in order:
                rows = episode(proposer, member, args.experiments)
                best = min(r["true"] for r in rows if r["outcome"] == "ok")
                print(f"pass {turn} member {member}: best true loss {best:.3f} "
                      f"({time.monotonic() - started:.0f} s)", flush=True)
        save_prior(proposer, args.out, f"simfamily members {PRETRAINING.start}-{PRETRAINING.stop - 1}, "
                                       f"{args.passes} passes of {args.experiments} experiments")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
