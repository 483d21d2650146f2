"""``arrl report``: one self-contained HTML file and PNG plots of what a run tried and found.

Plots (each also embedded in the HTML, so the file travels alone):

    best_so_far.png       every experiment's result and the best so far, failures marked
    curves.png            every run's metric curve over its seconds
    quality_vs_time.png   the best so far against the run's wall-clock time
    outcomes.png          outcomes by kind of edit
    edits.png             which edits helped: change of the metric against the parent, per field

Every axis that shows the metric names it and its direction; the baseline is drawn on each.
matplotlib is imported only here (the ``report`` extra), with the Agg backend: no display needed.
"""

from __future__ import annotations

import base64
import collections
import datetime
import html
import math
from pathlib import Path
from typing import Any

import attrs

from arrl.errors import ArrlError
from arrl.records import Direction, ExperimentRecord, Outcome
from arrl.run.noise import NOISE_SIGMAS

from .best import best_records
from .tables import RunResults, describe, format_value, one_line_diff

PLOTS: tuple[str, ...] = ("best_so_far", "curves", "quality_vs_time", "outcomes", "edits")

_COLORS = {
    Outcome.OK: "#1f77b4", Outcome.EARLY_STOPPED: "#ff7f0e", Outcome.FAILED: "#d62728",
    Outcome.TIMED_OUT: "#8c564b", Outcome.REJECTED: "#9467bd", Outcome.DUPLICATE: "#7f7f7f",
    Outcome.INTERRUPTED: "#bcbd22", Outcome.NO_EFFECT: "#17becf",
}


class ReportError(ArrlError):
    """The report cannot be made (no matplotlib, an empty run, an unwritable folder)."""


@attrs.frozen
class Report:
    html: Path
    plots: dict[str, Path]


def _pyplot() -> Any:
    try:
        import matplotlib
    except ImportError:
        raise ReportError("arrl report draws with matplotlib, which is not installed: "
                          "pip install 'arrl[report]'") from None
    matplotlib.use("Agg")  # files only: works without a display, in CI and over ssh
    import matplotlib.pyplot as pyplot

    return pyplot


def metric_label(results: RunResults) -> str:
    metric, direction = _metric(results)
    return f"{metric} ({'lower' if direction is Direction.MINIMIZE else 'higher'} is better)"


def _metric(results: RunResults) -> tuple[str, Direction]:
    settings = results.meta.settings
    first = results.records[0] if results.records else None
    metric = str(settings.get("metric") or (first.metric_name if first else "metric"))
    direction = Direction(settings.get("direction") or (first.direction.value if first else "minimize"))
    return metric, direction


def edit_kind(record: ExperimentRecord) -> str:
    """What kind of edit an experiment was: the fields it changed, or baseline / free-form."""
    if record.proposer == "baseline":
        return "baseline"
    if record.edit is not None and record.edit.changes:
        return "+".join(sorted(record.edit.changes))
    return "free-form edit"


def improvements(results: RunResults) -> dict[str, list[float]]:
    """Per changed field: how much each successful experiment changing it beat its parent
    (positive is better whatever the direction), in noise floors where the floor is measured
    (a gain under NOISE_SIGMAS of them is noise), else in the metric's units."""
    floor = results.baseline_summary.floor or 1.0
    _, direction = _metric(results)
    sign = 1.0 if direction is Direction.MINIMIZE else -1.0
    by_field: dict[str, list[float]] = collections.defaultdict(list)
    for record in results.records:
        parent = results.parent(record)
        # A no-effect edit is a gain of exactly 0: what the field is worth in this script.
        if (record.edit is None or parent is None or record.outcome not in (Outcome.OK, Outcome.NO_EFFECT)
                or not math.isfinite(parent.value)):
            continue
        for field in record.edit.changes:
            by_field[field].append(sign * (parent.value - record.value) / floor)
    return dict(by_field)


def _save(plt: Any, figure: Any, axes: Any, path: Path) -> None:
    """Save as PNG with the title and axis labels also in the file's text chunks, so what a
    plot claims to show can be read without looking at it."""
    figure.tight_layout()
    scale = ", log scale" if axes.get_yscale() == "log" else ""
    low, high = axes.get_ylim()
    described = (f"x: {axes.get_xlabel()}; y: {axes.get_ylabel()} ({low:.3g} to {high:.3g}{scale})" if axes.axison
                 else f"no axes: {' '.join(t.get_text() for t in axes.texts)}")
    figure.savefig(path, dpi=110, metadata={
        "Title": axes.get_title(), "Description": described, "Software": "arrl report"})
    plt.close(figure)


