"""``arrl reproduce ID``: run a recorded experiment again and say how far the result moved.

A result nobody can re-run is an anecdote. Everything needed is recorded: the experiment's
commit, its seed (``ARRL_SEED``), the run's settings and the environment fingerprint of its
runner. The experiment runs again from its commit, in a worktree of its own (the run's workspace
and the user's checkout are left alone), with its seed and budget, to its end (no early stop).
The difference from the original is reported in units of the run's noise floor (arrl.run.noise), so
"0.3 noise floors" reads as "the same result" and "5 noise floors" as "not reproduced". A runner
whose environment fingerprint differs from the run's is refused: the numbers would not be
comparable.
"""

from __future__ import annotations

import json
import math
import threading
from pathlib import Path

import attrs

from arrl.config import Settings
from arrl.errors import ArrlError
from arrl.journal import RunDirectory, now_iso
from arrl.metrics import final_value
from arrl.output import remove_tree
from arrl.records import ExperimentRecord, Outcome, converter
from arrl.roles import PluginContext, Runner, RunRequest
from arrl.run.loop import RunToEnd
from arrl.run.noise import NOISE_SIGMAS, in_noise_units, noise_floor


@attrs.frozen
class Reproduction:
    run_id: str
    experiment_id: int
    commit: str
    seed: int
    metric: str
    original: float
    outcome: Outcome
    value: float
    wall_clock_seconds: float
    noise_floor: float | None
    failure_reason: str = ""

    @property
    def difference(self) -> float:
        return self.value - self.original

    @property
    def in_noise_floors(self) -> float | None:
        return in_noise_units(self.difference, self.noise_floor) if math.isfinite(self.value) else None

    @property
    def reproduced(self) -> bool | None:
        """Within NOISE_SIGMAS noise floors of the original; None without a floor."""
        units = self.in_noise_floors
        return None if units is None else abs(units) <= NOISE_SIGMAS

    def summary(self) -> str:
        if self.outcome is not Outcome.OK:
            return (f"experiment {self.experiment_id} did not finish this time: {self.outcome.value}"
                    f"{': ' + self.failure_reason if self.failure_reason else ''}")
        line = (f"experiment {self.experiment_id} (commit {self.commit[:10]}, seed {self.seed}): "
                f"{self.metric}={self.value:.6g} now, {self.original:.6g} recorded, "
                f"difference {self.difference:+.6g}")
        if self.noise_floor is None:
            return line + "; no noise floor was measured in this run (baseline_runs = 1)"
        verdict = "reproduced" if self.reproduced else "NOT reproduced"
        return (line + f" = {self.in_noise_floors:+.2f} noise floors (floor {self.noise_floor:.3g}); "
                f"{verdict} (within {NOISE_SIGMAS:g} floors counts as the same result)")


def find_record(run: RunDirectory, experiment_id: int) -> ExperimentRecord:
    records = run.records()
    for record in records:
        if record.id == experiment_id:
            if not record.commit:
                raise ArrlError(f"experiment {experiment_id} of run {run.run_id} never ran "
                                f"({record.outcome.value}); there is nothing to reproduce")
            return record
    last = records[-1].id if records else None
    held = f"0 to {last}" if last is not None else "none"
    raise ArrlError(f"run {run.run_id} has no experiment {experiment_id} (it holds {held})")


def check_environment(run: RunDirectory, runner_name: str, runner: Runner) -> None:
    """Refuse to reproduce under another environment than the run recorded."""
    recorded = run.load_meta().fingerprint
    current = {"runner": runner_name, **runner.fingerprint()}
    differs = sorted(k for k in set(recorded) | set(current) if recorded.get(k) != current.get(k))
    if differs:
        detail = "; ".join(f"{k}: recorded {recorded.get(k, '-')!r}, now {current.get(k, '-')!r}" for k in differs)
        raise ArrlError(
            f"cannot reproduce: run {run.run_id} was recorded in another environment ({detail}). "
            "Restore that environment (the same runner and image) and try again.")


def reproduce(run: RunDirectory, record: ExperimentRecord, settings: Settings, context: PluginContext,
              runner: Runner, abort: threading.Event | None = None) -> Reproduction:
    """Run ``record``'s commit again with its seed; the runner must have passed
    :func:`check_environment`."""
    from arrl.git_command import Git

    seed = record.seed if record.seed is not None else settings.seed
    folder = run.path / "reproductions" / f"{record.id}-{now_iso().replace(':', '')}"
    workspace, output = folder / "workspace", folder / "output"
    git = Git(context.repo_root)
    folder.mkdir(parents=True)
    git("worktree", "add", "--detach", "--quiet", str(workspace), record.commit)
    try:
        script = workspace / context.script_path
        # A run id of its own for the runner (its process tokens, sandbox copies, cgroups and
        # containers): the run, continued meanwhile, clears what its own id names as stale.
        request = RunRequest(
            run_id=f"reproduce-{run.run_id}", experiment_id=record.id, script=script, workspace=workspace,
            workdir=script.parent, output_dir=output, log_dir=folder,
            budget_seconds=settings.budget, seed=seed, silence_timeout=settings.silence_timeout,
            env={"ARRL_RUN_ID": run.run_id, "ARRL_EXPERIMENT_ID": str(record.id),
                 "ARRL_BUDGET_SECONDS": f"{settings.budget:g}", "ARRL_OUTPUT_DIR": str(output),
                 "ARRL_SEED": str(seed), "ARRL_METRIC": settings.metric},
            args=tuple(settings.args),
        )
        result = runner.run(request, RunToEnd(abort or threading.Event()))
    finally:
        git("worktree", "remove", "--force", str(workspace))
        remove_tree(workspace)
    value = final_value(result.metrics, settings.metric)
    outcome, reason = result.outcome, result.failure_reason
    if outcome is Outcome.OK and (value is None or not math.isfinite(value)):
        outcome = Outcome.FAILED
        reason = reason or f"metric {settings.metric!r} was never reported as a finite number"
    reproduction = Reproduction(
        run_id=run.run_id, experiment_id=record.id, commit=record.commit, seed=seed,
        metric=settings.metric, original=record.value, outcome=outcome,
        value=value if outcome is Outcome.OK and value is not None else settings.direction.worst,
        wall_clock_seconds=result.wall_clock_seconds, noise_floor=noise_floor(run.records()),
        failure_reason=reason,
    )
    (folder / "reproduction.json").write_text(json.dumps(as_dict(reproduction), indent=2, sort_keys=True))
    return reproduction


def as_dict(reproduction: Reproduction) -> dict:
    data = converter.unstructure(reproduction)
    units = reproduction.in_noise_floors
    data.update(difference=converter.unstructure(reproduction.difference),
                in_noise_floors=None if units is None else converter.unstructure(units),
                reproduced=reproduction.reproduced)
    return data


def pick_run(runs_dir: Path, run_id: str | None) -> RunDirectory:
    runs = RunDirectory.all(runs_dir)
    if run_id:
        chosen = [r for r in runs if r.run_id == run_id]
        if not chosen:
            names = ", ".join(r.run_id for r in runs) or "none"
            raise ArrlError(f"no run {run_id!r} in {runs_dir}; runs: {names}")
        return chosen[0]
    if not runs:
        raise ArrlError(f"no runs in {runs_dir}; start one with `arrl run`")
    return runs[-1]
