"""The plugin manager: built-in plugins and ``arrl`` entry points, through the same hooks.

Built-in plugins are ordinary modules registered first, exactly as an outside package's module
is; then every entry point in the ``arrl`` group is loaded. A plugin that fails to import is
reported (``arrl plugins`` shows it) rather than breaking arrl for every other plugin.
"""

from __future__ import annotations

import functools
import importlib
import importlib.metadata
import sys
from collections.abc import Mapping, Sequence
from typing import Any

import attrs
import cattrs
import pluggy

from . import __version__, hookspecs
from .config import describe_error, strict_converter
from .errors import ConfigError
from .registration import Registration

ROLES: tuple[str, ...] = ("proposer", "validator", "runner", "memory", "reward", "rollback")
# Validators chain (every one must accept); every other role has exactly one implementation.
CHAINED_ROLES = frozenset({"validator"})
HOOK_FOR_ROLE: Mapping[str, str] = {
    "proposer": "arrl_proposers",
    "validator": "arrl_validators",
    "runner": "arrl_runners",
    "memory": "arrl_memories",
    "reward": "arrl_rewards",
    "rollback": "arrl_rollbacks",
}

BUILTIN_PLUGINS: tuple[str, ...] = (
    "arrl.plugins.proposers.random_proposer",
    "arrl.plugins.ppo",
    "arrl.plugins.proposers.grid_proposer",
    "arrl.plugins.validator.ast_validator",
    "arrl.plugins.runners.subprocess_runner",
    "arrl.plugins.runners.podman_runner",
    "arrl.plugins.runners.docker_runner",
    "arrl.plugins.deque_memory",
    "arrl.plugins.redis_memory",
    "arrl.plugins.composite_reward",
    "arrl.plugins.git_rollback",
    # Trackers (arrl_trackers): cheap to import; each imports its library only when turned on.
    "arrl.contrib.mlflow_tracking",
    "arrl.contrib.tensorboard_tracking",
)


@attrs.frozen
class PluginInfo:
    """One registered plugin module, for ``arrl plugins``."""

    name: str
    package: str
    version: str
    hooks: tuple[str, ...]
    error: str = ""

    @property
    def missing_extra(self) -> str:
        """For one of arrl's own optional plugins whose library is not installed, the command
        that installs it ('' otherwise): not a failure, a choice the user has not made yet."""
        if self.package == "arrl" and "No module named" in self.error:
            return f"pip install 'arrl[{self.name}]'"
        return ""

    def problem(self) -> str:
        """What is wrong with it, in the words a user acts on."""
        if self.missing_extra:
            return f"arrl's {self.name} plugin is not installed: {self.missing_extra}"
        return f"plugin {self.name!r} from {self.package} {self.version} failed to load: {self.error}"


class PluginManager(pluggy.PluginManager):
    def __init__(self) -> None:
        super().__init__(hookspecs.PROJECT)
        self.add_hookspecs(hookspecs)
        self.provenance: dict[str, tuple[str, str]] = {}  # plugin name -> (package, version)
        self.load_errors: dict[str, PluginInfo] = {}

    def register_builtin(self, module_name: str) -> None:
        module = importlib.import_module(module_name)
        self.register(module, name=module_name)
        self.provenance[module_name] = ("arrl", __version__)

    def load_entry_points(self, group: str = hookspecs.PROJECT) -> None:
        seen: set[tuple[str, str]] = set()
        for dist in importlib.metadata.distributions():
            for entry_point in dist.entry_points:
                if entry_point.group != group or (entry_point.name, entry_point.value) in seen:
                    continue
                seen.add((entry_point.name, entry_point.value))
                package, version = dist.metadata["name"], dist.version
                if self.get_plugin(entry_point.name) is not None or self.is_blocked(entry_point.name):
                    continue
                try:
                    plugin = entry_point.load()
                except Exception as error:  # a broken plugin must not break arrl
                    self.load_errors[entry_point.name] = PluginInfo(
                        entry_point.name, package, version, (), f"{type(error).__name__}: {error}"
                    )
                    # arrl's own contrib integrations are optional extras: a missing one is
                    # listed by `arrl plugins` and explained when chosen, not warned about on
                    # every command of a user who never asked for it.
                    if not (package == "arrl" and isinstance(error, ImportError)):
                        print(
                            f"arrl: warning: plugin {entry_point.name!r} from {package} {version} "
                            f"failed to load: {error}",
                            file=sys.stderr,
                        )
                    continue
                self.register(plugin, name=entry_point.name)
                self.provenance[entry_point.name] = (package, version)

    def plugin_infos(self) -> list[PluginInfo]:
        infos = []
        for name, plugin in self.list_name_plugin():
            package, version = self.provenance.get(name, ("", ""))
            hooks = tuple(sorted(c.name for c in self.get_hookcallers(plugin) or ()))
            infos.append(PluginInfo(name, package, version, hooks))
        return infos + list(self.load_errors.values())


