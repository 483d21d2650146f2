"""Assembly: from settings and the installed plugins to a ready experiment loop.

The loop (:mod:`arrl.run.loop`) holds the order of calls and nothing else; the roles are built by
:mod:`arrl.run.components`, which the loop and the worker pool use too. Only this module knows
both, so that neither imports the other's importer.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import attrs

from arrl.config import Settings
from arrl.manager import PluginManager, Registry
from arrl.roles import PluginContext
from arrl.tracking import attach_trackers

from .components import build_components
from .loop import ExperimentLoop

if TYPE_CHECKING:
    from arrl.journal import RunDirectory


def assemble_loop(manager: PluginManager, settings: Settings, run: RunDirectory, context: PluginContext,
                  report: Callable[[str], None] | None = None) -> ExperimentLoop:
    """A loop ready to :meth:`~arrl.run.loop.ExperimentLoop.run`, with every role built; close it
    with :meth:`~arrl.run.loop.ExperimentLoop.close`. ``report`` receives the run's plain lines;
    displays subscribe to the event hooks instead (:mod:`arrl.run.events`)."""
    components = build_components(Registry(manager), settings, context)
    try:
        components = attrs.evolve(components, trackers=attach_trackers(manager, settings, context))
    except BaseException:
        components.close()
        raise
    return ExperimentLoop(settings, run, components, manager, context, report)