def _best_so_far(results: RunResults) -> list[float | None]:
    return [None if best is None else best.value for best in best_records(results.records)]


def _finite_values(records: list[ExperimentRecord]) -> list[float]:
    return [r.value for r in records if math.isfinite(r.value)]


def _baseline_line(axes: Any, results: RunResults, orientation: str = "h") -> None:
    """The baseline's mean, and the band a result must leave to be more than noise (the
    noise margin: NOISE_SIGMAS noise floors each way)."""
    summary = results.baseline_summary
    if summary.mean is None:
        return
    axes.axhline(summary.mean, color="black", linestyle="--", linewidth=1,
                 label=f"baseline mean ({summary.mean:.4g}, {summary.runs} runs)")
    if summary.floor:
        margin = NOISE_SIGMAS * summary.floor
        axes.axhspan(summary.mean - margin, summary.mean + margin, color="grey", alpha=0.15,
                     label=f"within the noise (± {NOISE_SIGMAS:g} × floor {summary.floor:.2g})")


def _failure_marks(axes: Any, xs: list[float], records: list[ExperimentRecord]) -> None:
    """Failures have no value: mark them on the top edge of the plot, red crosses."""
    failed = [(x, r) for x, r in zip(xs, records) if not math.isfinite(r.value)]
    if not failed:
        return
    top = axes.get_ylim()[1]
    axes.scatter([x for x, _ in failed], [top] * len(failed), marker="x", color="#d62728",
                 clip_on=False, zorder=5, label=f"failed / not run ({len(failed)})")


def _plot_best_so_far(plt: Any, results: RunResults, label: str, path: Path) -> None:
    _, direction = _metric(results)
    records = results.records
    figure, axes = plt.subplots(figsize=(8, 4.5))
    for outcome in Outcome:
        mine = [r for r in records if r.outcome is outcome and math.isfinite(r.value) and r.proposer != "baseline"]
        if mine:
            axes.scatter([r.id for r in mine], [r.value for r in mine], color=_COLORS[outcome], s=22,
                         label=outcome.value, zorder=3)
    repeats = [r for r in records if r.proposer == "baseline" and math.isfinite(r.value)]
    if repeats:
        axes.scatter([r.id for r in repeats], [r.value for r in repeats], color="black", marker="D", s=26,
                     label="runs of the unmodified script", zorder=4)
    best = _best_so_far(results)
    steps = [(r.id, b) for r, b in zip(records, best) if b is not None]
    if steps:
        axes.step([x for x, _ in steps], [y for _, y in steps], where="post", color="green", linewidth=2,
                  label="best so far")
    _baseline_line(axes, results)
    _failure_marks(axes, [float(r.id) for r in records], records)
    axes.set_xlabel("experiment")
    axes.xaxis.get_major_locator().set_params(integer=True)
    axes.set_ylabel(label)
    axes.set_title("Every result and the best so far")
    axes.legend(fontsize=8, loc="best")
    _save(plt, figure, axes, path)


def _plot_curves(plt: Any, results: RunResults, label: str, path: Path) -> None:
    best = results.best
    baseline = results.baseline
    figure, axes = plt.subplots(figsize=(8, 4.5))
    drawn_failure = False
    for record in results.records:
        points = [p for p in record.curve if math.isfinite(p.value)]
        if not points:
            continue
        xs, ys = [p.elapsed for p in points], [p.value for p in points]
        if baseline is not None and record.id == baseline.id:
            axes.plot(xs, ys, color="black", linewidth=2.2, label=f"baseline (#{record.id})", zorder=4)
        elif best is not None and record.id == best.id:
            axes.plot(xs, ys, color="green", linewidth=2.2, label=f"best (#{record.id})", zorder=4)
        elif record.outcome.is_failure:
            axes.plot(xs, ys, color="#d62728", linestyle="--", linewidth=1,
                      label=None if drawn_failure else "failed", alpha=0.8)
            axes.scatter([xs[-1]], [ys[-1]], marker="x", color="#d62728", zorder=5)
            drawn_failure = True
        else:
            axes.plot(xs, ys, color=_COLORS[record.outcome], linewidth=0.8, alpha=0.5)
    axes.set_xlabel("seconds since the experiment started")
    axes.set_ylabel(label)
    _focus_on_the_ends(axes, results.records)
    _baseline_line(axes, results)
    axes.set_title("Every run's curve (orange: stopped early)")
    if axes.get_legend_handles_labels()[0]:
        axes.legend(fontsize=8, loc="best")
    _save(plt, figure, axes, path)


