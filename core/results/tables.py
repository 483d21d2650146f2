"""Reading what a run recorded: its experiments, the best one, and tables of them.

Everything here reads the journal (the source of truth) and nothing else, so it works on a run
that is still going, one that crashed, and one recorded by another machine. The commands
``show``, ``diff``, ``best``, ``runs``, ``history`` and ``export`` are thin layers over it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs

from arrl.errors import ArrlError
from arrl.journal import RunDirectory, RunMeta
from arrl.output import clip
from arrl.records import ExperimentRecord, Outcome, converter
from arrl.run.noise import Baseline, baseline_of, in_noise_units

from .best import best_record


class ResultsError(ArrlError):
    """A run or an experiment that the user named does not exist."""


def pick_run(runs_dir: Path, run_id: str | None) -> RunDirectory:
    """The run named ``run_id``, or the latest run with records; a clear error listing the runs
    otherwise."""
    runs = RunDirectory.all(runs_dir)
    if not runs:
        raise ResultsError(f"no runs in {runs_dir}; start one with `arrl run`")
    if run_id is None:
        # The latest run that recorded something: one that could not start (a syntax error,
        # a plugin that would not build) holds no answer to "what was best".
        recorded = [r for r in runs if r.recorded()]
        return (recorded or runs)[-1]
    matches = [r for r in runs if r.run_id == run_id] or [r for r in runs if r.run_id.startswith(run_id)]
    if len(matches) != 1:
        names = ", ".join(r.run_id for r in runs)
        what = "no run" if not matches else "more than one run matches"
        raise ResultsError(f"{what} {run_id!r} in {runs_dir}; runs: {names}")
    return matches[0]


@attrs.define
class RunResults:
    """One run's metadata and records, with the questions people ask of them."""

    run: RunDirectory
    meta: RunMeta
    records: list[ExperimentRecord]

    @classmethod
    def load(cls, run: RunDirectory) -> RunResults:
        return cls(run, run.load_meta(), run.records())

    @property
    def run_id(self) -> str:
        return self.meta.run_id

    @property
    def best(self) -> ExperimentRecord | None:
        """The first successful experiment with the best value, as the loop counts it
        (arrl.results.best: never a repeat of the unmodified script)."""
        return best_record(self.records)

    @property
    def baseline(self) -> ExperimentRecord | None:
        """The successful run of the unmodified script (else its first try)."""
        tries = [r for r in self.records if r.proposer == "baseline"]
        done = [r for r in tries if r.outcome is Outcome.OK]
        return (done or tries)[0] if tries else None

    @property
    def baseline_summary(self) -> Baseline:
        """What every screen shows as the baseline: the mean of the unmodified script's runs,
        their noise floor, and its first run (arrl.run.noise.Baseline)."""
        return baseline_of(self.records)

    @property
    def baseline_commit(self) -> str:
        baseline = self.baseline
        return baseline.commit if baseline is not None else ""

    def get(self, which: str | int) -> ExperimentRecord:
        """An experiment by id, or ``best``."""
        if isinstance(which, str) and which.strip().lower() == "best":
            best = self.best
            if best is None:
                raise ResultsError(f"run {self.run_id} has no successful experiment yet")
            return best
        try:
            wanted = int(which)
        except ValueError:
            raise ResultsError(f"expected an experiment id or 'best', got {which!r}") from None
        for record in self.records:
            if record.id == wanted:
                return record
        span = f"0 to {self.records[-1].id}" if self.records else "none yet"
        raise ResultsError(f"run {self.run_id} has no experiment {wanted} (experiments: {span})")

    def parent(self, record: ExperimentRecord) -> ExperimentRecord | None:
        if record.parent_id is None:
            return None
        return next((r for r in self.records if r.id == record.parent_id), None)

    def as_dict(self) -> dict[str, Any]:
        """The whole run as JSON-ready data: what ``history --json`` prints."""
        best = self.best
        return {
            "run_id": self.run_id,
            "status": self.meta.status.value,
            "status_reason": self.meta.status_reason,
            "created_at": self.meta.created_at,
            "metric": self.meta.settings.get("metric", ""),
            "direction": self.meta.settings.get("direction", ""),
            "best_id": None if best is None else best.id,
            "baseline_commit": self.baseline_commit,
            "baseline": baseline_dict(self.baseline_summary),
            "experiments": [record_dict(r, best) for r in self.records],
        }


def baseline_dict(baseline: Baseline) -> dict[str, Any]:
    return {"mean": baseline.mean, "noise_floor": baseline.floor, "runs": baseline.runs, "first": baseline.first}


