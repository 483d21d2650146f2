"""`arrl report` on a recorded run: a self-contained HTML page naming every experiment, and PNG
plots whose axes name the metric and its direction."""

from __future__ import annotations

import html
import re
from pathlib import Path

import support
from support import make_repo, records, run_arrl, run_dir, skip_or_fail

# Reports bits per byte, not val_loss: the labels must come from the run, not a default.
TOY_SCRIPT = support.TOY_SCRIPT.replace("val_loss", "val_bpb")

TOY_CONFIG = support.TOY_CONFIG.replace('script = "train.py"\n', 'script = "train.py"\nmetric = "val_bpb"\n')

METRIC_PLOTS = ("best_so_far", "curves", "quality_vs_time", "edits")


def test_report_names_every_experiment_and_labels_the_metric(tmp_path: Path, arrl_env) -> None:
    try:
        import matplotlib  # noqa: F401  (the report extra; scripts/test.sh installs it)
        from PIL import Image
    except ImportError:
        skip_or_fail("arrl report needs the report extra: pip install -e '.[report]'")

    repo = make_repo(tmp_path / "project", {"train.py": TOY_SCRIPT}, TOY_CONFIG)
    assert run_arrl("run", "--max-experiments", "10", cwd=repo, env=arrl_env).returncode == 0
    recs = records(repo)
    assert any(r["outcome"] == "failed" for r in recs) and any(r["kept"] and r["id"] for r in recs)

    out = tmp_path / "report"
    result = run_arrl("report", "-O", str(out), cwd=repo, env=arrl_env)
    assert result.returncode == 0, result.output
    page = (out / "report.html").read_text()

    # Every experiment has its row, with what it tried; failures are marked as such.
    for rec in recs:
        row = re.search(rf"<tr class='([^']*)' id='experiment-{rec['id']}'>(.*?)</tr>", page, re.S)
        assert row, f"experiment {rec['id']} is missing"
        classes, cells = row.groups()
        assert f"<td class='outcome'>{rec['outcome']}</td>" in cells
        if rec["edit"]:
            assert html.escape(rec["edit"]["description"]) in cells
        assert ("failure" in classes) == (rec["outcome"] in ("failed", "timed_out", "rejected"))

    # The best script's diff against the baseline, and the baseline's value.
    best = min((r for r in recs if r["outcome"] == "ok"), key=lambda r: float(r["value"]))
    assert best["id"] != 0
    for line in best["diff_baseline"].splitlines():
        if line.startswith(("+", "-")) and not line.startswith(("+++", "---")):
            assert html.escape(line) in page
    # The baseline is the mean of the unmodified script's runs, not its first draw.
    runs = [float(r["value"]) for r in recs if r["proposer"] == "baseline" and r["outcome"] == "ok"]
    assert f"<th>baseline</th><td>{sum(runs) / len(runs):.4g}" in page

    # Self-contained: every plot is inside the page, nothing is fetched from elsewhere.
    assert page.count('src="data:image/png;base64,') == 5
    assert not re.search(r"""(src|href)=["']?(https?:|//|[\w./-]+\.(png|css|js))""", page)

    # Each PNG exists, and the axes that show the metric name it and its direction.
    for name in ("best_so_far", "curves", "quality_vs_time", "outcomes", "edits"):
        path = out / f"{name}.png"
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        image = Image.open(path)
        assert image.size[0] > 400 and image.size[1] > 200
        axes = image.text["Description"]
        if name in METRIC_PLOTS:
            assert "val_bpb" in axes and "val_loss" not in axes
            assert "lower" in axes
    assert "(lower is better)" in Image.open(out / "best_so_far.png").text["Description"].split("y: ")[1]

    # Without -O the report goes to the run's own folder.
    assert run_arrl("report", cwd=repo, env=arrl_env).returncode == 0
    assert (run_dir(repo) / "report" / "report.html").is_file()


def test_curves_show_where_runs_differ_and_an_empty_plot_says_so(tmp_path: Path) -> None:
    """Losses falling from 2.2 to 0.08-0.15 (the digits example): a log axis that shows the
    ends apart; and with no edit to compare, a sentence instead of empty 0-1 axes."""
    try:
        from PIL import Image
    except ImportError:
        skip_or_fail("arrl report needs the report extra: pip install -e '.[report]'")
    from arrl.journal import RunDirectory
    from arrl.records import Direction, ExperimentRecord, MetricPoint, Outcome
    from arrl.results.report import write_report
    from arrl.results.tables import RunResults

    run = RunDirectory.create(tmp_path / "runs", {"metric": "val_loss", "direction": "minimize"}, tmp_path)
    for k, end in enumerate((0.15, 0.11, 0.08)):
        curve = [MetricPoint("val_loss", end + 2.1 * 0.5 ** step, step=step, elapsed=float(step)) for step in range(30)]
        run.append(ExperimentRecord(
            id=k, parent_id=None, outcome=Outcome.OK, config={}, config_hash=str(k), program_hash=str(k),
            metric_name="val_loss", direction=Direction.MINIMIZE, value=curve[-1].value, curve=curve,
            proposer="baseline"))
    report = write_report(RunResults.load(run), tmp_path / "report")
    described = Image.open(report.plots["curves"]).text["Description"]
    low, high = (float(x) for x in re.search(r"\(([\d.e-]+) to ([\d.e-]+)\)$", described).groups())
    assert 0.07 < low < 0.08 and high < 0.3, described  # the ends (after the first fifth), not the start's 2.2
    assert Image.open(report.plots["edits"]).text["Description"] == (
        "no axes: No edit has a result to compare with its parent's yet.")