def _focus_on_the_ends(axes: Any, records: list[ExperimentRecord]) -> None:
    """A loss falls fast, then slowly: drawn whole on a linear axis its first seconds take the
    height and the ends, where runs differ, are one flat line (digits: 0-2.2 for results of
    0.08-0.15). The axis spans the curves after their first fifth, on a log scale when that
    still covers more than a factor of 5."""
    values = [p.value for r in records for p in r.curve if math.isfinite(p.value)]
    later = [p.value for r in records for p in r.curve[len(r.curve) // 5:] if math.isfinite(p.value)]
    if not later:
        return
    low, top = min(values), max(later)
    if low > 0 and top / low > 5:
        from matplotlib.ticker import FormatStrFormatter

        axes.set_yscale("log")
        for axis in (axes.yaxis.set_major_formatter, axes.yaxis.set_minor_formatter):
            axis(FormatStrFormatter("%g"))  # 0.08, 0.1, 0.2 rather than 10^-1 alone
        axes.set_ylim(low * 0.9, top * 1.1)
    elif top > low:
        margin = 0.05 * (top - low)
        axes.set_ylim(low - margin, top + margin)


def _when(text: str) -> float | None:
    try:
        return datetime.datetime.fromisoformat(text).timestamp()
    except ValueError:
        return None


def _plot_quality_vs_time(plt: Any, results: RunResults, label: str, path: Path) -> None:
    _, direction = _metric(results)
    records = results.records
    start = next((t for t in (_when(r.started_at) for r in records) if t is not None), None)
    hours: list[float] = []
    elapsed = 0.0
    for record in records:
        finished = _when(record.finished_at)
        if start is not None and finished is not None:
            hours.append((finished - start) / 3600)
        else:  # no timestamps: the experiments' own seconds, back to back
            elapsed += record.wall_clock_seconds
            hours.append(elapsed / 3600)
    unit = "hours"
    if hours and max(hours) < 2:  # a short run reads better in minutes
        hours, unit = [h * 60 for h in hours], "minutes"
    figure, axes = plt.subplots(figsize=(8, 4.5))
    best = _best_so_far(results)
    steps = [(h, b) for h, b in zip(hours, best) if b is not None]
    if steps:
        axes.step([h for h, _ in steps], [b for _, b in steps], where="post", color="green", linewidth=2,
                  label="best so far")
    finite = [(h, r) for h, r in zip(hours, records) if math.isfinite(r.value)]
    axes.scatter([h for h, _ in finite], [r.value for _, r in finite], s=16,
                 color=[_COLORS[r.outcome] for _, r in finite], zorder=3, label="experiments")
    _baseline_line(axes, results)
    _failure_marks(axes, hours, records)
    axes.set_xlabel(f"wall-clock {unit} since the run started")
    axes.set_ylabel(label)
    axes.set_title("Quality against wall-clock time")
    axes.legend(fontsize=8, loc="best")
    _save(plt, figure, axes, path)


def _plot_outcomes(plt: Any, results: RunResults, path: Path) -> None:
    counts: dict[str, collections.Counter[Outcome]] = collections.defaultdict(collections.Counter)
    for record in results.records:
        counts[edit_kind(record)][record.outcome] += 1
    kinds = sorted(counts, key=lambda k: (-sum(counts[k].values()), k))[:20]
    figure, axes = plt.subplots(figsize=(8, max(3.0, 0.35 * len(kinds) + 1.5)))
    left = [0] * len(kinds)
    for outcome in Outcome:
        widths = [counts[k][outcome] for k in kinds]
        if any(widths):
            axes.barh(kinds, widths, left=left, color=_COLORS[outcome], label=outcome.value)
            left = [a + b for a, b in zip(left, widths)]
    axes.set_xlabel("experiments")
    axes.xaxis.get_major_locator().set_params(integer=True)
    axes.set_ylabel("kind of edit (fields changed)")
    axes.set_title("Outcomes by kind of edit")
    axes.invert_yaxis()
    axes.legend(fontsize=8, loc="best")
    _save(plt, figure, axes, path)


def _plot_edits(plt: Any, results: RunResults, path: Path) -> None:
    metric, direction = _metric(results)
    by_field = improvements(results)
    fields = sorted(by_field, key=lambda f: -sum(by_field[f]) / len(by_field[f]))
    figure, axes = plt.subplots(figsize=(8, max(3.0, 0.35 * len(fields) + 1.5)))
    floored = results.baseline_summary.floor is not None and results.baseline_summary.floor > 0
    if fields:
        means = [sum(by_field[f]) / len(by_field[f]) for f in fields]
        noise = NOISE_SIGMAS if floored else 0.0
        axes.barh(fields, means, color=["green" if m > noise else "#d62728" if m < -noise else "grey" for m in means])
        if floored:  # the band a gain must leave to be more than noise
            axes.axvspan(-NOISE_SIGMAS, NOISE_SIGMAS, color="grey", alpha=0.15,
                         label=f"within the noise (± {NOISE_SIGMAS:g} floors)")
            axes.legend(fontsize=8, loc="lower right")
        for y, field in enumerate(fields):
            helped = sum(1 for d in by_field[field] if d > 0)
            axes.annotate(f" {helped}/{len(by_field[field])} helped", (0, y), fontsize=8, va="center")
        axes.invert_yaxis()
    else:
        # Empty axes from 0 to 1 would read as a result; the sentence is the whole picture.
        axes.text(0.5, 0.5, "No edit has a result to compare with its parent's yet.", ha="center",
                  va="center", fontsize=12, transform=axes.transAxes)
        axes.set_axis_off()
        axes.set_title("Which edits helped")
        _save(plt, figure, axes, path)
        return
    axes.axvline(0, color="black", linewidth=0.8)
    better = "lower" if direction is Direction.MINIMIZE else "higher"
    unit = "noise floors of the baseline" if floored else metric
    axes.set_xlabel(f"mean gain over the parent, in {unit} ({better} {metric} counts as positive)")
    axes.set_ylabel("field changed")
    axes.set_title("Which edits helped")
    _save(plt, figure, axes, path)


def write_report(results: RunResults, folder: Path) -> Report:
    """Draw the plots into ``folder`` and write ``folder/report.html``."""
    if not results.records:
        raise ReportError(f"run {results.run_id} has no experiments yet; nothing to report")
    plt = _pyplot()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ReportError(f"cannot create {folder}: {error.strerror or error}") from None
    label = metric_label(results)
    plots = {name: folder / f"{name}.png" for name in PLOTS}
    _plot_best_so_far(plt, results, label, plots["best_so_far"])
    _plot_curves(plt, results, label, plots["curves"])
    _plot_quality_vs_time(plt, results, label, plots["quality_vs_time"])
    _plot_outcomes(plt, results, plots["outcomes"])
    _plot_edits(plt, results, plots["edits"])
    page = folder / "report.html"
    page.write_text(_html(results, plots))
    return Report(html=page, plots=plots)


# --- the page --------------------------------------------------------------------------------

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 2em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; font-size: 0.85em; width: 100%; }
th, td { text-align: left; padding: 3px 8px; border-bottom: 1px solid #eee; vertical-align: top; }
tr.best { background: #e6f4e6; font-weight: bold; } tr.failure td.outcome { color: #c00; }
tr.kept td.kept { color: #070; } img { max-width: 100%; } .grid { display: grid;
grid-template-columns: 1fr 1fr; gap: 1em; } pre { background: #f7f7f7; padding: 1em; overflow-x: auto; }
.add { color: #070; } .del { color: #c00; } .hunk { color: #06c; } .dim { color: #777; }
"""


def _image(path: Path, alt: str) -> str:
    data = base64.b64encode(path.read_bytes()).decode()
    return f'<figure><img src="data:image/png;base64,{data}" alt="{html.escape(alt)}"></figure>'


def _diff_html(diff: str) -> str:
    lines = []
    for line in diff.splitlines():
        css = ("add" if line.startswith("+") and not line.startswith("+++") else
               "del" if line.startswith("-") and not line.startswith("---") else
               "hunk" if line.startswith("@@") else "")
        escaped = html.escape(line)
        lines.append(f'<span class="{css}">{escaped}</span>' if css else escaped)
    return "<pre>" + "\n".join(lines) + "</pre>"


def _html(results: RunResults, plots: dict[str, Path]) -> str:
    metric, direction = _metric(results)
    e = html.escape
    best, summary = results.best, results.baseline_summary
    counts = collections.Counter(r.outcome.value for r in results.records)
    facts = [
        ("run", results.run_id), ("script", str(results.meta.settings.get("script", ""))),
        ("status", results.meta.status.value + (f": {results.meta.status_reason}" if results.meta.status_reason else "")),
        ("metric", f"{metric} ({direction.value})"),
        ("experiments", f"{len(results.records)} ({', '.join(f'{n} {k}' for k, n in counts.most_common())})"),
        ("baseline", summary.text() + " (the mean of the unmodified script's runs ± their noise floor)"),
        ("best", f"{format_value(best.value)} from experiment {best.id}: {describe(best)}" if best is not None else "-"),
    ]
    if best is not None and best.proposer != "baseline" and summary.mean:
        change = summary.gain(best.value, direction)
        assert change is not None
        facts.append(("change from the baseline",
                      f"{change / abs(summary.mean) * 100:+.2f}% of the mean: {summary.gain_text(best.value, direction)}"))
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>arrl report {e(results.run_id)}</title>",
             f"<style>{_STYLE}</style></head><body>",
             f"<h1>arrl report: run {e(results.run_id)}</h1><table>"]
    parts += [f"<tr><th>{e(k)}</th><td>{e(v)}</td></tr>" for k, v in facts]
    parts.append("</table><h2>Progress</h2><div class='grid'>")
    parts.append(_image(plots["best_so_far"], "every result and the best so far"))
    parts.append(_image(plots["quality_vs_time"], "quality against wall-clock time"))
    parts.append("</div><h2>Every run's curve</h2>")
    parts.append(_image(plots["curves"], "every run's curve"))
    parts.append("<h2>What was tried, and what helped</h2><div class='grid'>")
    parts.append(_image(plots["outcomes"], "outcomes by kind of edit"))
    parts.append(_image(plots["edits"], "which edits helped"))
    parts.append("</div>")
    by_field = improvements(results)
    if by_field:
        unit = "noise floors" if results.baseline_summary.floor else e(metric)
        parts.append("<table><tr><th>field</th><th>tried (successful)</th><th>beat its parent</th>"
                     f"<th>mean gain, in {unit}</th></tr>")
        for field in sorted(by_field, key=lambda f: -sum(by_field[f]) / len(by_field[f])):
            gains = by_field[field]
            parts.append(f"<tr><td>{e(field)}</td><td>{len(gains)}</td><td>{sum(1 for g in gains if g > 0)}</td>"
                         f"<td>{sum(gains) / len(gains):+.6g}</td></tr>")
        parts.append("</table>")
    parts.append("<h2>All experiments</h2><table><tr><th>id</th><th>parent</th><th>outcome</th>"
                 f"<th>{e(metric)}</th><th>seconds</th><th>reward</th><th>kept</th><th>edit</th>"
                 "<th>change</th><th>failure</th></tr>")
    for r in results.records:
        classes = " ".join(c for c in ("best" if best is not None and r.id == best.id else "",
                                       "failure" if r.outcome.is_failure else "", "kept" if r.kept else "") if c)
        parts.append(
            f"<tr class='{classes}' id='experiment-{r.id}'><td>{r.id}</td>"
            f"<td>{'' if r.parent_id is None else r.parent_id}</td><td class='outcome'>{e(r.outcome.value)}</td>"
            f"<td>{e(format_value(r.value))}</td><td>{r.wall_clock_seconds:.1f}</td>"
            f"<td>{'' if r.reward is None else f'{r.reward:+.3f}'}</td><td class='kept'>{'yes' if r.kept else ''}</td>"
            f"<td>{e(describe(r))}</td><td class='dim'>{e(one_line_diff(r.diff_parent, 80))}</td>"
            f"<td>{e(r.failure_reason.splitlines()[0][:200] if r.failure_reason else '')}</td></tr>")
    parts.append("</table><h2>The best script against the baseline</h2>")
    if best is None:
        parts.append("<p>No experiment succeeded.</p>")
    elif best.proposer == "baseline" or not best.diff_baseline:
        parts.append("<p>The unmodified script is still the best: no edit beat it.</p>")
    else:
        parts.append(f"<p>Experiment {best.id} ({e(best.ref or best.commit)}); "
                     "<code>arrl apply best</code> commits it on your branch.</p>")
        parts.append(_diff_html(best.diff_baseline))
    parts.append(f"<p class='dim'>Made by arrl from {e(str(results.run.journal))}.</p></body></html>\n")
    return "\n".join(parts)
