"""The contracts of the six roles, documented in one place.

Each role is a small abstract base class. A plugin implements one by subclassing it and handing
the loop a factory through the role's hook (see :mod:`arrl.hookspecs`). The loop calls only the
methods below, in the order described in :mod:`arrl.run.attempt`; everything else an implementation
does is its own business.

Every factory is called as ``factory(options, context)`` where ``options`` is an instance of the
registration's attrs ``options`` class (filled from the config file and ``-o``) and ``context``
is a :class:`PluginContext`.
"""

from __future__ import annotations

import abc
import random
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import ClassVar

import attrs

from arrl.script.space import SpaceSettings

from .errors import ArrlError
from .records import (
    Direction,
    ExperimentRecord,
    HistoryEntry,
    MetricPoint,
    Observation,
    Proposal,
    RunResult,
    ValidationResult,
)


@attrs.frozen
class PluginContext:
    """Facts about the run that any implementation may need when it is built."""

    run_dir: Path
    repo_root: Path
    script_path: str  # relative to repo_root
    metric: str
    direction: Direction
    budget_seconds: float
    seed: int
    # Schema field -> the script's name for it, for scripts arrl cannot read by itself
    # ({"learning_rate": "TrainConfig.base_lr"}); see arrl.script.
    field_map: dict[str, str] = attrs.Factory(dict)
    # The [space] table and exclude list (arrl.script.space): knobs, overrides, hands-off names.
    space: SpaceSettings = SpaceSettings()
    # The trusted evaluation command, when one is set: validators then reserve stdout for it.
    evaluate: str = ""
    # The script's command-line arguments (the ``args`` setting): the reader's last override layer.
    args: tuple[str, ...] = ()

    def rng(self, salt: str) -> random.Random:
        """A generator seeded from the run's seed and the caller's name, so two plugins never
        share a stream and a rerun with the same seed proposes the same things."""
        return random.Random(f"{self.seed}:{salt}")


class Proposer(abc.ABC):
    """Proposes the next script to try, and learns from what happened to its proposals.

    ``writes_code``: whether a proposal may be any code, not only new values of the knobs the
    script reader found. arrl runs such code only in a sandbox (see :meth:`Runner.isolation`)
    unless the user turns the sandbox off by name. The built-in knob proposers set it False; a
    plugin that leaves it True is treated as writing code, the safe assumption.
    """

    writes_code: ClassVar[bool] = True

    @abc.abstractmethod
    def propose(self, observation: Observation) -> Proposal:
        """Return a whole proposed script (with its structured edit, when there is one)."""

    def learn(self, record: ExperimentRecord, reward: float) -> None:
        """Called once per proposal with its record and reward (rejections and duplicates too)."""

    def save(self, path: Path) -> None:
        """Persist what was learned to ``path`` so a stopped run resumes with it."""

    def load(self, path: Path) -> None:
        """Restore what :meth:`save` wrote. Called only when ``path`` exists."""


class Validator(abc.ABC):
    """Decides whether a proposed script may run. Validators form a chain; all must accept.

    A validator must never execute or import the code it checks.
    """

    @abc.abstractmethod
    def validate(self, proposed: str, baseline: str) -> ValidationResult:
        """Check ``proposed`` against the trusted ``baseline`` script."""


@attrs.frozen
class RunRequest:
    """One execution for a runner: what to run, where, and for how long at most."""

    run_id: str
    experiment_id: int
    script: Path  # absolute path of the script in the workspace
    workspace: Path  # the checkout the script belongs to (a container mounts all of it)
    workdir: Path  # the directory the script runs in (its own, inside the workspace)
    output_dir: Path  # the only place an experiment may write (ARRL_OUTPUT_DIR)
    log_dir: Path  # where the runner keeps stdout.log and stderr.log, outside output_dir
    budget_seconds: float
    seed: int
    silence_timeout: float = 0.0  # end a run that prints nothing for this long; 0: never
    env: dict[str, str] = attrs.Factory(dict)  # the ARRL_* variables of the script contract
    # The experiment's CPU share (its thread variables are in env); a container runner limits
    # the container to it. 0: not set (the runner's own limit applies).
    cpus: float = 0.0
    # The script's command-line arguments (the ``args`` setting), after the script's path.
    args: tuple[str, ...] = ()
    # "trace": run under arrl's tracer, which writes what the run showed into output_dir
    # (arrl.trace); "coverage": a probe that also records which workspace lines ran. Build the
    # command with arrl.trace.script_command so every runner starts the script the same way.
    trace: str = ""


class RunMonitor(abc.ABC):
    """The loop's side of a running experiment. A runner calls it from its own thread."""

    @abc.abstractmethod
    def on_metric(self, point: MetricPoint) -> bool:
        """A new metric point; return False to have the runner end the run (early stop)."""

    @abc.abstractmethod
    def should_abort(self) -> bool:
        """True once the user asked arrl to stop: end the run and report INTERRUPTED."""


@attrs.frozen
class Isolation:
    """A runner's wall around experiments: ``kind`` is "sandbox" (the operating system's:
    namespaces, no network, an allow-listed file tree), "container", or "none"; ``reason`` says
    why, in a sentence a user can act on; ``chosen`` is True when the user turned isolation off
    by name (then code a proposer writes runs unsandboxed, with a warning, instead of refused)."""

    kind: str
    reason: str = ""
    chosen: bool = False

    @property
    def isolated(self) -> bool:
        return self.kind != "none"


