"""What counts as a run's best result: one rule for the loop, `arrl best`, the history, the
report, the live display and the trackers, so that they never name different experiments.

The unmodified script's repeats ran with other seeds to measure the noise floor (arrl.run.noise);
proposals run with the first run's seed and are compared with it, like with like. A luckier
repeat is seed luck, not an improvement: it never becomes the best, and neither does an
improvement inside the noise when the run refuses those (`refuse_noise`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from arrl.records import ExperimentRecord, Outcome
from arrl.run.noise import BASELINE


def becomes_best(record: ExperimentRecord, best: float | None) -> bool:
    """Whether ``record`` replaces ``best`` (None: nothing succeeded yet) as the run's best."""
    if record.outcome is not Outcome.OK:
        return False
    if record.within_noise and not record.kept:
        # Better than the best by less than the noise and not kept: only a run that refuses
        # such gains (`refuse_noise`) leaves one unkept, so the record says so by itself.
        return False
    if record.proposer == BASELINE and best is not None:
        return False  # a repeat: the first successful run of the unmodified script is the reference
    return record.direction.better(record.value, best)


def best_records(records: Iterable[ExperimentRecord]) -> Iterator[ExperimentRecord | None]:
    """The best record after each of ``records``, in order (None until one succeeds)."""
    best: ExperimentRecord | None = None
    for record in records:
        if becomes_best(record, None if best is None else best.value):
            best = record
        yield best


def best_record(records: Iterable[ExperimentRecord]) -> ExperimentRecord | None:
    """The run's best record: the first to reach the best value (None when nothing succeeded)."""
    best: ExperimentRecord | None = None
    for best in best_records(records):  # noqa: B007 (the last one is the answer)
        pass
    return best
