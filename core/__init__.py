"""arrl: an agent that tunes a training script by proposing, validating, running and scoring edits.

The core holds the hooks, the role contracts, the data model and the loop. It imports no
machine-learning framework and no engine client: those live in plugins and load only when used.
"""

__version__ = "0.1.0"

from .errors import ArrlError, ConfigError, EngineError, WorkspaceError
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