def make_plugin_manager(
    builtins: Sequence[str] = BUILTIN_PLUGINS, entry_points: bool = True
) -> PluginManager:
    manager = PluginManager()
    for module_name in builtins:
        manager.register_builtin(module_name)
    if entry_points:
        manager.load_entry_points()
    return manager


@functools.lru_cache(maxsize=1)
def plugin_manager() -> PluginManager:
    """The process-wide manager, built on first use (never as an import side effect)."""
    return make_plugin_manager()


class Registry:
    """Every registration of every role, checked for clashes, looked up by name."""

    def __init__(self, manager: PluginManager) -> None:
        self.manager = manager
        self._by_role: dict[str, dict[str, Registration]] = {role: {} for role in ROLES}
        for role in ROLES:
            caller = getattr(manager.hook, HOOK_FOR_ROLE[role])
            for impl in caller.get_hookimpls():
                package, version = manager.provenance.get(impl.plugin_name, ("", ""))
                for registration in impl.function() or ():
                    if not isinstance(registration, Registration):
                        raise ConfigError(
                            f"plugin {impl.plugin_name!r} ({package}) returned "
                            f"{type(registration).__name__} from {HOOK_FOR_ROLE[role]}, "
                            "expected arrl.Registration"
                        )
                    self._add(
                        attrs.evolve(
                            registration,
                            role=role,
                            plugin=impl.plugin_name,
                            package=package,
                            version=version,
                        )
                    )

    def _add(self, registration: Registration) -> None:
        existing = self._by_role[registration.role].get(registration.name)
        if existing is not None:
            raise ConfigError(
                f"two plugins register the {registration.role} {registration.name!r}: "
                f"{existing.provider} (plugin {existing.plugin!r}) and "
                f"{registration.provider} (plugin {registration.plugin!r}); "
                "uninstall one of them"
            )
        self._by_role[registration.role][registration.name] = registration

    def names(self, role: str) -> list[str]:
        return sorted(self._by_role[_check_role(role)])

    def all(self) -> list[Registration]:
        return [r for role in ROLES for r in sorted(self._by_role[role].values(), key=lambda r: r.name)]

    def get(self, role: str, name: str) -> Registration:
        found = self._by_role[_check_role(role)].get(name.strip().lower())
        if found is None:
            valid = ", ".join(self.names(role)) or "(none installed)"
            hint = ""
            if name in self.manager.load_errors:
                hint = f" ({self.manager.load_errors[name].problem()})"
            raise ConfigError(f"unknown {role} {name!r}{hint}; choose one of: {valid}")
        return found


def _check_role(role: str) -> str:
    if role not in ROLES:
        raise ConfigError(f"unknown role {role!r}; roles are: {', '.join(ROLES)}")
    return role


# --- options -----------------------------------------------------------------------------

def build_options(registration: Registration, raw: Mapping[str, Any]) -> Any:
    """Structure ``raw`` into the registration's options class, or raise a clear ConfigError."""
    cls = registration.options
    known = [f.name for f in attrs.fields(cls)]
    unknown = sorted(set(raw) - set(known))
    if unknown:
        valid = ", ".join(known) or "none"
        raise ConfigError(
            f"unknown option {', '.join(unknown)} for {registration.role} {registration.name!r}; "
            f"its options are: {valid}"
        )
    try:
        return strict_converter.structure(dict(raw), cls)
    except (cattrs.BaseValidationError, ValueError, TypeError) as error:
        detail = describe_error(error, f"{registration.role}.{registration.name}")
        raise ConfigError(f"bad option for {registration.role} {registration.name!r}: {detail}") from None