class Runner(abc.ABC):
    """Executes a script under the budget, enforced from outside the script.

    Contract: the run ends no later than ``budget_seconds`` (plus a small teardown margin), no
    process of it survives :meth:`run`, its stdout and stderr are kept in ``log_dir``, and
    metric lines are passed to the monitor as they appear.
    """

    @abc.abstractmethod
    def run(self, request: RunRequest, monitor: RunMonitor) -> RunResult:
        """Run to completion, timeout, early stop or abort, and report what happened."""

    def isolation(self) -> Isolation:
        """What stands between the experiment and the user's machine. A runner that says
        nothing offers none."""
        return Isolation("none", "this runner does not say that it isolates experiments")

    def fingerprint(self) -> dict[str, str]:
        """What pins the execution environment (e.g. an image id and a hash of mounted
        packages). A run refuses to mix experiments whose fingerprints differ."""
        return {}

    def build_image(self) -> str:
        """Build whatever the runner executes in (``arrl image build``); return its id."""
        raise ArrlError("this runner uses no image")

    def cleanup_stale(self, run_id: str) -> int:
        """Remove anything a killed earlier arrl process of ``run_id`` left running; return how
        many things were removed."""
        return 0

    def close(self) -> None:
        """Release engine connections."""


class Memory(abc.ABC):
    """The sliding window of recent experiments the proposer sees, with duplicate detection."""

    @abc.abstractmethod
    def add(self, entry: HistoryEntry) -> None:
        """Insert, evicting the oldest entry once the window is full."""

    @abc.abstractmethod
    def window(self) -> tuple[HistoryEntry, ...]:
        """The entries, oldest first; at most the window size."""

    @abc.abstractmethod
    def contains(self, program_hash: str) -> bool:
        """Whether an experiment of that program is in the window."""

    @abc.abstractmethod
    def claim(self, program_hash: str) -> bool:
        """Reserve the right to run this program; True for exactly one caller per hash, across
        every worker sharing this memory. A claim lasts for the run: a program with a recorded
        result (same script, same seed) is never run again. The loop claims before it runs a
        proposal and records a lost claim as a duplicate."""

    @abc.abstractmethod
    def release(self, program_hash: str) -> None:
        """Give up a claim whose experiment produced no result (interrupted, its worker killed),
        so that the program may be run again."""

    @abc.abstractmethod
    def refill(self, entries: Sequence[HistoryEntry], claimed: Iterable[str]) -> None:
        """Replace the window and the claims with what the journal (the source of truth) holds:
        ``entries`` oldest first, ``claimed`` every program hash with a result. Called once when
        a run starts or continues."""

    def __len__(self) -> int:
        return len(self.window())

    def close(self) -> None:
        """Release connections."""


@attrs.frozen
class RewardContext:
    best_value: float | None  # the best before this experiment; None before the baseline
    budget_seconds: float
    direction: Direction


class Reward(abc.ABC):
    """Turns an experiment record into the scalar the proposer learns from. Always finite."""

    @abc.abstractmethod
    def score(self, record: ExperimentRecord, context: RewardContext) -> float:
        """The reward of ``record``."""


class Rollback(abc.ABC):
    """Keeps every proposal retrievable and the workspace at the last good version.

    The user's own branch, index and working tree are never touched.
    """

    @abc.abstractmethod
    def open(self, run_id: str) -> Path:
        """Prepare (or reopen) the workspace for ``run_id``; return the workspace directory."""

    @abc.abstractmethod
    def baseline(self) -> tuple[str, str]:
        """The commit and text of the user's script that the run started from."""

    @abc.abstractmethod
    def snapshot(self, script: str, experiment_id: int, message: str, parent: str) -> tuple[str, str]:
        """Commit ``script`` as a child of ``parent``; return (commit, ref that keeps it). arrl
        passes ``files={path: text}`` too (paths relative to the repository) when a proposal
        rewrites config files the script reads. A rollback whose ``snapshot`` does not take
        ``files`` keeps script edits working: arrl refuses, with that reason, a proposal that
        rewrites config files, and reads the config files beside the script instead of
        :meth:`read_file`'s."""

    @abc.abstractmethod
    def restore(self, commit: str) -> None:
        """Make the workspace exactly ``commit`` (the last good version)."""

    @abc.abstractmethod
    def mark_good(self, commit: str) -> None:
        """Record ``commit`` as the last good version (e.g. move a ref)."""

    @abc.abstractmethod
    def read(self, commit: str) -> str:
        """The script's text at ``commit``."""

    def read_file(self, commit: str, path: str) -> str:
        """The text of another file of the version ``commit`` (``path`` relative to the
        repository): the config files a script reads. Raise OSError when it has none there."""
        raise OSError(f"{type(self).__name__} keeps the script alone, not {path}")

    def keep(self, commit: str, experiment_id: int) -> str:
        """Keep an existing commit retrievable as experiment ``experiment_id``'s version (the
        baseline runs its own commit, not a snapshot); return the ref that keeps it, or ''."""
        return ""

    def discard(self) -> None:
        """Remove what :meth:`open` made (a workspace, refs) for a run that could not start and
        recorded nothing: a user fixing a broken script should not collect one per try."""

    def finish(self) -> None:
        """The run is finished and will not be continued: let go of what only a running run
        needs (a workspace, a registered worktree), keeping every version retrievable."""

    def check(self) -> None:
        """Refuse what :meth:`open` would refuse for a new run (no repository, a script not
        committed or changed since), cheaply: arrl calls it on an implementation built for the
        purpose, before it creates, locks or imports anything heavy, so that a user's mistake is
        said in a second. Raise :class:`arrl.errors.WorkspaceError` with what to do."""


# The signature every factory has; named so hookspec docs can refer to it.
Factory = Callable[..., object]
