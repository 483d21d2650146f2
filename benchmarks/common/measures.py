"""What the benchmarks on the simulated family share besides the family itself: which members
(seed ranges, the pre-training members), when regret is read (the checkpoints), how it is read
(the true loss of the best-observed configuration, quartiles), and a member's noisy curve
computed in-process.

Standard library only. Moved here unchanged from benchmarks/search/search.py and
benchmarks/early_stopping/stopping_curves.py, which defined them before benchmarks/ had a folder per
question. Every benchmark that needs this folder (simfamily, simloop, measures) puts it on sys.path
in one line, the same everywhere, then imports the modules by name:

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "common"))
"""

from __future__ import annotations

import contextlib
import math
import os
import random
import statistics
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import simfamily

CHECKPOINTS = (16, 32, 64, 128)
PRETRAINING = range(100, 120)


def seeds(text: str) -> list[int]:
    found: list[int] = []
    for part in text.split(","):
        low, _, high = part.partition("-")
        found += list(range(int(low), int(high or low) + 1))
    return found


def best_true_after(records: list[dict[str, Any]], count: int) -> float:
    """True final loss of the best-observed successful configuration in the first ``count``
    experiments after the baseline (the baseline included)."""
    best_value, best_true = math.inf, math.inf
    for r in records[: count + 1]:
        if r["outcome"] == "ok" and r["value"] < best_value:
            best_value, best_true = r["value"], r["true"]
    return best_true


def quartiles(values: list[float]) -> tuple[float, float, float]:
    if len(values) == 1:
        return values[0], values[0], values[0]
    q = statistics.quantiles(values, n=4, method="inclusive")
    return q[0], statistics.median(values), q[2]


def noisy_curve(config: dict[str, Any], member: dict[str, Any], run_seed: int = 0) -> list[float]:
    rng = random.Random(f"{run_seed}:{sorted(config.items())}")
    return [v + rng.gauss(0.0, member["noise"]) if math.isfinite(v) else v for v in simfamily.curve(config, member)]


@contextlib.contextmanager
def busy(count: int) -> Iterator[None]:
    """``count`` CPU-bound processes beside what runs inside (a user's busy machine)."""
    loops = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(count)]
    try:
        yield
    finally:
        for loop in loops:
            loop.kill()
            loop.wait()


def committed_project(project: Path) -> Path:
    """``project`` (its files written) as a git repository with one commit, as arrl needs it."""
    git = ["git", "-C", str(project)]
    subprocess.run([*git, "init", "-q", "-b", "main"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "-c", "user.name=b", "-c", "user.email=b@b", "commit", "-qm", "baseline"], check=True)
    return project


def arrl_run(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``arrl run ARGS`` in ``project``, with its own HOME and one thread, captured."""
    arrl = Path(sys.executable).with_name("arrl")
    env = {**os.environ, "HOME": str(project), "OMP_NUM_THREADS": "1"}
    return subprocess.run([str(arrl), "run", *args], cwd=project, env=env, capture_output=True, text=True)
