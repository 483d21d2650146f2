"""The baseline trace: what the unmodified script's first run showed of where its values reach
training (optimizers and their parameter groups, modules as built, the loss, the loaders and the
batch, gradient accumulation, autocast, clipping, the scheduler, ``torch.compile``), each with the
workspace lines that built it. ``tracer.py`` beside this file records it in the experiment's own
interpreter (a stand-alone file: the runner's python needs no arrl); this module starts it and
reads what it wrote. Joining the trace to the script's knobs is :mod:`arrl.script.reading.live`.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs

TRACER = Path(__file__).with_name("tracer.py")
TRACE_FILE = "arrl-trace.json"  # written by the tracer into the experiment's output directory
# Where a sandbox or a container shows the tracer (bound read-only; it is not in their tree).
MOUNTED_TRACER = "/arrl/tracer.py"
MODES = ("", "trace", "coverage")  # RunRequest.trace: none, the baseline trace, a coverage probe


def script_command(python: str, script: str, args: Sequence[str], mode: str, *, output_dir: str,
                   root: str, tracer: str = str(TRACER)) -> list[str]:
    """The command that runs ``script`` with its ``args``: plainly, or under the tracer (paths as
    the process sees them: a container's or a sandbox's)."""
    if mode not in MODES:
        raise ValueError(f"trace mode {mode!r}: one of {', '.join(map(repr, MODES))}")
    if not mode:
        return [python, script, *args]
    return [python, tracer, "--out", f"{output_dir.rstrip('/')}/{TRACE_FILE}", "--root", root,
            *(["--coverage"] if mode == "coverage" else []), "--", script, *args]


KEPT_TRACE, KEPT_PROBE = "trace.json", "probe.json"  # in a run's folder (arrl.run.liveness)
# A knob the trace names (another optimizer's rate: ``embed_optimizer(lr=)``): before the baseline
# has run, the reading cannot know it yet.
TRACE_NAMED_KNOB = re.compile(r"\((lr|weight_decay)=\)(@\d+)?$")


class TraceError(Exception):
    """The trace file is missing or unreadable (the run still counts; only the advice is lost)."""


def load(path: Path) -> dict[str, Any]:
    """The trace the tracer wrote at ``path``."""
    try:
        if path.stat().st_size > MAX_TRACE_BYTES:
            raise TraceError(f"{path} is over {MAX_TRACE_BYTES >> 20} MB: not a trace")
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise TraceError(f"no trace at {path}: the script ended before the tracer wrote one") from None
    except (OSError, ValueError) as error:
        raise TraceError(f"unreadable trace {path}: {error}") from None
    if not isinstance(data, dict) or not isinstance(data.get("records"), list):
        raise TraceError(f"{path} is not a trace (no records)")
    return data


@attrs.frozen
class Optimizer:
    """An optimizer the baseline built: its class, where, its groups (parameters, lr), steps."""

    name: str
    lines: tuple[int, ...]  # lines of the script on the stack that built it, innermost first
    groups: tuple[tuple[int, float | None], ...]  # (parameter count, lr) per parameter group
    steps: int

    @property
    def parameters(self) -> int:
        return sum(count for count, _ in self.groups)


@attrs.frozen
class Facts:
    """What the trace (and a coverage probe, when one ran) says about one script file: the
    reader's input for what is live (:mod:`arrl.script.reading.live`). Line numbers are the
    baseline's; :func:`moved` carries them over to an edited script."""

    optimizers: tuple[Optimizer, ...] = ()
    micro_batch: int | None = None  # the first training input's leading size (the micro-batch)
    accumulation: int | None = None  # backward passes per step of the main optimizer
    # The coverage probe ran to the script's own end, trained in its own process (its main
    # optimizer stepped there), so ``entered`` holds every function the run called there.
    covered: bool = False
    entered: frozenset[int] = frozenset()  # first lines of the functions the probe saw called
    # First lines of the functions that ran once training had begun (the first forward with
    # gradients on); None when the probe never got there.
    training: frozenset[int] | None = None
    settled: bool = False  # the main optimizer stepped a few times before the trace was written
    complete: bool = False  # the baseline trace was written at the script's end: step counts are final
    sequence: int | None = None  # tokens per sample, when the first input is a batch of token ids
    # Functions seen building something (named in a record's stack): called, whatever the probe saw.
    called: frozenset[str] = frozenset()
    compiled: bool = False  # torch.compile ran: compiled code calls functions without their frames
    workers: bool = False  # a DataLoader had worker processes, where the probe does not look

    @property
    def main(self) -> Optimizer | None:
        """The stepped optimizer with the most parameters: the schema's learning rate is its."""
        stepped = [o for o in self.optimizers if o.steps]
        return max(stepped, key=lambda o: o.parameters, default=None)

    @property
    def batch(self) -> int | None:
        if self.micro_batch is None:
            return None
        return self.micro_batch * (self.accumulation or 1)


