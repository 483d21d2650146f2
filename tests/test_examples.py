"""The shipped example trains a real torch model through `arrl run`."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from arrl.script import extract
from support import ROOT, git, make_repo, records, run_arrl, scaled, with_steps

EXAMPLE = ROOT / "examples" / "tinygpt"


def test_tinygpt_exposes_all_twelve_fields() -> None:
    found = extract((EXAMPLE / "train.py").read_text())
    assert found.missing == () and not found.out_of_range


@pytest.mark.slow
def test_tinygpt_runs_through_arrl(tmp_path: Path, arrl_env) -> None:
    repo = make_repo(tmp_path / "project", {})
    for name in ("train.py", "corpus.txt", "arrl.toml"):
        shutil.copy(EXAMPLE / name, repo / name)
    # One baseline, not the noise floor's three: the second experiment is then a proposal.
    config = repo / "arrl.toml"
    config.write_text("baseline_runs = 1\n" + config.read_text())
    (repo / "train.py").write_text(with_steps((repo / "train.py").read_text(), 100))
    git(repo, "add", "-A")
    git(repo, "-c", "user.name=T", "-c", "user.email=t@e", "commit", "-qm", "example")
    # The script trains a fixed number of steps (100 of its 300 here: 5 s of one core, idle);
    # start-up (importing torch, 1.5 s idle and 4 s on a busy small machine, then as much again
    # for the optimizer's first use) and the final evaluation come on top. The budget is a cap,
    # scaled to this machine's speed now.
    budget = scaled(30)
    result = run_arrl("run", "--max-experiments", "2", "--budget", str(budget), cwd=repo, env=arrl_env,
                      timeout=max(120, 10 * budget))
    assert result.returncode == 0, result.output
    baseline, proposal = records(repo)
    assert baseline["outcome"] == "ok" and baseline["metric_name"] == "val_bpb"
    # A byte-level model that learned anything beats 8 bits per byte (uniform guessing); 100
    # steps reach about 4.1 whatever the load.
    assert 1.0 < float(baseline["value"]) < 8.0
    assert len(baseline["curve"]) >= 3
    assert baseline["wall_clock_seconds"] < budget
    assert proposal["edit"]["changes"] and proposal["outcome"] in ("ok", "early_stopped", "failed")


@pytest.mark.slow
def test_tinygpt_baseline_is_the_same_under_another_load(tmp_path: Path) -> None:
    """The example's result is the edit's, not the load's: its baseline gives the same value
    idle and beside two CPU-bound processes (one thread each time, as arrl gives a lane)."""
    for name in ("train.py", "corpus.txt"):
        shutil.copy(EXAMPLE / name, tmp_path / name)
    script = tmp_path / "train.py"
    script.write_text(with_steps(script.read_text(), 60))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "ARRL_SEED": "0"}

    def final_value() -> str:
        out = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True,
                             text=True, timeout=scaled(120), check=True).stdout
        return [line for line in out.splitlines() if line.startswith("arrl:")][-1]

    quiet = final_value()
    busy = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2)]
    try:
        loaded = final_value()
    finally:
        for process in busy:
            process.kill()
            process.wait()
    assert quiet == loaded, (quiet, loaded)
    assert quiet.startswith("arrl: step=60 val_bpb=")
