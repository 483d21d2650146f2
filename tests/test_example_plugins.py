"""The example plugin packages of examples/plugins, as a user meets them: pip-installed, their
own tests passing, listed by `arrl plugins`, and chosen by name in a real `arrl run`."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from support import ROOT, make_repo, pip_install_copies, records, run_arrl

PACKAGES = ("arrl-relative-reward", "arrl-limits-validator")

# The random proposer moves each value up or down; the limits below refuse every increase of the
# batch size or the dropout, so some proposals are refused and the others (learning-rate moves
# among them) run. The loss rewards a learning rate near 3e-3.
SCRIPT = """
import math
LEARNING_RATE = 0.01
BATCH_SIZE = 32
DROPOUT = 0.1

for step in range(3):
    loss = (math.log10(LEARNING_RATE) + 2.5) ** 2 + DROPOUT + BATCH_SIZE / 320 + 1.0 / (step + 1)
    print(f"arrl: step={step} val_loss={loss:.6f}")
"""

CONFIG = """
script = "train.py"
budget = 20
failure_limit = 50
seed = 7
[plugins]
proposer = "random"
reward = "relative"
validator = ["ast", "limits"]
[options.reward]
scale = 2
[options.validator.limits]
rules = ["batch_size <= 32", "dropout_rate <= 0.1"]
[early_stopping]
enabled = false
"""


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """Both example packages, really pip-installed into a folder of their own."""
    target = tmp_path_factory.mktemp("example-plugins-site")
    pip_install_copies([ROOT / "examples" / "plugins" / p for p in PACKAGES], target,
                       tmp_path_factory.mktemp("example-plugins-sources"))
    return target


@pytest.mark.parametrize("package", PACKAGES)
def test_example_package_passes_its_own_tests(site: Path, package: str) -> None:
    folder = ROOT / "examples" / "plugins" / package
    completed = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(folder / "tests")],
        cwd=folder, capture_output=True, text=True, timeout=300,
        env={**os.environ, "PYTHONPATH": str(site)},
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert " passed" in completed.stdout and "failed" not in completed.stdout


def test_example_packages_are_listed(site: Path, tmp_path: Path) -> None:
    result = run_arrl("plugins", "--json", cwd=tmp_path, env={"PYTHONPATH": str(site)})
    assert result.returncode == 0, result.output
    rows = {(r["role"], r["name"]): r for r in json.loads(result.stdout)["implementations"]}
    assert rows[("reward", "relative")]["package"] == "arrl-relative-reward"
    assert rows[("validator", "limits")]["package"] == "arrl-limits-validator"


def test_chosen_by_name_their_scores_and_rejections_are_recorded(site: Path, tmp_path: Path, arrl_env) -> None:
    repo = make_repo(tmp_path / "project", {"train.py": SCRIPT}, CONFIG)
    result = run_arrl("run", "--max-experiments", "10", cwd=repo, env={**arrl_env, "PYTHONPATH": str(site)})
    assert result.returncode == 0, result.output
    recs = records(repo)
    assert len(recs) == 10

    # The validator: every proposal that raised a value was refused, each broken limit named
    # with the validator's name and its line, and never ran; every other one ran.
    limits = [("batch_size", 3, 32), ("dropout_rate", 4, 0.1)]
    assert any(r["outcome"] == "rejected" for r in recs), "some proposal raises a value"
    for record in recs:
        broken = [(field, line, limit) for field, line, limit in limits if record["config"][field] > limit]
        assert (record["outcome"] == "rejected") == bool(broken), record
        if broken:
            assert record["failure_reason"] == "; ".join(
                f"[limits] line {line}: {field} = {record['config'][field]!r} breaks the limit {field} <= {limit:g}"
                for field, line, limit in broken)
            assert record["commit"] == "" and record["curve"] == []

    # The reward: 0 for the baseline, -1 for a refusal, else 2 x the relative gain, clipped.
    assert any(r["outcome"] == "ok" and r["id"] > 0 for r in recs)
    best = None
    for record in recs:
        if record["outcome"] == "rejected":
            expected = -1.0
        elif best is None:
            expected = 0.0
        else:
            expected = max(-1.0, min(1.0, 2 * (best - record["value"]) / abs(best)))
        assert record["reward"] == pytest.approx(expected), record
        if record["outcome"] == "ok" and (best is None or record["value"] < best):
            best = record["value"]
    assert any(not math.isclose(abs(r["reward"]), 1.0) and r["reward"] != 0 for r in recs), \
        "at least one reward inside (-1, 1), so the scale is really applied"
