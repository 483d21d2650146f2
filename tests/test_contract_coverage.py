"""Every registered implementation of every role is run through its role's contract tests: a new
plugin, or a new role, fails here until its name is where the contract tests read their list.

Some lists are read from the registry (every registered memory, proposer, reward and rollback is
tested as it is); runners and validators keep theirs explicit, since each needs something of its
own (an engine, a cluster; a proposal it must refuse).
"""

from __future__ import annotations

import importlib
import types

import pytest

import arrl
from arrl.manager import HOOK_FOR_ROLE, ROLES, Registry, make_plugin_manager

# Role -> (the test module of its contract, the list its contract tests are parametrized over).
CONTRACTS: dict[str, tuple[str, str]] = {
    "proposer": ("test_proposers", "PROPOSERS"),
    "validator": ("test_validator_contract", "VALIDATORS"),
    "runner": ("test_runner_contract", "RUNNERS"),
    "memory": ("test_memory", "MEMORIES"),
    "reward": ("test_reward_contract", "REWARDS"),
    "rollback": ("test_rollback_contract", "ROLLBACKS"),
}


def uncovered(registry: Registry, role: str) -> list[str]:
    """The registered names of ``role`` that its contract tests do not run."""
    module, name = CONTRACTS[role]
    covered = getattr(importlib.import_module(module), name)
    return sorted(set(registry.names(role)) - set(covered))


@pytest.mark.parametrize("role", ROLES)
def test_every_registered_implementation_is_covered_by_its_roles_contract(role: str) -> None:
    assert role in CONTRACTS, f"the role {role!r} has no contract tests: write them, and name their list in CONTRACTS"
    missing = uncovered(Registry(make_plugin_manager()), role)
    module, name = CONTRACTS[role]
    assert not missing, f"registered {role}s {missing} are not run by their contract tests: add them to {name} in tests/{module}.py"


@pytest.mark.parametrize("role", ROLES)
def test_a_newly_registered_implementation_is_noticed(role: str) -> None:
    # The positive control: a plugin installed beside arrl's own is reported as not covered.
    plugin = types.ModuleType("newcomer")
    hook = HOOK_FOR_ROLE[role]
    setattr(plugin, hook, arrl.hookimpl(lambda: [arrl.Registration(name="newcomer", factory=lambda o, c: None)],
                                        specname=hook))
    manager = make_plugin_manager()
    manager.register(plugin, name="newcomer")
    assert uncovered(Registry(manager), role) == ["newcomer"]
