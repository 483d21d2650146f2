"""A metric no proposal can fake: the trusted evaluation command (``evaluate`` in arrl.toml).

The training script's own metric lines are printed by code a proposal may have changed. With
``evaluate = "python eval.py"`` set, after a successful training run the same runner runs
``eval.py`` — a file of the repository that proposals never change (they change only the tuned
script), in a workspace reset to the experiment's commit so nothing the run planted survives —
in a fresh process, on what the experiment wrote to ``ARRL_OUTPUT_DIR``. It should load weights
only (``torch.load(..., weights_only=True)``) and never import the tuned script: an architecture
change reaches it as a config the training run saved, never as code. Its metric is the one
recorded. The script's own lines still drive early stopping while it trains; when the trusted
value disagrees with the script's last line, the record says so and its curve never becomes the
early stopper's best curve.
"""

from __future__ import annotations

import math
import posixpath
import shlex

import attrs

from arrl.errors import ConfigError
from arrl.metrics import final_value
from arrl.records import ExperimentRecord, Outcome, RunResult

# Relative difference under which the script's value and the trusted one agree (printing rounds).
AGREEMENT = 1e-3
DISAGREEMENT = "metric_disagreement"  # the key in ExperimentRecord.details that flags a run


def evaluation_script(command: str, tuned_script: str) -> str:
    """The repository-relative path of the script ``command`` runs (``python eval.py``), which
    lies beside the tuned script. Arguments are not supported: the runner runs one script."""
    try:
        tokens = shlex.split(command)
    except ValueError as error:
        raise ConfigError(f"evaluate: cannot parse {command!r}: {error}") from None
    if tokens and posixpath.basename(tokens[0]).startswith("python"):
        tokens = tokens[1:]
    if len(tokens) != 1 or not tokens[0].endswith(".py"):
        raise ConfigError(f"evaluate must name one Python script, as in \"python eval.py\"; got {command!r}")
    path = posixpath.normpath(posixpath.join(posixpath.dirname(tuned_script), tokens[0]))
    if posixpath.isabs(tokens[0]) or path.startswith("../") or path == "..":
        raise ConfigError(f"evaluate: {tokens[0]} must be a script inside the repository")
    if path == posixpath.normpath(tuned_script):
        raise ConfigError("evaluate must not run the tuned script: proposals change it")
    return path


@attrs.frozen
class Verdict:
    outcome: Outcome
    value: float
    failure_reason: str = ""
    details: dict[str, str] = attrs.Factory(dict)


def judge(record: ExperimentRecord, result: RunResult, metric: str) -> Verdict:
    """The record's outcome and value once the trusted evaluation has run."""
    if result.outcome is not Outcome.OK:
        reason = result.failure_reason or f"exit code {result.exit_code}"
        return Verdict(Outcome.FAILED, record.value, f"the trusted evaluation did not finish: {reason}")
    trusted = final_value(result.metrics, metric)
    if trusted is None or not math.isfinite(trusted):
        return Verdict(Outcome.FAILED, record.value,
                       f"the trusted evaluation reported no finite {metric} (print `arrl: {metric}=<number>`)")
    details = {"script_value": repr(record.value), "evaluated_value": repr(trusted)}
    if not math.isclose(trusted, record.value, rel_tol=AGREEMENT, abs_tol=1e-12):
        details[DISAGREEMENT] = (f"the script reported {metric}={record.value:.6g}, the trusted evaluation "
                                 f"{trusted:.6g}")
    return Verdict(Outcome.OK, trusted, details=details)
