"""The validator's table of checks says true: every check stops what it names, shown by leaving it
out of the table (only here, by patching the table; there is no option that turns a check off)
and seeing one of the tests it names fail."""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable
from pathlib import Path

import pytest
from test_validator import BASELINE, VALIDATOR, insert

from arrl.plugins.validator import registry
from arrl.plugins.validator.ast_validator import AstOptions, AstValidator
from support import ROOT


def named_test(node_id: str) -> Callable[[], None]:
    """The test a pytest node id names, ready to call (a parametrised one with its parameters,
    found through its parametrize mark's ids)."""
    path, _, name = node_id.partition("::")
    assert (ROOT / path).is_file(), node_id
    function, _, case = name.partition("[")
    test = getattr(importlib.import_module(Path(path).stem), function)
    if not case:
        return test  # type: ignore[no-any-return]
    for mark in getattr(test, "pytestmark", []):
        if mark.name == "parametrize":
            names, values = mark.args
            names = [n.strip() for n in names.split(",")] if isinstance(names, str) else list(names)
            cases = dict(zip(mark.kwargs["ids"], values))
            if case[:-1] in cases:
                given = cases[case[:-1]]
                return functools.partial(test, **dict(zip(names, given if len(names) > 1 else (given,))))
    raise LookupError(f"{node_id}: no such case")


def test_a_script_over_the_size_limit_is_refused() -> None:
    result = AstValidator(AstOptions(max_bytes=100)).validate(BASELINE, BASELINE)
    assert f"script is {len(BASELINE.encode())} bytes, over the 100 limit" in str(result)


def test_async_code_is_refused() -> None:
    result = VALIDATOR.validate(insert("async def fetch():\n    return 1"), BASELINE)
    assert "AsyncFunctionDef is not allowed in proposed code" in str(result)


def test_every_check_names_its_threat_reason_judges_and_tests_that_exist() -> None:
    names = [check.name for check in registry.CHECKS]
    assert len(set(names)) == len(names)
    for check in registry.CHECKS:
        assert check.threat and check.reason and check.judges and check.tests, check.name
        assert f"\n{check.name} " in registry.__doc__, f"{check.name} is missing from the table in registry's docstring"
        for node_id in check.tests:
            assert callable(named_test(node_id)), node_id


@pytest.mark.parametrize("check", registry.CHECKS, ids=lambda check: check.name)
def test_without_the_check_one_of_its_tests_fails(check: registry.Check, monkeypatch: pytest.MonkeyPatch) -> None:
    tests = [(node_id, named_test(node_id)) for node_id in check.tests]
    for _, test in tests:
        test()  # with every check, each passes
    monkeypatch.setattr(registry, "CHECKS", tuple(c for c in registry.CHECKS if c is not check))
    failed = []
    for node_id, test in tests:
        try:
            test()
        except AssertionError:
            failed.append(node_id)
            break  # one is enough
    assert failed, f"without {check.name}, every test it names still passes: {check.tests}"
