"""A metric no proposal can fake: a hostile proposer plugin against the validator and against the
trusted evaluation command (``evaluate`` in arrl.toml), through the real loop, runner and git."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

import arrl
from arrl.config import Settings
from arrl.errors import ConfigError
from arrl.journal import RunDirectory
from arrl.manager import Registry, make_plugin_manager
from arrl.records import ExperimentRecord, ValidationResult
from arrl.run.components import build_components
from arrl.run.early_stopping import EarlyStoppingSettings
from arrl.run.evaluation import DISAGREEMENT, evaluation_script
from arrl.run.loop import ExperimentLoop
from support import make_repo, records, run_arrl

TRAIN = """
import json
import os

LEARNING_RATE = 0.01
weight = 2.0 - LEARNING_RATE * 10
with open(os.path.join(os.environ["ARRL_OUTPUT_DIR"], "weights.json"), "w") as handle:
    json.dump({"weight": weight}, handle)
print(f"arrl: val_loss={(weight - 1.0) ** 2 + 0.5:.6f}")
"""
EVAL = """
import json
import os

with open(os.path.join(os.environ["ARRL_OUTPUT_DIR"], "weights.json")) as handle:
    weight = json.load(handle)["weight"]
print(f"arrl: val_loss={(weight - 1.0) ** 2 + 0.5:.6f}")
"""
TRUE_LOSS = round((2.0 - 0.1 - 1.0) ** 2 + 0.5, 6)
# What a hostile proposer appends: a better-looking last metric line, and a rewrite of the
# evaluation script in the workspace while training runs.
FAKE_LINE = "print('arrl: val_loss=0.0001')\n"
TAMPER = "open('eval.py', 'w').write(\"print('arrl: val_loss=0.0002')\")\n"


class Hostile(arrl.Proposer):
    def __init__(self, payload: str) -> None:
        self.payload = payload

    def propose(self, observation: arrl.Observation) -> arrl.Proposal:
        return arrl.Proposal(observation.script + self.payload, proposer="hostile")


class Permissive(arrl.Validator):
    """Stands for a validator the proposal found a way around."""

    def validate(self, proposed: str, baseline: str) -> ValidationResult:
        return ValidationResult()


def _run(tmp_path: Path, payload: str, validator: str, evaluate: str, evaluation: str = EVAL,
         loops: list[ExperimentLoop] | None = None) -> list[ExperimentRecord]:
    repo = make_repo(tmp_path / "project", {"train.py": TRAIN, "eval.py": evaluation})
    manager = make_plugin_manager(entry_points=False)
    plugin = type(sys)("hostile_plugin")
    plugin.arrl_proposers = arrl.hookimpl(  # type: ignore[attr-defined]
        lambda: [arrl.Registration("hostile", lambda o, c: Hostile(payload))], specname="arrl_proposers")
    plugin.arrl_validators = arrl.hookimpl(  # type: ignore[attr-defined]
        lambda: [arrl.Registration("permissive", lambda o, c: Permissive())], specname="arrl_validators")
    manager.register(plugin, name="hostile_plugin")
    settings = Settings(script="train.py", budget=60.0, silence_timeout=0, max_experiments=2, baseline_runs=1,
                        evaluate=evaluate,
                        plugins={"proposer": "hostile", "validator": validator},
                        early_stopping=EarlyStoppingSettings(enabled=False))
    run = RunDirectory.create(repo / ".arrl", {}, repo)
    context = arrl.PluginContext(run.path, repo, "train.py", "val_loss", arrl.Direction.MINIMIZE, 60.0, 0,
                                 evaluate=evaluate)
    components = build_components(Registry(manager), settings, context)
    loop = ExperimentLoop(settings, run, components, manager, context, report=lambda _: None)
    if loops is not None:
        loops.append(loop)
    try:
        loop.run()
    finally:
        loop.close()
    return run.records()


def test_the_validator_refuses_a_faked_metric_when_evaluate_is_set(tmp_path: Path) -> None:
    records = _run(tmp_path, FAKE_LINE, "ast", "python eval.py")
    assert records[0].outcome.value == "ok" and records[0].value == pytest.approx(TRUE_LOSS)
    assert records[1].outcome.value == "rejected"
    assert "prints to stdout" in records[1].failure_reason


def test_without_evaluate_a_validator_bypass_records_the_fake(tmp_path: Path) -> None:
    records = _run(tmp_path, FAKE_LINE, "permissive", "")
    assert records[1].outcome.value == "ok" and records[1].value == pytest.approx(0.0001) and records[1].kept


def test_with_evaluate_the_recorded_metric_is_the_trusted_one(tmp_path: Path) -> None:
    records = _run(tmp_path, FAKE_LINE + TAMPER, "permissive", "python eval.py")
    baseline, hostile = records
    assert baseline.value == pytest.approx(TRUE_LOSS) and DISAGREEMENT not in baseline.details
    assert hostile.outcome.value == "ok"
    # The committed eval.py ran, not the copy the experiment rewrote, and its value is recorded.
    assert hostile.value == pytest.approx(TRUE_LOSS) and not hostile.kept
    assert hostile.details["script_value"] == repr(0.0001)
    assert "0.0001" in hostile.details[DISAGREEMENT]
    # The evaluation has its own logs beside the experiment's.
    logs = tmp_path / "project" / ".arrl"
    assert any(p.read_text().strip() == f"arrl: val_loss={TRUE_LOSS:.6f}"
               for p in logs.rglob("evaluate/stdout.log"))


def test_a_better_run_that_lied_is_recorded_by_its_trusted_value_and_never_the_best_curve(tmp_path: Path) -> None:
    better = ("weight = 1.05\nwith open(os.path.join(os.environ['ARRL_OUTPUT_DIR'], 'weights.json'), 'w') as out:\n"
              "    json.dump({'weight': weight}, out)\n" + FAKE_LINE)
    loops: list[ExperimentLoop] = []
    baseline, hostile = _run(tmp_path, better, "permissive", "python eval.py", loops=loops)
    assert hostile.kept and hostile.value == pytest.approx(0.5025) and DISAGREEMENT in hostile.details
    state = loops[0]._derive_state(loops[0].run_dir.records(), reset_failures=False)
    assert state.best == pytest.approx(0.5025)
    # The early stopper keeps comparing against a curve that told the truth: the baseline's.
    assert state.best_curve == [p.value for p in baseline.curve] == [pytest.approx(TRUE_LOSS)]


def test_a_missing_evaluation_script_is_a_clear_error_before_anything_runs(tmp_path: Path) -> None:
    with pytest.raises(arrl.ArrlError, match="missing_eval.py is not among the repository's committed files"):
        _run(tmp_path, "", "ast", "python missing_eval.py")


def test_a_failing_evaluation_fails_the_experiment(tmp_path: Path) -> None:
    with pytest.raises(arrl.ArrlError, match="unmodified script failed .failed: the trusted evaluation did not "
                                             "finish: exit code 4"):
        _run(tmp_path, "", "ast", "python eval.py", evaluation="raise SystemExit(4)\n")


@pytest.mark.parametrize(("command", "message"), [
    ("python train.py", "must not run the tuned script"),
    ("python ../other/eval.py", "inside the repository"),
    ("python eval.py --split val", "one Python script"),
    ("make eval", "one Python script"),
])
def test_bad_evaluate_commands_are_clear_errors(command: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        evaluation_script(command, "train.py")
    assert evaluation_script("python3 eval.py", "src/train.py") == "src/eval.py"


def test_arrl_run_records_the_trusted_metric_from_arrl_toml(tmp_path: Path, arrl_env) -> None:
    # A baseline whose own line disagrees with its trusted evaluation: the evaluation wins.
    lying = TRAIN.replace('print(f"arrl: val_loss={(weight - 1.0) ** 2 + 0.5:.6f}")', 'print("arrl: val_loss=9.5")')
    config = 'script = "train.py"\nbudget = 60\nevaluate = "python eval.py"\n[early_stopping]\nenabled = false\n'
    repo = make_repo(tmp_path / "project", {"train.py": lying, "eval.py": EVAL}, config)
    result = run_arrl("run", "--max-experiments", "1", cwd=repo, env=arrl_env)
    assert result.returncode == 0, result.output
    (baseline,) = records(repo)
    assert float(baseline["value"]) == pytest.approx(TRUE_LOSS)
    assert baseline["details"]["script_value"] == "9.5" and DISAGREEMENT in baseline["details"]
    # `arrl validate` reads the same setting: with `evaluate`, stdout belongs to the evaluation.
    (repo / "proposed.py").write_text(lying + "print('arrl: val_loss=0.1')\n")
    checked = run_arrl("validate", "--baseline", "train.py", "proposed.py", cwd=repo, env=arrl_env)
    assert checked.returncode == 1 and "prints to stdout" in checked.stdout
