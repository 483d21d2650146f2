"""The run's state as its journal says it: the last good version, the best result and its curve,
the noise floor, the counts of failures, duplicates and stalls that pause or end a run, and the
knobs the run has found inert.

Derived from the journal on start and folded forward one record at a time as experiments
conclude, so a run killed at any moment continues from exactly what it had recorded. The
experiments proposed and not yet concluded are kept beside it: a worker pool proposes against
the same state while other experiments run.
"""

from __future__ import annotations

import attrs

from arrl.records import ExperimentRecord, Outcome
from arrl.results.best import becomes_best

from .effect import changed_knob, inert_reason
from .evaluation import DISAGREEMENT
from .noise import BASELINE, noise_floor


@attrs.define
class RunState:
    """What the loop derives from the journal."""

    records: list[ExperimentRecord]
    last_good_id: int | None = None
    last_good_commit: str = ""
    best: float | None = None
    best_curve: list[float] = attrs.Factory(list)  # the best run's metric values, in order
    consecutive_failures: int = 0
    consecutive_duplicates: int = 0  # proposals of programs this run already ran, in a row
    running: dict[int, str] = attrs.Factory(dict)  # experiment id -> config hash, proposed, not concluded
    # Runs of the unmodified script proposed and not concluded: experiment id -> seed. With
    # several workers the noise-floor repeats run side by side, each with a seed of its own.
    running_baselines: dict[int, int] = attrs.Factory(dict)
    noise_floor: float | None = None  # arrl.run.noise: the metric's spread over baseline seeds
    # Experiments since the best last moved by more than the noise margin (`plateau`): proposals
    # of every outcome count, the unmodified script's repeats and interrupted ones do not.
    stalled: int = 0
    # Knobs that cannot move the result in this run -> why (arrl.run.effect): never proposed again,
    # and a configuration differing from a run one only in them is a duplicate. Derived from the
    # journal's no-effect records; other evidence adds to it with mark_inert.
    inert: dict[str, str] = attrs.Factory(dict)
    # The evidence so far: knob -> way it moved ("up", "down", or the new value) -> experiment ids
    # of no-effect edits that changed only it.
    no_effect_moves: dict[str, dict[str, list[int]]] = attrs.Factory(dict)

    @classmethod
    def derive(cls, records: list[ExperimentRecord], reset_failures: bool) -> RunState:
        """The state after ``records``, the journal of a run."""
        state = cls(records=records)
        for record in records:
            if record.kept:
                state.last_good_id, state.last_good_commit = record.id, record.commit
            state.count(record)
        if reset_failures:
            # A paused run continues after a fix: its plateau restarts too, or failures that
            # paused it would end it before it ran anything.
            state.consecutive_failures = state.consecutive_duplicates = state.stalled = 0
        return state

    def count(self, record: ExperimentRecord) -> None:
        """Fold one record into the best result, the noise floor and the consecutive-failure count."""
        improved = becomes_best(record, self.best)
        if improved:
            self.best = record.value
            if DISAGREEMENT not in record.details:  # a curve its trusted value contradicts is no model
                self.best_curve = [p.value for p in record.curve]
        if improved and not record.within_noise:
            self.stalled = 0
        elif record.proposer != BASELINE and record.outcome is not Outcome.INTERRUPTED:
            self.stalled += 1
        if record.proposer == BASELINE:
            self.noise_floor = noise_floor(self.records)
        if record.outcome.is_failure:
            self.consecutive_failures += 1
        elif record.outcome not in (Outcome.DUPLICATE, Outcome.INTERRUPTED):
            self.consecutive_failures = 0
        if record.outcome is Outcome.DUPLICATE:
            self.consecutive_duplicates += 1
        elif record.outcome is not Outcome.INTERRUPTED:
            self.consecutive_duplicates = 0
        if record.outcome is Outcome.NO_EFFECT:
            self._fold_no_effect(record)

    def _fold_no_effect(self, record: ExperimentRecord) -> None:
        """Its knob's evidence of having no effect; the knob inert once the evidence shows it."""
        parent = self.find(record.parent_id)
        move = changed_knob(record, parent) if parent is not None else None
        if move is None:
            return
        name, way = move
        ways = self.no_effect_moves.setdefault(name, {})
        ways.setdefault(way, []).append(record.id)
        reason = inert_reason(ways)
        if reason:
            self.mark_inert(name, reason)

    def mark_inert(self, name: str, reason: str) -> bool:
        """Mark knob ``name`` inert for the rest of the run, for ``reason``; False when it already was
        (the first reason stands)."""
        if name in self.inert:
            return False
        self.inert[name] = reason
        return True

    def find(self, experiment_id: int | None) -> ExperimentRecord | None:
        """The recorded experiment ``experiment_id`` (None when there is none)."""
        if experiment_id is None:
            return None
        return next((r for r in reversed(self.records) if r.id == experiment_id), None)

    def next_id(self) -> int:
        """The id after the last recorded experiment's."""
        return max((r.id for r in self.records), default=-1) + 1

    def tried(self) -> frozenset[str]:
        """The config hashes this run has run (interrupted ones may run again) or is running."""
        return frozenset({r.config_hash for r in self.records if r.outcome is not Outcome.INTERRUPTED}
                         | set(self.running.values()))

    def free_repeat_seed(self, seed: int) -> int:
        """The first seed after the run's ``seed`` that no ended or running run of the unmodified
        script has used: each repeat measures the floor with a seed of its own, also when repeats
        run side by side on several workers or an interrupted one is run again."""
        used = {r.seed for r in self.records if r.proposer == BASELINE and r.outcome is not Outcome.INTERRUPTED}
        used |= set(self.running_baselines.values())
        candidate = seed + 1
        while candidate in used:
            candidate += 1
        return candidate
