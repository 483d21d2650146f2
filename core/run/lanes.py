"""Where an experiment runs (a lane: a worktree, a runner, a CPU share and a GPU) and how a run
ends: the records that the loop and its worker pool share."""

from __future__ import annotations

from pathlib import Path

import attrs

from arrl.journal import RunStatus
from arrl.roles import Rollback, Runner


@attrs.frozen
class LoopResult:
    status: RunStatus
    exit_code: int
    message: str


@attrs.frozen
class Lane:
    """Where one experiment runs: a worker's own rollback (its worktree), runner, CPU share
    and GPU. The loop has one; a worker pool one per worker."""

    rollback: Rollback
    runner: Runner
    workspace: Path
    cpus: float
    gpu: str | None = None