def record_dict(record: ExperimentRecord, best: ExperimentRecord | None = None) -> dict[str, Any]:
    data: dict[str, Any] = converter.unstructure(record)
    # No usable result is no value: null, not the journal's "inf" (which sorts as a number).
    data["value"] = record.value if math.isfinite(record.value) else None
    data["best"] = best is not None and best.id == record.id
    data["status"] = status_word(record)
    return data


def status_word(record: ExperimentRecord) -> str:
    """autoresearch's results.tsv status: keep, discard or crash."""
    if record.kept:
        return "keep"
    if record.outcome in (Outcome.FAILED, Outcome.TIMED_OUT):
        return "crash"
    return "discard"


def describe(record: ExperimentRecord) -> str:
    """What the experiment tried, in a few words."""
    if record.edit is not None and record.edit.description:
        return record.edit.description
    if record.proposer == "baseline":
        # A run after the first measures the noise floor with another seed (arrl.run.noise).
        return "baseline" if record.parent_id is None else f"baseline again, seed {record.seed} (noise floor)"
    return one_line_diff(record.diff_parent) or record.proposer or "proposal"


def one_line_diff(diff: str, width: int = 100) -> str:
    """A unified diff squeezed onto one line: ``LEARNING_RATE = 0.01 → 0.005`` for a changed
    line (removed and added lines paired in order), ``-line`` / ``+line`` for the rest."""
    removed, added = [], []
    for line in diff.splitlines():
        if line.startswith(("+++", "---")):
            continue
        if line[:1] == "-":
            removed.append(" ".join(line[1:].split()))
        elif line[:1] == "+":
            added.append(" ".join(line[1:].split()))
    parts = [_changed(old, new) for old, new in zip(removed, added)]
    parts += [f"-{old}" for old in removed[len(added):]] + [f"+{new}" for new in added[len(removed):]]
    text = "; ".join(parts)
    return text if len(text) <= width else text[: width - 1] + "…"


def _changed(old: str, new: str) -> str:
    """``old`` and ``new`` as the part they share and what differs, trailing comments dropped."""
    old, new = old.split(" #")[0].rstrip(), new.split(" #")[0].rstrip()
    start = 0
    while start < min(len(old), len(new)) and old[start] == new[start]:
        start += 1
    while start > 0 and old[start - 1] not in " =(,[:":
        start -= 1  # whole tokens: 0.01 -> 0.005, not 0.0(1 -> 05)
    end = 0
    while end < min(len(old), len(new)) - start and old[-1 - end] == new[-1 - end]:
        end += 1
    while end > 0 and old[len(old) - end] not in " ),]:":
        end -= 1
    head, tail = old[:start], (old[len(old) - end:] if end else "")
    if len(head) > 30:  # a long call: keep the argument that changed
        cut = max(head.rstrip(" =(,[:").rfind(c) for c in " (,[")
        head, tail = "…" + head[cut + 1:], ""
    return f"{head}{old[start:len(old) - end]} → {new[start:len(new) - end]}{tail}"


def format_value(value: float) -> str:
    return f"{value:.6g}" if math.isfinite(value) else ""


# --- tables --------------------------------------------------------------------------------

HISTORY_HEADERS = ("ID", "PARENT", "OUTCOME", "METRIC", "VALUE", "SECONDS", "REWARD", "KEPT",
                   "BEST", "COMMIT", "WHAT")


def history_rows(results: RunResults) -> list[tuple[str, ...]]:
    best = results.best
    rows: list[tuple[str, ...]] = []
    for r in results.records:
        what = describe(r)
        if r.failure_reason:
            what = f"{what}: {clip(r.failure_reason, 160)}"
        rows.append((
            str(r.id), "" if r.parent_id is None else str(r.parent_id), r.outcome.value,
            r.metric_name, format_value(r.value) or "-",
            f"{r.wall_clock_seconds:.1f}", "" if r.reward is None else f"{r.reward:+.4f}",
            " ".join(m for m in ("yes" if r.kept else "", "noise" if r.within_noise else "") if m),
            "*" if best is not None and r.id == best.id else "",
            r.commit[:10], what,
        ))
    return rows


