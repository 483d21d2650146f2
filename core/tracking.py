"""Trackers: observers that a user attaches to a run by name, with options.

An observer plugin that needs no settings (the ``arrl-hello`` example's event log) implements the
event hooks at module level and is on whenever it is installed. A tracker is an observer that
needs settings (where the MLflow server is, which folder TensorBoard reads) and that a user turns
on per project: each ``[tracking.NAME]`` table of ``arrl.toml`` attaches the tracker ``NAME``
with that table as its options::

    [tracking.mlflow]
    tracking_uri = "sqlite:///mlflow.db"

    [tracking.tensorboard]          # an empty table: the tracker with its defaults

Plugins offer trackers through the ``arrl_trackers`` hook, exactly as they offer role
implementations. For a run, each chosen tracker is built once, registered on the plugin manager
(so pluggy calls its event-hook methods with everything else) and unregistered and closed when
the run ends.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, TypeVar, cast

import attrs

from .errors import ConfigError
from .manager import PluginManager, build_options
from .registration import Registration

if TYPE_CHECKING:
    from .config import Settings
    from .roles import PluginContext

TRACKER = "tracker"  # the role name a tracker's registration carries, for error messages

F = TypeVar("F", bound=Callable[..., Any])


def tracker_registrations(manager: PluginManager) -> dict[str, Registration]:
    """Every tracker the installed plugins offer, by name; a name offered twice is an error."""
    found: dict[str, Registration] = {}
    for impl in manager.hook.arrl_trackers.get_hookimpls():
        package, version = manager.provenance.get(impl.plugin_name, ("", ""))
        offered = cast(Iterable[Any], impl.function() or ())
        for registration in offered:
            if not isinstance(registration, Registration):
                raise ConfigError(
                    f"plugin {impl.plugin_name!r} ({package}) returned {type(registration).__name__} "
                    "from arrl_trackers, expected arrl.Registration"
                )
            registration = attrs.evolve(registration, role=TRACKER, plugin=impl.plugin_name,
                                        package=package, version=version)
            existing = found.get(registration.name)
            if existing is not None:
                raise ConfigError(
                    f"two plugins register the tracker {registration.name!r}: {existing.provider} "
                    f"(plugin {existing.plugin!r}) and {registration.provider} (plugin "
                    f"{registration.plugin!r}); uninstall one of them"
                )
            found[registration.name] = registration
    return found


def chosen_trackers(manager: PluginManager, settings: Settings) -> list[tuple[Registration, Any]]:
    """The trackers the settings turn on, each with its structured options. Raises a
    ConfigError naming the valid choices for an unknown tracker or a bad option, before
    anything runs."""
    if not settings.tracking:
        return []
    available = tracker_registrations(manager)
    chosen = []
    for name, raw in settings.tracking.items():
        registration = available.get(name.strip().lower())
        if registration is None:
            valid = ", ".join(sorted(available)) or "(none installed)"
            raise ConfigError(f"unknown tracker {name!r} in [tracking]; choose one of: {valid}")
        if not isinstance(raw, dict):
            raise ConfigError(f"[tracking.{name}] must be a table of options, got {raw!r}")
        chosen.append((registration, build_options(registration, raw)))
    return chosen


@attrs.define
class AttachedTrackers:
    """The trackers of one run, registered on the manager until :meth:`close`."""

    manager: PluginManager
    trackers: list[tuple[str, Any]] = attrs.Factory(list)

    def close(self) -> None:
        """Unregister every tracker and let it flush; a tracker that fails to close is reported,
        and the others still close."""
        while self.trackers:
            name, tracker = self.trackers.pop()
            if self.manager.is_registered(tracker):
                self.manager.unregister(tracker)
            close = getattr(tracker, "close", None)
            if close is None:
                continue
            try:
                close()
            except Exception as error:  # its data is already written where it could be
                _warn(name, "close", error)


def attach_trackers(manager: PluginManager, settings: Settings, context: PluginContext) -> AttachedTrackers:
    """Build each chosen tracker and register it so that the event hooks reach it."""
    attached = AttachedTrackers(manager)
    try:
        for registration, options in chosen_trackers(manager, settings):
            tracker = registration.factory(options, context)
            manager.register(tracker, name=f"tracker:{registration.name}")
            attached.trackers.append((registration.name, tracker))
    except BaseException:
        attached.close()
        raise
    return attached


def reports_errors(tracker_name: str) -> Callable[[F], F]:
    """Wrap an event-hook method of a tracker so that its failure (a tracking server that is
    down, a full disk) is printed as a warning instead of stopping the run: the journal already
    holds the record, and a night of experiments is worth more than one missing chart point."""

    def decorate(method: F) -> F:
        @functools.wraps(method)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                return method(*args, **kwargs)
            except Exception as error:
                _warn(tracker_name, method.__name__, error)
                return None

        return wrapper  # type: ignore[return-value]

    return decorate


def _warn(tracker_name: str, what: str, error: BaseException) -> None:
    print(f"arrl: warning: tracker {tracker_name!r} failed in {what}: "
          f"{type(error).__name__}: {error}", file=sys.stderr)


def missing_package(tracker_name: str, package: str, extra: str) -> ConfigError:
    """The error a tracker raises when its library is not installed."""
    return ConfigError(
        f"tracker {tracker_name!r} needs the {package} package, which is not installed: "
        f"pip install 'arrl[{extra}]' (or remove [tracking.{tracker_name}] from the configuration)"
    )
