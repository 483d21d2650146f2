"""Pre-train the PPO proposer's prior on the pre-training members of the simulated family.

Tables in docs/benchmarks.md: "Move-to-result attribution and a meta-learned search strategy
(observation version 3)".

One policy runs episodes (a fresh run of ``--experiments`` proposals) on members 100-119 in
turn, learning online as it does in arrl, for ``--passes`` passes; its weights become the prior
shipped as arrl/plugins/ppo/prior.pt. Held-out members (0-99) are never seen.

    nice -n 10 .venv/bin/python benchmarks/search/pretrain_ppo.py --passes 2 --experiments 32 --keep strategy \
        --out plugins/ppo/prior.pt
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "common"))  # simfamily, simloop, measures
from measures import PRETRAINING  # noqa: E402
from simloop import episode, make_proposer, parse_options  # noqa: E402

from arrl.plugins.ppo.prior_file import save_prior  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--passes", type=int, default=2)
    parser.add_argument("--experiments", type=int, default=32)
    parser.add_argument("--out", type=Path, default=Path("plugins/ppo/prior.pt"))
    parser.add_argument("--keep", choices=("all", "strategy"), default="strategy",
                        help="strategy: hold the per-move output layer at zero (neutral) while pre-training, "
                             "so what is learned is the attribution scorer's search strategy (with the body and "
                             "critic), not which moves paid on average on these members")
    parser.add_argument("-o", dest="options", action="append", default=[], help="PPO option key=value while pre-training")
    args = parser.parse_args()
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as scratch:
        options = {"prior": "none", **parse_options(args.options)}
        proposer = make_proposer("ppo", options, 0, Path(scratch))
        if args.keep == "strategy":
            with proposer.torch.no_grad():
                proposer.policy.weight.zero_()
                proposer.policy.bias.zero_()
            proposer.policy.requires_grad_(False)
        order = list(PRETRAINING)
        for turn in range(args.passes):
            random.Random(turn).shuffle(order)
            for member in order:
                # One baseline, as when the shipped prior was made (before the loop's noise
                # floor ran three): the same command makes the same prior.
                rows = episode(proposer, member, args.experiments, baseline_runs=1)
                best = min(r["true"] for r in rows if r["outcome"] == "ok")
                print(f"pass {turn} member {member}: best true loss {best:.3f} "
                      f"({time.monotonic() - started:.0f} s)", flush=True)
        save_prior(proposer, args.out, f"simfamily members {PRETRAINING.start}-{PRETRAINING.stop - 1}, "
                                       f"{args.passes} passes of {args.experiments} experiments, kept: {args.keep}")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
