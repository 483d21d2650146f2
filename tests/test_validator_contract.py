"""The validator contract (arrl.roles.Validator and docs/writing-a-validator.md), one test body for
every registered validator: the trusted baseline and a harmless knob edit pass, what the validator
exists to refuse is refused with its name and a reason, an unreadable script is answered rather
than raised on, and the code it checks is never run or imported.

A new validator is tested by adding its name to VALIDATORS with one proposal it must refuse;
test_contract_coverage.py fails while a registered validator is missing here. What the ast
validator refuses in detail is test_validator.py's and test_safety_properties.py's.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import arrl
from arrl.manager import Registry, build_options, make_plugin_manager

BASELINE = """\
import math
LEARNING_RATE = 0.01
DROPOUT = 0.1
BATCH_SIZE = 32
print(f"arrl: val_loss={math.log(LEARNING_RATE) + DROPOUT}")
"""

# Registered name -> a proposal it exists to refuse.
VALIDATORS: dict[str, str] = {
    "ast": BASELINE + "import subprocess\nsubprocess.run(['id'])\n",  # new code reaching a shell
}


@pytest.fixture(params=sorted(VALIDATORS))
def named_validator(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, arrl.Validator]:
    """The parametrized validator, built through the registry for a script ``train.py`` in
    ``tmp_path`` (its workspace), as the loop builds it."""
    (tmp_path / "train.py").write_text(BASELINE)
    registration = Registry(make_plugin_manager()).get("validator", request.param)
    context = arrl.PluginContext(tmp_path, tmp_path, "train.py", "val_loss", arrl.Direction.MINIMIZE, 60, seed=0)
    return request.param, registration.factory(build_options(registration, {}), context)


def test_the_baseline_and_a_harmless_knob_edit_are_accepted(named_validator) -> None:
    _, validator = named_validator
    # Judged against itself, the trusted script changes nothing: refusing it would refuse every
    # proposal that leaves it be.
    assert validator.validate(BASELINE, BASELINE).accepted
    edited = BASELINE.replace("LEARNING_RATE = 0.01", "LEARNING_RATE = 0.02").replace("= 32", "= 64")
    result = validator.validate(edited, BASELINE)
    assert isinstance(result, arrl.ValidationResult) and result.accepted, str(result)


def test_what_it_exists_to_refuse_is_refused_with_its_name_and_a_reason(named_validator) -> None:
    name, validator = named_validator
    result = validator.validate(VALIDATORS[name], BASELINE)
    assert not result.accepted
    for issue in result.issues:  # the record's failure_reason, `arrl history` and `arrl validate` show them
        assert issue.validator == name and issue.message.strip(), issue
        assert issue.line is None or issue.line >= 1


def test_an_unreadable_script_is_answered_not_raised_on(named_validator) -> None:
    _, validator = named_validator
    # The ast validator rejects it in Python's words; the others may leave it to ast.
    assert isinstance(validator.validate("def broken(:\n" + BASELINE, BASELINE), arrl.ValidationResult)


def test_the_code_it_checks_is_neither_run_nor_imported(named_validator, tmp_path: Path) -> None:
    _, validator = named_validator
    ran, imported = tmp_path / "ran", tmp_path / "imported"
    # A module of the workspace that leaves a mark when imported, and a proposal that leaves a
    # mark at its top level, again through exec, then imports the module.
    (tmp_path / "helper.py").write_text(f"open({str(imported)!r}, 'w').write('imported')\n")
    proposal = (f"open({str(ran)!r}, 'w').write('ran')\n"
                f"exec(\"open({str(ran)!r} + '-exec', 'w').write('ran')\")\n"
                "import helper\n" + BASELINE)
    validator.validate(proposal, BASELINE)
    validator.validate(proposal.replace("import helper", "from helper import *"), BASELINE)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["helper.py", "train.py"]
