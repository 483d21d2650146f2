"""No-effect edits in 12-experiment runs (#26): the default proposer on a script with two knobs it
reads and never uses (dropout, weight decay) and a learning rate that matters up to a cap. Counts
the outcomes, the no-effect edits, the repeated ones (the same edit twice) and the knobs the run
found inert.

Its table in docs/benchmarks.md: "No-effect edits in 12-experiment runs".

    .venv/bin/python benchmarks/real_scripts/no_effect_runs.py [--seeds 3]
"""

from __future__ import annotations

import argparse
import collections
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "common"))
from measures import arrl_run, committed_project  # noqa: E402

SCRIPT = """\
LEARNING_RATE = 0.01
DROPOUT = 0.1
WEIGHT_DECAY = 0.05

loss = 2.0
for step in range(5):
    loss = loss * (1 - min(LEARNING_RATE, 0.05) * 10)
    print(f"arrl: step={step} val_loss={loss:.6f}")
"""


def one_run(seed: int, scratch: Path) -> str:
    project = scratch / f"seed{seed}"
    project.mkdir()
    (project / "train.py").write_text(SCRIPT)
    (project / "arrl.toml").write_text(f'script = "train.py"\nbudget = 30\nseed = {seed}\n')
    arrl_run(committed_project(project), "--max-experiments", "12")
    journal = next((project / ".arrl").glob("*/journal.jsonl"))
    records = [json.loads(line) for line in journal.read_text().splitlines()]
    outcomes = collections.Counter(r["outcome"] for r in records)
    edits = [(r["edit"] or {}).get("description", "") for r in records if r["outcome"] == "no_effect"]
    log = next((project / ".arrl").glob("*/run.log")).read_text()
    inert = [line.split(" is inert")[0].split()[-1] for line in log.splitlines() if " is inert in this run" in line]
    shown = ", ".join(f"{k} {v}" for k, v in sorted(outcomes.items()))
    return f"| {seed} | {shown} | {len(edits)} | {len(edits) - len(set(edits))} | {', '.join(inert) or '-'} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    print("| seed | outcomes | no-effect edits | repeated | inert |")
    print("| --- | --- | --- | --- | --- |")
    with tempfile.TemporaryDirectory(prefix="arrl-no-effect-") as scratch:
        for seed in range(args.seeds):
            print(one_run(seed, Path(scratch)), flush=True)


if __name__ == "__main__":
    main()