def facts(trace: dict[str, Any], script: str, probe: dict[str, Any] | None = None) -> Facts:
    """The facts about ``script`` (a path relative to the workspace root) in a trace and probe.
    A trace is written by the experiment's own process: anything malformed is a TraceError."""
    try:
        return _facts(trace, script, probe)
    except (KeyError, IndexError, TypeError, ValueError, OverflowError, AttributeError) as error:
        raise TraceError(f"a malformed trace: {type(error).__name__}: {error}") from None


def _facts(trace: dict[str, Any], script: str, probe: dict[str, Any] | None) -> Facts:
    records = [r for r in trace["records"] if isinstance(r, dict)]

    def lines(record: dict[str, Any]) -> tuple[int, ...]:
        return tuple(int(frame[1]) for frame in record.get("at", []) if frame[0] == script)
    optimizers = []
    accumulation: dict[int, int] = {}
    for r in (r for r in records if r.get("kind") == "optimizer"):
        groups = tuple((int(g.get("parameters", 0)), _number(g.get("lr"))) for g in r.get("groups", []))
        optimizers.append(Optimizer(str(r.get("class", "")), lines(r), groups, int(r.get("steps", 0))))
        if "accumulation" in r:
            accumulation[len(optimizers) - 1] = int(r["accumulation"])
    first = next((r for r in records if r.get("kind") == "first_input" and r.get("shapes") and r["shapes"][0]), None)
    shape = [int(n) for n in first["shapes"][0]] if first else []
    tokens = shape[1] if len(shape) == 2 and "int" in str((first or {}).get("dtypes", [""])[:1]) else None
    found = Facts(tuple(optimizers), shape[0] if shape else None, None, settled=bool(trace.get("settled")),
                  complete=bool(trace.get("complete")), sequence=tokens,
                  called=frozenset(str(frame[2]) for r in records for frame in r.get("at", [])
                                   if frame[0] == script and len(frame) > 2),
                  compiled=any(r.get("kind") == "compile" for r in records),
                  workers=any(r.get("kind") == "loader" and (r.get("num_workers") or 0) > 0 for r in records))
    main = found.main
    found = attrs.evolve(found, accumulation=accumulation.get(optimizers.index(main)) if main else None)
    return _with_coverage(found, script, probe) if probe else found


def _with_coverage(found: Facts, script: str, probe: dict[str, Any]) -> Facts:
    """What the probe saw called, trusted only from a probe that ran to its end and trained in
    its own process: one cut short has not yet called what comes later (an annealing phase), and
    one whose training ran in other processes (``mp.spawn``) saw none of it."""
    coverage = probe.get("coverage")
    trained = any(r.get("kind") == "optimizer" and r.get("steps") for r in probe.get("records", [])
                  if isinstance(r, dict))
    if not coverage or not probe.get("complete") or not trained:
        return found
    return attrs.evolve(
        found, covered=True,
        entered=frozenset(int(line) for path, line in coverage.get("entered", []) if path == script),
        training=frozenset(int(line) for path, line in coverage.get("training", []) if path == script)
        if coverage.get("training_began") else None)


def moved(found: Facts, before: str, after: str) -> Facts:
    """``found``, about the script ``before``, carried over to ``after`` (an edited version): each
    line number follows its line, and a fact about a line the edit rewrote is dropped."""
    if before == after:
        return found
    matcher = difflib.SequenceMatcher(a=before.splitlines(), b=after.splitlines(), autojunk=False)
    where: dict[int, int] = {}
    for block in matcher.get_matching_blocks():
        for offset in range(block.size):
            where[block.a + offset + 1] = block.b + offset + 1

    def carried(numbers: frozenset[int] | None) -> frozenset[int] | None:
        return None if numbers is None else frozenset(where[n] for n in numbers if n in where)
    optimizers = tuple(attrs.evolve(o, lines=tuple(where[n] for n in o.lines if n in where)) for o in found.optimizers)
    return attrs.evolve(found, optimizers=optimizers, entered=carried(found.entered) or frozenset(),
                        training=carried(found.training))


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def read_kept(folder: Path, script: str) -> Facts | None:
    """The facts a run kept in ``folder`` (None before its baseline was traced)."""
    if not (folder / KEPT_TRACE).exists():
        return None
    trace = load(folder / KEPT_TRACE)
    probe = load(folder / KEPT_PROBE) if (folder / KEPT_PROBE).exists() else None
    return facts(trace, script, probe)


MAX_TRACE_BYTES = 16 << 20  # a trace is a few KB; a bigger one is not the tracer's
