"""The noise floor: how much the metric moves when nothing changes.

A run's metric moves from seed to seed. The unmodified script runs ``baseline_runs`` times, each
with its own seed, and the sample standard deviation of those results is the noise floor. An
improvement on the best smaller than ``NOISE_SIGMAS`` times the floor is indistinguishable from
luck: it is marked as noise in the record (and, with ``refuse_noise``, never becomes the best),
and keeping it would compound luck.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence

import attrs

from arrl.records import Direction, ExperimentRecord, Outcome

BASELINE = "baseline"  # the proposer name of every run of the unmodified script
NOISE_SIGMAS = 2.0


def baseline_runs_done(records: Sequence[ExperimentRecord]) -> int:
    """Runs of the unmodified script that ended (an interrupted one is run again)."""
    return sum(1 for r in records if r.proposer == BASELINE and r.outcome is not Outcome.INTERRUPTED)


def noise_floor(records: Sequence[ExperimentRecord]) -> float | None:
    """The sample standard deviation of the unmodified script's successful results; None with
    fewer than two."""
    values = [r.value for r in records if r.proposer == BASELINE and r.outcome is Outcome.OK]
    return statistics.stdev(values) if len(values) >= 2 else None


def within_noise(value: float, best: float | None, floor: float | None, direction: Direction) -> bool:
    """An improvement on ``best``, but by less than NOISE_SIGMAS noise floors."""
    if best is None or floor is None or not direction.better(value, best):
        return False
    return abs(value - best) < NOISE_SIGMAS * floor


def in_noise_units(difference: float, floor: float | None) -> float | None:
    """``difference`` as a multiple of the noise floor (None without a floor; inf for a
    non-zero difference over a floor of exactly 0)."""
    if floor is None:
        return None
    if floor == 0:
        return 0.0 if difference == 0 else float("inf") if difference > 0 else float("-inf")
    return difference / floor


def describe_floor(records: Sequence[ExperimentRecord], metric: str) -> str:
    """The line a person reads once the unmodified script's repeats have ended."""
    runs = [r for r in records if r.proposer == BASELINE and r.outcome is not Outcome.INTERRUPTED]
    seeds = ", ".join(str(r.seed) for r in runs if r.seed is not None)
    floor = noise_floor(records)
    if floor is None:
        return (f"noise floor: not measured ({sum(r.outcome is Outcome.OK for r in runs)} of {len(runs)} runs of "
                f"the unmodified script succeeded; it needs two)")
    line = (f"noise floor: {metric} moves by {floor:.4g} (standard deviation over {len(runs)} runs of the "
            f"unmodified script, seeds {seeds}); an improvement under {NOISE_SIGMAS:g}x that is marked noise")
    if floor == 0:
        line += ("; the result did not move at all: if the script seeds itself with a constant, seeding it from "
                 "ARRL_SEED measures the real spread")
    return line


@attrs.frozen
class Baseline:
    """The unmodified script's result as every screen shows it: the mean of its successful runs
    and their spread (the noise floor), with its first run (seed 0, the seed a proposal is
    matched with) beside it. One run of a noisy script is a draw, not a baseline: seed 0 of the
    digits example gave 0.59 where its repeats gave 0.875 and 0.86."""

    mean: float | None = None
    floor: float | None = None
    runs: int = 0  # successful runs of the unmodified script
    first: float | None = None  # the first run's value (its seed is the run's ARRL_SEED)

    def text(self) -> str:
        """``0.778 ± 0.16 (3 runs)``, or what is known so far."""
        if self.mean is None:
            return "-"
        if self.floor is None:
            return f"{self.mean:.4g} (one run; its noise floor is not measured yet)"
        return f"{self.mean:.4g} ± {self.floor:.2g} ({self.runs} runs; first {self.first:.4g})"

    def gain(self, value: float, direction: Direction) -> float | None:
        """How much better ``value`` is than the mean (positive is better, either direction)."""
        if self.mean is None or not math.isfinite(value):
            return None
        return (self.mean - value) if direction is Direction.MINIMIZE else (value - self.mean)

    def gain_text(self, value: float, direction: Direction) -> str:
        """``+0.12 over the baseline (4.1 noise floors)``, said as noise when it is."""
        gain = self.gain(value, direction)
        if gain is None:
            return ""
        said = f"{gain:+.4g} over the baseline's mean"
        units = in_noise_units(gain, self.floor)
        if units is None:
            return said + " (its noise floor is not measured)"
        if abs(units) < NOISE_SIGMAS:
            return said + f" ({units:+.2g} noise floors: within the noise)"
        return said + f" ({units:+.2g} noise floors)"


def baseline_of(records: Sequence[ExperimentRecord]) -> Baseline:
    values = [r.value for r in records if r.proposer == BASELINE and r.outcome is Outcome.OK and math.isfinite(r.value)]
    if not values:
        return Baseline()
    return Baseline(mean=statistics.fmean(values), floor=noise_floor(records), runs=len(values), first=values[0])