def export_table(results: RunResults) -> tuple[list[str], list[list[str]]]:
    """autoresearch's results.tsv columns first (commit, the metric, memory_gb, status,
    description), then what arrl knows beyond them. A column arrl did not measure stays blank."""
    metric = str(results.meta.settings.get("metric") or (results.records[0].metric_name if results.records else "metric"))
    headers = ["commit", metric, "memory_gb", "status", "description",
               "id", "parent", "outcome", "seconds", "reward", "kept", "best", "ref", "failure",
               "gain_over_baseline_mean", "gain_in_noise_floors"]
    best = results.best
    baseline = results.baseline_summary
    rows: list[list[str]] = []
    for r in results.records:
        memory = r.details.get("peak_memory_gb", "")
        gain = baseline.gain(r.value, r.direction)
        units = in_noise_units(gain, baseline.floor) if gain is not None else None
        rows.append([
            r.commit[:7], format_value(r.value), memory, status_word(r), describe(r),
            str(r.id), "" if r.parent_id is None else str(r.parent_id), r.outcome.value,
            f"{r.wall_clock_seconds:.1f}", "" if r.reward is None else f"{r.reward:.6g}",
            "true" if r.kept else "false", "true" if best is not None and best.id == r.id else "false",
            r.ref, r.failure_reason.splitlines()[0] if r.failure_reason else "",
            "" if gain is None else f"{gain:.6g}", "" if units is None or not math.isfinite(units) else f"{units:.3g}",
        ])
    return headers, rows


def run_summaries(runs_dir: Path) -> list[dict[str, Any]]:
    """One line of facts per run, oldest first: what ``arrl runs`` lists."""
    summaries = []
    for run in RunDirectory.all(runs_dir):
        results = RunResults.load(run)
        best = results.best
        baseline = results.baseline_summary
        summaries.append({
            "run_id": results.run_id,
            "created_at": results.meta.created_at,
            "status": results.meta.status.value,
            "status_reason": results.meta.status_reason,
            "script": results.meta.settings.get("script", ""),
            "metric": results.meta.settings.get("metric", ""),
            "experiments": len(results.records),
            "best_id": None if best is None else best.id,
            "best_value": None if best is None else best.value,
            # The mean of the unmodified script's runs, not its first draw; their spread beside it.
            "baseline_value": baseline.mean,
            "baseline_noise_floor": baseline.floor,
            "baseline_runs": baseline.runs,
        })
    return summaries


def _against_baseline(baseline: Baseline, record: ExperimentRecord) -> list[str]:
    lines = [f"  baseline   {baseline.text()}"]
    gain = baseline.gain_text(record.value, record.direction)
    if gain and record.proposer != "baseline":
        lines.append(f"  gain       {gain}")
    return lines


def show_lines(results: RunResults, record: ExperimentRecord) -> list[str]:
    """``arrl show``: every fact of one experiment, then its diff against its parent."""
    best = results.best
    tags = [t for t in ("kept" if record.kept else "", "best" if best is not None and best.id == record.id else "",
                        "noise" if record.within_noise else "") if t]
    lines = [
        f"experiment {record.id} of run {results.run_id}" + (f" ({', '.join(tags)})" if tags else ""),
        f"  outcome    {record.outcome.value}",
        f"  {record.metric_name:<10} {format_value(record.value) or '-'} ({record.direction.value})",
        *_against_baseline(results.baseline_summary, record),
        f"  seconds    {record.wall_clock_seconds:.1f}",
        f"  reward     {'-' if record.reward is None else f'{record.reward:+.4f}'}",
        f"  parent     {'-' if record.parent_id is None else record.parent_id}",
        f"  proposer   {record.proposer or '-'}",
        f"  edit       {describe(record)}",
        f"  commit     {record.commit or '- (never committed: it did not run)'}",
        f"  ref        {record.ref or '-'}",
    ]
    if record.failure_reason:
        # A duplicate or an edit with no effect says why, and is no failure.
        lines.append(f"  {'failure' if record.outcome.is_failure else 'why':<10} {record.failure_reason}")
    if record.stdout_path or record.stderr_path:
        lines.append(f"  logs       {record.stdout_path or '-'}  {record.stderr_path or '-'}")
    if record.curve:
        last = record.curve[-1]
        lines.append(f"  curve      {len(record.curve)} points, last at step {last.step} after {last.elapsed:.1f}s")
    lines.append("")
    lines.append(record.diff_parent.rstrip("\n") if record.diff_parent else "(no change from its parent)")
    return lines


def write_delimited(headers: Sequence[str], rows: Sequence[Sequence[str]], delimiter: str) -> str:
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\n",
                        quoting=csv.QUOTE_MINIMAL)
    writer.writerow(headers)
    writer.writerows(rows)
    return buffer.getvalue()
