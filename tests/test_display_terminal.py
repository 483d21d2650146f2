"""The live display in a real terminal of 80 columns by 24 rows (tmux): the numbers stay whole,
and the closing message is said once."""

from __future__ import annotations

import re
import shutil
import subprocess
import time
import uuid
from pathlib import Path

from support import ARRL, make_repo, skip_or_fail

SCRIPT = """
import os, time
LEARNING_RATE = 0.01
DROPOUT = 0.1
seed = int(os.environ.get("ARRL_SEED", "0"))
for step in range(12):
    loss = abs(LEARNING_RATE - 0.004) * 100 + DROPOUT + 3 / (step + 1) + seed * 0.01
    print(f"arrl: step={step} val_loss={loss:.6f}", flush=True)
    time.sleep(0.4)
"""
CONFIG = ('script = "train.py"\nbudget = 20\nbaseline_runs = 2\n[plugins]\nproposer = "random"\n'
          '[early_stopping]\nenabled = false\n')
# A running row: its id, its edit (maybe shortened), then time/budget, the metric and the step, whole.
RUNNING = re.compile(r"^#(\d+) .*?(\d+(?:\.\d+)?s)/20s +(\d+\.\d+) +(\d+) *$")


def _pane(session: str, history: bool = False) -> str:
    args = ["tmux", "capture-pane", "-p", "-t", session, *(["-S", "-"] if history else [])]
    return subprocess.run(args, capture_output=True, text=True, check=True).stdout


def test_the_live_display_fits_80_columns(tmp_path: Path, arrl_env) -> None:
    if shutil.which("tmux") is None:
        skip_or_fail("tmux is not installed (scripts/engines.sh installs it)")
    repo = make_repo(tmp_path / "project", {"train.py": SCRIPT}, CONFIG)
    session = f"arrl-{uuid.uuid4().hex[:8]}"
    env = " ".join(f"{k}={v}" for k, v in arrl_env.items())
    command = f"cd {repo} && env {env} {ARRL} run --max-experiments 4; echo ARRL-EXIT=$?; sleep 60"
    subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", "80", "-y", "24", command], check=True)
    try:
        seen = ""
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            seen = _pane(session)
            rows = [RUNNING.match(line) for line in seen.splitlines()]
            if any(m and int(m.group(4)) >= 3 and int(m.group(1)) >= 2 for m in rows):
                break  # a proposal is running, some steps in, after the baseline's runs
            assert "ARRL-EXIT" not in seen, seen
            time.sleep(0.2)
        else:
            raise AssertionError(f"no running row with its numbers whole at 80 columns:\n{seen}")
        assert all(len(line) <= 80 for line in seen.splitlines())
        assert "…" not in "".join(line for line in seen.splitlines() if RUNNING.match(line)).split("s/20s")[-1]
        assert re.search(r"^baseline \d+\.\d+ ± [\d.e-]+ \(2 runs\); a gain must beat ", seen, re.M), seen
        assert re.search(r"^best val_loss=[\d.]+ from #\d+", seen, re.M), seen
        while "ARRL-EXIT" not in _pane(session) and time.monotonic() < deadline:
            time.sleep(0.3)
        whole = _pane(session, history=True)
        assert "ARRL-EXIT=0" in whole, whole
        assert whole.count("reached --max-experiments 4") == 1, whole  # the closing message, once
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)
