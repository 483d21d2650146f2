"""The baseline trace: what the unmodified script's first run showed of where its values reach
training (optimizers and their parameter groups, modules as built, the loss, the loaders and the
batch, gradient accumulation, autocast, clipping, the scheduler, ``torch.compile``), each with the
workspace lines that built it. ``tracer.py`` beside this file records it in the experiment's own
interpreter (a stand-alone file: the runner's python needs no arrl); this module starts it and
reads what it wrote. Joining the trace to the script's knobs is :mod:`arrl.trace.join`.
"""

from __future__ import annotations

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
    reader's input for what is live (:mod:`arrl.script.reading.live`)."""

    optimizers: tuple[Optimizer, ...] = ()
    micro_batch: int | None = None  # the first training input's leading size (the micro-batch)
    accumulation: int | None = None  # backward calls per step of the main optimizer
    # A coverage probe ran to the script's end, or past the main optimizer's first steps:
    # ``entered`` and ``ran`` say what ran by then.
    covered: bool = False
    complete: bool = False  # ... and it ran to the script's own end
    entered: frozenset[int] = frozenset()  # first lines of the functions the probe saw called
    ran: frozenset[int] = frozenset()  # lines that ran
    # First lines of the functions that ran once training had begun (the first forward with
    # gradients on); None when the probe never got there.
    training: frozenset[int] | None = None
    settled: bool = False  # the main optimizer stepped a few times before the trace was written
    sequence: int | None = None  # tokens per sample, when the first input is a batch of token ids

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
    """The facts about ``script`` (a path relative to the workspace root) in a trace and probe."""
    def lines(record: dict[str, Any]) -> tuple[int, ...]:
        return tuple(int(line) for path, line, *_ in record.get("at", []) if path == script)
    optimizers = tuple(
        Optimizer(str(r.get("class", "")), lines(r),
                  tuple((int(g.get("parameters", 0)), _number(g.get("lr"))) for g in r.get("groups", [])),
                  int(r.get("steps", 0)))
        for r in trace["records"] if r.get("kind") == "optimizer")
    first = next((r for r in trace["records"] if r.get("kind") == "first_input" and r.get("shapes")
                  and r["shapes"][0]), None)
    micro = int(first["shapes"][0][0]) if first else None
    tokens = int(first["shapes"][0][1]) if first and len(first["shapes"][0]) == 2 \
        and "int" in "".join(first.get("dtypes", [])[:1]) else None
    found = Facts(optimizers, micro, None, settled=bool(trace.get("settled")), sequence=tokens)
    main = found.main
    accumulation = next((int(r["accumulation"]) for r in trace["records"] if r.get("kind") == "optimizer"
                         and main is not None and lines(r) == main.lines and "accumulation" in r), None)
    coverage = (probe or {}).get("coverage")
    # A probe cut before training was under way has not yet called what training calls.
    if not coverage or not (probe or {}).get("complete") and not (probe or {}).get("settled"):
        return attrs.evolve(found, accumulation=accumulation)
    return attrs.evolve(found, accumulation=accumulation, covered=True, complete=bool(probe and probe.get("complete")),
                        entered=frozenset(int(line) for path, line in coverage.get("entered", []) if path == script),
                        ran=frozenset(int(n) for n in coverage.get("lines", {}).get(script, [])),
                        training=frozenset(int(line) for path, line in coverage.get("training", []) if path == script)
                        if coverage.get("training_began") else None)


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def read_kept(folder: Path, script: str) -> Facts | None:
    """The facts a run kept in ``folder`` (None before its baseline was traced)."""
    if not (folder / KEPT_TRACE).exists():
        return None
    trace = load(folder / KEPT_TRACE)
    probe = load(folder / KEPT_PROBE) if (folder / KEPT_PROBE).exists() else None
    return facts(trace, script, probe)
