"""arrl: an agent that tunes a training script by proposing, validating, running and scoring edits.

The core holds the hooks, the role contracts, the data model and the loop. It imports no
machine-learning framework and no engine client: those live in plugins and load only when used.
"""

__version__ = "0.1.0"

from typing import TYPE_CHECKING

from .errors import ArrlError, ConfigError, EngineError, WorkspaceError

# The rest load on first use (PEP 562): `arrl --help` and a refusal need none of them, and
# importing the data model and pluggy took most of the CLI's start.
_LAZY = {
    "hookimpl": "hookspecs",
    **dict.fromkeys(("Direction", "Edit", "ExperimentRecord", "HistoryEntry", "MetricPoint", "Observation", "Outcome",
                     "Proposal", "RunResult", "ValidationIssue", "ValidationResult"), "records"),
    **dict.fromkeys(("NoOptions", "Registration"), "registration"),
    **dict.fromkeys(("Isolation", "Memory", "PluginContext", "Proposer", "Reward", "RewardContext", "Rollback",
                     "RunMonitor", "Runner", "RunRequest", "Validator"), "roles"),
}


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'arrl' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


if TYPE_CHECKING:
    from .hookspecs import hookimpl
    from .records import (
        Direction,
        Edit,
        ExperimentRecord,
        HistoryEntry,
        MetricPoint,
        Observation,
        Outcome,
        Proposal,
        RunResult,
        ValidationIssue,
        ValidationResult,
    )
    from .registration import NoOptions, Registration
    from .roles import (
        Isolation,
        Memory,
        PluginContext,
        Proposer,
        Reward,
        RewardContext,
        Rollback,
        RunMonitor,
        Runner,
        RunRequest,
        Validator,
    )

__all__ = [
    "ArrlError",
    "ConfigError",
    "Direction",
    "Edit",
    "EngineError",
    "ExperimentRecord",
    "HistoryEntry",
    "Isolation",
    "Memory",
    "MetricPoint",
    "NoOptions",
    "Observation",
    "Outcome",
    "PluginContext",
    "Proposal",
    "Proposer",
    "Registration",
    "Reward",
    "RewardContext",
    "Rollback",
    "RunMonitor",
    "RunRequest",
    "RunResult",
    "Runner",
    "ValidationIssue",
    "ValidationResult",
    "Validator",
    "WorkspaceError",
    "__version__",
    "hookimpl",
]
