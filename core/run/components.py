"""The built roles of a run: choosing each role's implementation, structuring its options and
building it, once, for every command that needs built components (``run``, ``validate``,
``image build``), and for each worker of a pool.
"""

from __future__ import annotations

import sys
from typing import Any

import attrs

from arrl.config import Settings
from arrl.errors import ConfigError
from arrl.manager import CHAINED_ROLES, ROLES, Registry, build_options
from arrl.records import ValidationIssue, ValidationResult
from arrl.registration import Registration
from arrl.roles import Memory, PluginContext, Proposer, Reward, Rollback, Runner, Validator
from arrl.tracking import AttachedTrackers, chosen_trackers


@attrs.frozen
class Components:
    """One built implementation of each role (validators: the ordered chain)."""

    proposer: Proposer
    validators: tuple[tuple[str, Validator], ...]
    runner: Runner
    memory: Memory
    reward: Reward
    rollback: Rollback
    names: dict[str, str]
    trackers: AttachedTrackers | None = None

    def validate(self, proposed: str, baseline: str) -> ValidationResult:
        return validate_chain(self.validators, proposed, baseline)

    def close(self) -> None:
        """Release what the runner and the memory hold (engine and server connections)."""
        self.runner.close()
        self.memory.close()
        if self.trackers is not None:
            self.trackers.close()


def check_choices(registry: Registry, settings: Settings) -> None:
    """Fail early, before anything runs, on an unknown role, plugin name or option table."""
    unknown_roles = sorted(set(settings.plugins) - set(ROLES))
    if unknown_roles:
        raise ConfigError(f"unknown role {', '.join(unknown_roles)}; roles are: {', '.join(ROLES)}")
    unknown_options = sorted(set(settings.options) - set(ROLES))
    if unknown_options:
        raise ConfigError(f"options for unknown role {', '.join(unknown_options)}; roles are: {', '.join(ROLES)}")
    for role in ROLES:
        chosen = settings.plugin_names(role)
        if len(chosen) > 1 and role not in CHAINED_ROLES:
            raise ConfigError(f"choose one {role}, not {len(chosen)}: {', '.join(chosen)}")
        for name in chosen:
            registration = registry.get(role, name)
            # Structured here too, not only when built: a bad -o must fail before a run is
            # created (or continued) with it stored in its settings.
            raw = settings.options.get(role, {})
            build_options(registration, _member_options(raw, name) if role in CHAINED_ROLES else raw)
    chosen_trackers(registry.manager, settings)


def build_components(registry: Registry, settings: Settings, context: PluginContext) -> Components:
    """Look up each role's chosen implementation, structure its options, and build it."""
    check_choices(registry, settings)
    built: dict[str, Any] = {}
    names: dict[str, str] = {}
    for role in ROLES:
        names[role] = ",".join(settings.plugin_names(role))
        if role in CHAINED_ROLES:
            built[role] = build_chain(registry, settings, context, role)
            continue
        built[role] = build_one(registry, settings, context, role)
    check_isolation(names["proposer"], built["proposer"], built["runner"])
    return Components(
        proposer=built["proposer"],
        validators=built["validator"],
        runner=built["runner"],
        memory=built["memory"],
        reward=built["reward"],
        rollback=built["rollback"],
        names=names,
    )


def build_one(registry: Registry, settings: Settings, context: PluginContext, role: str) -> Any:
    """The chosen implementation of a single-implementation role, built with its options."""
    (name,) = settings.plugin_names(role)
    registration = registry.get(role, name)
    return _build(registration, build_options(registration, settings.options.get(role, {})), context)


def build_chain(registry: Registry, settings: Settings, context: PluginContext,
                role: str = "validator") -> tuple[tuple[str, Any], ...]:
    """The ordered chain of a chained role. Options in ``[options.validator]`` go to every
    member; a sub-table named after a member (``[options.validator.mine]``) to that one only."""
    raw = settings.options.get(role, {})
    chain = []
    for name in settings.plugin_names(role):
        registration = registry.get(role, name)
        own = _member_options(raw, name)
        chain.append((name, _build(registration, build_options(registration, own), context)))
    return tuple(chain)


def _member_options(raw: dict[str, Any], name: str) -> dict[str, Any]:
    return {k: v for k, v in raw.get(name, raw).items() if not isinstance(v, dict)}


def _build(registration: Registration, options: Any, context: PluginContext) -> Any:
    """``registration``'s implementation; a library it imports lazily and the user lacks is one
    clear line naming the package, not a traceback."""
    try:
        return registration.factory(options, context)
    except ModuleNotFoundError as error:
        package = (error.name or "").split(".")[0]
        raise ConfigError(
            f"the {registration.role} {registration.name!r} needs the Python package {package!r}, which is "
            f"not installed (for arrl's own plugins: pip install 'arrl[{package}]')") from None


def validate_chain(chain: tuple[tuple[str, Validator], ...], proposed: str, baseline: str) -> ValidationResult:
    """Run every validator of the chain; the issues of all of them, each naming its validator."""
    issues: list[ValidationIssue] = []
    for name, validator in chain:
        result = validator.validate(proposed, baseline)
        issues += [attrs.evolve(i, validator=i.validator or name) for i in result.issues]
    return ValidationResult(tuple(issues))


FIX_SANDBOX = ("install bubblewrap (apt-get install bubblewrap) where user namespaces are allowed, or choose a "
               "container runner (--plugin runner=podman or docker)")


def check_isolation(name: str, proposer: Proposer, runner: Runner) -> None:
    """Code that a proposer writes runs only behind a wall; knob moves may run without one, with
    a warning. A user who turned the sandbox off by name gets a warning instead of a refusal."""
    isolation = runner.isolation()
    if isolation.isolated:
        return
    if proposer.writes_code and not isolation.chosen:
        raise ConfigError(f"the {name} proposer writes code, which arrl runs only in a sandbox, and the runner "
                          f"has none: {isolation.reason}. To fix it, {FIX_SANDBOX}; to run it unsandboxed "
                          "anyway, with your privileges, files and network, set -o runner.sandbox=off")
    if proposer.writes_code:
        print(f"arrl: warning: the {name} proposer writes code and it runs unsandboxed: {isolation.reason}",
              file=sys.stderr)
    elif not isolation.chosen:
        print(f"arrl: warning: experiments run without a sandbox ({isolation.reason}); to sandbox them, "
              f"{FIX_SANDBOX}", file=sys.stderr)
