"""What the baseline showed is live: the first run of the unmodified script runs under arrl's
tracer (:mod:`arrl.trace`), then a coverage probe runs the same tree once, capped at that run's
own time, so probes never cost more than one baseline. Both are kept in the run directory
(``trace.json``, ``probe.json``); from them the run reads the script again (the main group's
learning rate, the batch rather than the micro-batch, inert code out) and rebuilds its space.
A resumed run reads both back (:meth:`arrl.run.workbench.Workbench.open`) instead of probing again.

The probe runs while experiment 0 is still being concluded, before any proposal (with
``--workers`` too: proposing waits for it).
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

MIN_PROBE_SECONDS = 5.0  # a baseline of a second still gets a probe that can start torch


def keep_trace(bench: Workbench, record: ExperimentRecord, output_dir: Path) -> dict[str, Any] | None:
    """Move the baseline's trace out of its output (it is arrl's, not an artifact) into the run."""
    written = output_dir / TRACE_FILE
    try:
        trace = load(written)
    except TraceError as error:
        bench.note(f"experiment {record.id}: no baseline trace ({error}); the script is read without one")
        return None
    os.replace(written, bench.run_dir.path / KEPT_TRACE)
    return trace


def run_probe(runner: Any, request: Any, folder: Path, budget: float,
              abort: threading.Event) -> tuple[dict[str, Any] | None, Any]:
    """``request`` once more under the tracer with coverage, writing only into ``folder``: the
    trace it wrote (``complete`` only for a run that ended by itself) and the runner's result."""
    output = folder / "output"
    probe_request = attrs.evolve(request, trace="coverage", budget_seconds=budget, output_dir=output, log_dir=folder,
                                 experiment_id=-1, env={**request.env, "ARRL_OUTPUT_DIR": str(output),
                                                        "ARRL_EXPERIMENT_ID": "-1"})
    folder.mkdir(parents=True, exist_ok=True)
    result = runner.run(probe_request, RunToEnd(abort))
    try:
        written = load(output / TRACE_FILE)
    except TraceError:
        return None, result
    written["complete"] = bool(written.get("complete")) and result.outcome is Outcome.OK
    return written, result


def probe(bench: Workbench, record: ExperimentRecord, lane: Lane, request: Any) -> dict[str, Any] | None:
    """The coverage probe of a run: the baseline's commit checked out again (the baseline may
    have left files in it, a checkpoint to resume from), capped at the baseline's time. An
    interrupted probe is not kept: a resumed run probes again."""
    cap = max(MIN_PROBE_SECONDS, record.wall_clock_seconds)
    lane.rollback.restore(record.commit)
    started = time.monotonic()
    written, result = run_probe(lane.runner, request, bench.run_dir.path / "probe", cap, bench.abort)
    if bench.abort.is_set() or result.outcome is Outcome.INTERRUPTED:
        return None
    if written is None:
        bench.note(f"coverage probe: no trace ({result.outcome.value}); inert code is not looked for")
        return None
    (bench.run_dir.path / KEPT_PROBE).write_text(json.dumps(written))
    ran = "ran to the end" if written["complete"] else \
        f"stopped at its cap of {cap:.1f}s ({result.outcome.value}): inert code is not looked for"
    bench.note(f"coverage probe: {time.monotonic() - started:.1f}s, {ran}; not an experiment")
    return written


def learn(bench: Workbench, record: ExperimentRecord, lane: Lane, request: Any) -> None:
    """After the traced baseline: keep its trace, probe, and read the script with both."""
    trace = keep_trace(bench, record, request.output_dir)
    if trace is None or record.outcome is not Outcome.OK or bench.abort.is_set():
        return
    shown = probe(bench, record, lane, request)
    try:
        found = facts(trace, bench.context.script_path, shown)
    except TraceError as error:
        bench.note(f"the baseline trace is not used: {error}")
        return
    adopt(bench, found)


def adopt(bench: Workbench, found: Facts) -> None:
    bench.use_facts(found)
    bench.note(describe(found, bench))


def describe(found: Facts, bench: Workbench) -> str:
    """One line for run.log: what the trace changed in the reading."""
    parts = []
    main = found.main
    if main is not None:
        rate = main.groups[0][1] if main.groups else None
        parts.append(f"{len(found.optimizers)} optimizer(s), the main one {main.name} "
                     f"({main.parameters} parameters{f', lr {rate:g}' if rate is not None else ''})")
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
        path = repo_root / script
        request = RunRequest(run_id="inspect", experiment_id=-1, script=path, workspace=repo_root,
                             workdir=path.parent, output_dir=Path(scratch), log_dir=Path(scratch),
                             budget_seconds=budget, seed=seed, args=args, env={**env, "ARRL_SEED": str(seed)})
        return run_probe(runner, request, Path(scratch) / "probe", budget, threading.Event())
