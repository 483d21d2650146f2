"""The data that flows through the loop, as attrs classes that cattrs turns into JSON and back.

Everything a run writes to disk is one of these, so a record written by one version of arrl is
read back by the same converter, and a plugin sees the same types the loop does.
"""

from __future__ import annotations

import enum
import json
import math
from collections.abc import Mapping
from typing import Any

import attrs
import cattrs

from arrl.script.space import Space
from arrl.trace import Facts

from .schema import HISTORY_WINDOW, Value


class Outcome(str, enum.Enum):
    """How an experiment ended."""

    OK = "ok"
    FAILED = "failed"  # crashed, reported no metric, or reported a non-finite one
    TIMED_OUT = "timed_out"  # reached the wall-clock budget and was killed
    REJECTED = "rejected"  # a validator refused it; never executed
    EARLY_STOPPED = "early_stopped"  # its loss trend could not beat the best; ended early
    DUPLICATE = "duplicate"  # the same program is already in the memory window; not run
    INTERRUPTED = "interrupted"  # the user stopped arrl while it ran
    # Ran to its end with its parent's curve, point for point, under the same seed and thread
    # count (arrl.run.effect): the edit changed nothing the script measures. Never kept, never best.
    NO_EFFECT = "no_effect"

    @property
    def is_failure(self) -> bool:
        """Failures count towards the consecutive-failure guard; early stops, duplicates and
        edits with no effect are the system working as meant, not something a human must look at."""
        return self in (Outcome.FAILED, Outcome.TIMED_OUT, Outcome.REJECTED)


class Direction(str, enum.Enum):
    MINIMIZE = "minimize"
    MAXIMIZE = "maximize"

    def better(self, candidate: float, incumbent: float | None) -> bool:
        """Strictly better; a non-finite candidate never is."""
        if not math.isfinite(candidate):
            return False
        if incumbent is None or not math.isfinite(incumbent):
            return True
        return candidate < incumbent if self is Direction.MINIMIZE else candidate > incumbent

    @property
    def worst(self) -> float:
        return math.inf if self is Direction.MINIMIZE else -math.inf


@attrs.frozen
class MetricPoint:
    """One value a script reported while running."""

    name: str
    value: float
    step: int | None = None
    elapsed: float = 0.0  # seconds since the experiment started


@attrs.frozen
class Edit:
    """A structured change: the schema values it sets, and a one-line description of why/what."""

    changes: dict[str, Value]
    description: str = ""


@attrs.frozen
class Proposal:
    """What a proposer returns: the whole proposed script, plus the structured edit when the
    proposer has one (a free-form proposer, such as a language model, may send only a script)."""

    script: str
    edit: Edit | None = None
    proposer: str = ""
    # Set by a proposer that learns per proposal; the loop copies it into the record, so that
    # learn() matches a result to its proposal whatever order results arrive in.
    id: str = ""
    # The config files the proposal rewrites (name relative to the script's folder -> new text):
    # arrl.script.apply_edit's Program.files. Only files in the observation's ``files`` may be
    # rewritten, and only the values of knobs in them (arrl.script.configs.judge).
    files: dict[str, str] = attrs.Factory(dict)


@attrs.frozen
class ValidationIssue:
    message: str
    line: int | None = None
    validator: str = ""

    def __str__(self) -> str:
        where = f"line {self.line}: " if self.line else ""
        who = f"[{self.validator}] " if self.validator else ""
        return f"{who}{where}{self.message}"


@attrs.frozen
class ValidationResult:
    issues: tuple[ValidationIssue, ...] = ()

    @property
    def accepted(self) -> bool:
        return not self.issues

    def __str__(self) -> str:
        return "; ".join(str(i) for i in self.issues) or "accepted"


@attrs.frozen
class RunResult:
    """What a runner reports about one execution."""

    outcome: Outcome
    exit_code: int | None
    wall_clock_seconds: float
    metrics: tuple[MetricPoint, ...] = ()
    failure_reason: str = ""
    stdout_path: str = ""
    stderr_path: str = ""
    details: dict[str, str] = attrs.Factory(dict)  # engine facts, e.g. an image digest


@attrs.frozen
class HistoryEntry:
    """One slot of the observation's experiment history (the design document's fields)."""

    config_hash: str
    val_loss: float
    wall_clock_seconds: float
    early_stopped: bool
    program_hash: str = ""
    outcome: Outcome = Outcome.OK
    # Orders a shared window when results of concurrent workers arrive out of order.
    experiment_id: int | None = None


