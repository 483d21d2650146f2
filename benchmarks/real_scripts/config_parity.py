"""Knobs in config files against knobs in the script (#28): the Hydra fixture
(tests/scripts/styles/hydra_optim) tuned twice by the same proposer with the same seed, once with
its knobs in conf/ as written, once with the same values in a dict in the script (``CONFIG =
{...}``, the composition Hydra makes, handed to the same ``train(cfg)``). The goal: a script
whose knobs live in config files is tuned as well as one whose knobs are constants. With the same
fields read at the same values, the proposer sees the same observations, so both runs should make
the same edits and reach the same results; the table shows whether they do, edit by edit.

The optimizer is excluded in both: the dict's ``_target_`` string is no field the script reader
knows (a choice written as a string it dispatches on would be), so leaving it in would give the
two runs different fields and the comparison would not be like for like.

Its table in docs/benchmarks.md: "Knobs in config files against knobs in the script".

    .venv/bin/python benchmarks/real_scripts/config_parity.py [--experiments 12] [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from arrl.script.configs import compose

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "common"))
from measures import arrl_run, committed_project  # noqa: E402

FIXTURE = Path(__file__).resolve().parents[2] / "tests" / "scripts" / "styles" / "hydra_optim"
ENTRY = re.compile(r'@hydra\.main\(.*?\)\ndef main\(cfg: DictConfig\) -> None:\n    """.*?"""\n    train\(cfg\)\n', re.S)


def nested(values: dict[str, Any]) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    for key, value in values.items():
        node = tree
        *parents, last = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = value
    return tree


def constants_variant(project: Path) -> None:
    """The fixture with its composed config as a dict in the script, conf/ removed."""
    composition = compose(project, "conf", "config")
    config = nested({key: scalar.value for key, scalar in composition.values.items()})
    config["data"]["train_val_test_split"] = [2_000, 500, 500]  # a list: not a scalar the composition lists
    script = (project / "train.py").read_text()
    entry = (f"CONFIG = {json.dumps(config, indent=4).replace('true', 'True').replace('false', 'False')}"
             .replace("null", "None") + "\n\n\ndef main() -> None:\n    \"\"\"Main entry point for training.\"\"\"\n"
             "    from omegaconf import OmegaConf\n\n    train(OmegaConf.create(CONFIG))\n")
    edited, count = ENTRY.subn(lambda _: entry, script)
    assert count == 1, "the fixture's entry point changed: update ENTRY"
    (project / "train.py").write_text(edited)
    shutil.rmtree(project / "conf")


def one_run(kind: str, seed: int, experiments: int, scratch: Path) -> list[dict[str, Any]]:
    project = scratch / kind
    shutil.copytree(FIXTURE, project, ignore=shutil.ignore_patterns("labels.toml", "__pycache__"))
    if kind == "constants":
        constants_variant(project)
    (project / "arrl.toml").write_text(f'script = "train.py"\nmetric = "val_loss"\nbudget = 120\nseed = {seed}\n'
                                       'baseline_runs = 1\nexclude = ["optimizer"]\n')
    (project / ".gitignore").write_text(".arrl/\nhydra/\n")
    done = arrl_run(committed_project(project), "--max-experiments", str(experiments))
    if done.returncode not in (0, 3):
        raise SystemExit(f"arrl run failed on the {kind} variant: {done.stderr[-2000:]}")
    journal = next((project / ".arrl").glob("*/journal.jsonl"))
    return [json.loads(line) for line in journal.read_text().splitlines()]


def describe(record: dict[str, Any]) -> str:
    edit = (record.get("edit") or {}).get("description", "") or "baseline"
    value = record["value"] if record["outcome"] in ("ok", "no_effect") else record["outcome"]
    return f"{edit}: {value:.4f}" if isinstance(value, float) else f"{edit}: {value}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--experiments", type=int, default=12)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="arrl-config-parity-") as scratch:
        runs = {kind: one_run(kind, args.seed, args.experiments, Path(scratch)) for kind in ("yaml", "constants")}
    print("| # | knobs in conf/ (YAML) | knobs in the script (a dict) | same |")
    print("| --- | --- | --- | --- |")
    for index, (left, right) in enumerate(zip(runs["yaml"], runs["constants"], strict=False)):
        print(f"| {index} | {describe(left)} | {describe(right)} | {'yes' if describe(left) == describe(right) else 'no'} |")
    for kind, records in runs.items():
        best = min((r["value"] for r in records if r["outcome"] == "ok"), default=float("nan"))
        print(f"\n{kind}: best val_loss {best:.4f} of {len(records)} experiments")


if __name__ == "__main__":
    main()
