"""What the baseline showed is live: the first run of the unmodified script runs under arrl's
tracer (:mod:`arrl.trace`), then a coverage probe runs the same tree once, capped at that run's
own time, so probes never cost more than one baseline. Both are kept in the run directory
(``trace.json``, ``probe.json``); from them the run reads the script again (the main group's
learning rate, the batch rather than the micro-batch, inert code out) and rebuilds its space.
A resumed run reads both back (:meth:`arrl.run.workbench.Workbench.open`) instead of probing again.

With ``--workers``, proposals made while the probe still runs use the reading without it.
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from typing import Any

import attrs

from arrl.records import ExperimentRecord, Outcome
from arrl.trace import KEPT_PROBE, KEPT_TRACE, TRACE_FILE, Facts, TraceError, facts, load

from .lanes import Lane
from .monitors import RunToEnd
from .workbench import Workbench

TRACE, PROBE = KEPT_TRACE, KEPT_PROBE
MIN_PROBE_SECONDS = 5.0  # a baseline of a second still gets a probe that can start torch


def keep_trace(bench: Workbench, record: ExperimentRecord, output_dir: Path) -> dict[str, Any] | None:
    """Move the baseline's trace out of its output (it is arrl's, not an artifact) into the run."""
    written = output_dir / TRACE_FILE
    try:
        trace = load(written)
    except TraceError as error:
        bench.note(f"experiment {record.id}: no baseline trace ({error}); the script is read without one")
        return None
    os.replace(written, bench.run_dir.path / TRACE)
    return trace


def probe(bench: Workbench, record: ExperimentRecord, lane: Lane, request: Any) -> dict[str, Any] | None:
    """The coverage probe: the baseline's tree once more, not an experiment, capped at the
    baseline's time. Returns what it wrote, with ``complete`` only for a run that ended by itself."""
    cap = max(MIN_PROBE_SECONDS, record.wall_clock_seconds)
    folder = bench.run_dir.path / "probe"
    folder.mkdir(parents=True, exist_ok=True)
    probe_request = attrs.evolve(request, trace="coverage", budget_seconds=cap, output_dir=folder / "output",
                                 log_dir=folder, experiment_id=-1)
    started = time.monotonic()
    result = lane.runner.run(probe_request, RunToEnd(bench.abort))
    try:
        written = load(probe_request.output_dir / TRACE_FILE)
    except TraceError as error:
        bench.note(f"coverage probe: {error} ({result.outcome.value}); inert code is not looked for")
        return None
    written["complete"] = bool(written.get("complete")) and result.outcome is Outcome.OK
    (bench.run_dir.path / PROBE).write_text(json.dumps(written))
    ran = "ran to the end" if written["complete"] else f"stopped at its cap of {cap:.1f}s ({result.outcome.value})"
    bench.note(f"coverage probe: {time.monotonic() - started:.1f}s, {ran}; not an experiment")
    return written


def learn(bench: Workbench, record: ExperimentRecord, lane: Lane, request: Any) -> None:
    """After the traced baseline: keep its trace, probe, and read the script with both."""
    trace = keep_trace(bench, record, request.output_dir)
    if trace is None or record.outcome is not Outcome.OK or bench.abort.is_set():
        return
    shown = probe(bench, record, lane, request)
    adopt(bench, facts(trace, bench.context.script_path, shown))


def adopt(bench: Workbench, found: Facts) -> None:
    bench.use_facts(found)
    bench.note(describe(found, bench))


def describe(found: Facts, bench: Workbench) -> str:
    """One line for run.log: what the trace changed in the reading."""
    parts = []
    main = found.main
    if main is not None:
        parts.append(f"{len(found.optimizers)} optimizer(s), the main one {main.name} "
                     f"({main.parameters} parameters, lr {main.groups[0][1]:g})")
    if found.micro_batch is not None:
        accumulated = f" x {found.accumulation} accumulated" if (found.accumulation or 1) > 1 else ""
        parts.append(f"batch {found.micro_batch}{accumulated}")
    inert = bench.extract(bench.baseline_script).inert
    if inert:
        parts.append("inert: " + "; ".join(f"line {site.line} {site.note.removeprefix('inert: ')}"
                                            for site in list(inert.values())[:4]))
    return "baseline trace: " + (", ".join(parts) if parts else "no optimizer seen")


def probe_tree(runner: Any, repo_root: Path, script: str, args: tuple[str, ...], budget: float, seed: int,
               env: dict[str, str]) -> tuple[dict[str, Any] | None, Any]:
    """``arrl inspect --trace``: the script as it is on disk, under the tracer with coverage,
    through the configured runner; returns the trace (None when none was written) and the result."""
    import tempfile

    from arrl.roles import RunRequest

    with tempfile.TemporaryDirectory(prefix="arrl-probe-") as scratch:
        folder = Path(scratch)
        path = repo_root / script
        request = RunRequest(run_id="inspect", experiment_id=-1, script=path, workspace=repo_root,
                             workdir=path.parent, output_dir=folder / "output", log_dir=folder,
                             budget_seconds=budget, seed=seed, trace="coverage", args=args,
                             env={**env, "ARRL_OUTPUT_DIR": str(folder / "output"), "ARRL_SEED": str(seed)})
        result = runner.run(request, RunToEnd(threading.Event()))
        try:
            written = load(request.output_dir / TRACE_FILE)
        except TraceError:
            return None, result
    written["complete"] = bool(written.get("complete")) and result.outcome is Outcome.OK
    return written, result