@attrs.frozen
class Observation:
    """What a proposer sees: the current best script, its config, and the recent history."""

    script: str
    config: dict[str, Value]
    history: tuple[HistoryEntry, ...] = attrs.field(
        default=(), validator=attrs.validators.max_len(HISTORY_WINDOW)
    )
    best_value: float | None = None
    direction: Direction = Direction.MINIMIZE
    # The fields a proposer may change (in range, rewritable), and restricted categorical
    # choices; None means every field of ``config`` with the schema's choices.
    editable: tuple[str, ...] | None = None
    choices: dict[str, tuple[Value, ...]] = attrs.Factory(dict)
    # The run's domains (design fields grown around the baseline, overrides, declared knobs;
    # see arrl.script.space). None: the design document's fields as they are. Pass it to
    # arrl.script.actions and arrl.script.apply_values; arrl.script.observation encodes its knobs.
    space: Space | None = None
    # The standard deviation of the unmodified script's metric over seeds (arrl.run.noise); an
    # improvement under twice it is noise. None until measured.
    noise_floor: float | None = None
    # Config hashes of every program this run has run or is running now. The loop refuses a
    # program the run already ran, anywhere in it, while ``history`` holds only the last 32:
    # a proposer that avoids these never wastes an experiment on a duplicate.
    tried: frozenset[str] = frozenset()
    # What the baseline run showed of the script (arrl.trace): pass it to arrl.script.apply_values
    # so an edit rewrites what is live (the main group's lr, not every lr). None: not traced yet.
    facts: Facts | None = None
    # The config files the script reads (Hydra's composition, the JSON, TOML or YAML files it loads),
    # as this version has them, by name relative to the script's folder: arrl.script.edit_observed
    # passes them to apply_edit. Empty for a script without any.
    files: dict[str, str] = attrs.Factory(dict)


@attrs.define
class ExperimentRecord:
    """Everything known about one experiment. Append-only once written to the journal."""

    id: int
    parent_id: int | None
    outcome: Outcome
    config: dict[str, Value]
    config_hash: str
    program_hash: str
    metric_name: str
    direction: Direction
    value: float  # inf (minimize) or -inf (maximize) when there is no usable result
    wall_clock_seconds: float = 0.0
    commit: str = ""
    ref: str = ""
    diff_parent: str = ""
    diff_baseline: str = ""
    failure_reason: str = ""
    exit_code: int | None = None
    curve: list[MetricPoint] = attrs.Factory(list)
    reward: float | None = None
    kept: bool = False  # became the new last good version
    proposer: str = ""
    edit: Edit | None = None
    stdout_path: str = ""
    stderr_path: str = ""
    started_at: str = ""
    finished_at: str = ""
    details: dict[str, str] = attrs.Factory(dict)
    proposal_id: str = ""  # the Proposal.id this experiment ran
    seed: int | None = None  # ARRL_SEED of its run (None in records older than the field)
    # Better than the best by less than 2 sigma of the noise floor (arrl.run.noise): luck, not skill.
    within_noise: bool = False

    def history_entry(self) -> HistoryEntry:
        return HistoryEntry(
            config_hash=self.config_hash,
            val_loss=self.value,
            wall_clock_seconds=self.wall_clock_seconds,
            early_stopped=self.outcome is Outcome.EARLY_STOPPED,
            program_hash=self.program_hash,
            outcome=self.outcome,
            experiment_id=self.id,
        )


def _make_converter() -> cattrs.Converter:
    converter = cattrs.Converter()
    # JSON has no inf/nan; failed experiments carry inf, so floats travel as text when needed.
    def float_to_json(value: float) -> float | str:
        return value if math.isfinite(value) else repr(value)

    converter.register_unstructure_hook(float, float_to_json)
    converter.register_structure_hook(float, lambda value, _: float(value))
    # Schema values keep the JSON type they were written with (3 stays int, 3.0 float).
    converter.register_structure_hook(Value, lambda value, _: value)
    return converter


converter = _make_converter()


def to_json(obj: Any) -> str:
    return json.dumps(converter.unstructure(obj), sort_keys=True)


def from_json(text: str | bytes, cls: type) -> Any:
    return converter.structure(json.loads(text), cls)


def from_dict(data: Mapping[str, Any], cls: type) -> Any:
    return converter.structure(data, cls)
