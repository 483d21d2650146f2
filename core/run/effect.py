"""Edits that changed nothing, and the knobs they show to be inert.

An experiment that ran to its end with exactly its parent's curve -- every step and value of the
run's metric as the script printed them, and the same final value -- under the same seed and the
same thread count changed nothing the script measures: a knob the script reads and never uses,
the body of a function it never calls. Its outcome is ``no_effect``: never kept, never the best,
never what ``arrl apply best`` suggests (a fastai-style script once had an edit of an unused
``def SGD`` reported as its best, at exactly its parent's value). It is not a failure: the run
neither pauses for it nor counts it towards ``failure_limit``.

What is compared, and why no more:

- the run's metric only: other metrics printed beside it (throughput, seconds) differ between two
  runs of the very same program;
- runs that ended (``ok``) only: an early-stopped curve is a prefix, and a prefix equal to the
  parent's proves little (a loss printed before the first step is the same for every edit);
- at the printed precision: the values are parsed from the script's ``arrl:`` lines, so a script
  printing 2 digits compares at 2 digits;
- the seed and the thread count must match, and both records must say what they were (records
  of older journals do not say their thread count, so they are never judged).

A knob becomes inert for the run once edits that changed only it had no effect both ways: moves up
and down for a number, the other value for a boolean, two other choices for a categorical one.
An inert knob is not offered to the proposer again (``Observation.editable``), and a configuration
that differs from one the run ran only in inert knobs is a duplicate, not run. Other evidence (a
trace of the baseline showing a value unused) marks a knob inert with ``RunState.mark_inert``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING

from arrl.records import ExperimentRecord, Outcome
from arrl.schema import SchemaError, Value

if TYPE_CHECKING:
    from .state import RunState
    from .workbench import Workbench

THREADS = "threads"  # record.details: the thread count it ran with (arrl.run.resources.threads_used)

# Outcomes of programs that ran: what a configuration differing only in inert knobs repeats. A
# rejected one never ran (its inert knob may have been what the validator refused).
_RAN = (Outcome.OK, Outcome.NO_EFFECT, Outcome.EARLY_STOPPED, Outcome.FAILED, Outcome.TIMED_OUT)
_MISSING = object()


def no_effect_reason(record: ExperimentRecord, parent: ExperimentRecord | None) -> str:
    """Why ``record`` changed nothing its parent measured ("" when it did, or cannot be told)."""
    if parent is None or record.outcome is not Outcome.OK or parent.outcome is not Outcome.OK:
        return ""
    if not record.curve or record.seed != parent.seed or record.value != parent.value:
        return ""
    threads = record.details.get(THREADS)
    if threads is None or threads != parent.details.get(THREADS):
        return ""
    if [(p.step, p.value) for p in record.curve] != [(p.step, p.value) for p in parent.curve]:
        return ""
    points = f"{len(record.curve)} {record.metric_name} value{'s' if len(record.curve) != 1 else ''}"
    return (f"the same {points} as experiment {parent.id}, its parent (seed {record.seed}, {threads} thread"
            f"{'s' if threads != '1' else ''}): the edit changed nothing this script measures")


def changed_knob(record: ExperimentRecord, parent: ExperimentRecord) -> tuple[str, str] | None:
    """The one knob ``record``'s configuration changed from its parent's, and the way it moved:
    "up" or "down" for a number, else the new value; None when it changed none or several."""
    keys = record.config.keys() | parent.config.keys()
    changed = [k for k in keys if record.config.get(k, _MISSING) != parent.config.get(k, _MISSING)]
    if len(changed) != 1 or changed[0] not in record.config or changed[0] not in parent.config:
        return None
    name = changed[0]
    new, old = record.config[name], parent.config[name]
    if _number(new) and _number(old):
        return name, "up" if new > old else "down"  # type: ignore[operator]
    return name, repr(new)


def _number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def inert_reason(ways: Mapping[str, Sequence[int]]) -> str:
    """Why a knob whose no-effect moves went ``ways`` (way -> experiment ids) is inert ("" when
    they do not show it yet)."""
    if "up" in ways and "down" in ways:
        return f"moves up and down had no effect ({_experiments([*ways['up'], *ways['down']])})"
    flips = [w for w in ways if w in ("True", "False")]
    if flips:  # a boolean has one other value: both have now run with the same curve
        return f"switching it to {flips[0]} had no effect ({_experiments(ways[flips[0]])})"
    choices = [w for w in ways if w not in ("up", "down")]
    if len(choices) >= 2:
        ids = [i for w in choices for i in ways[w]]
        return f"{' and '.join(choices[:2])} had no effect ({_experiments(ids)})"
    return ""


def _experiments(ids: Sequence[int]) -> str:
    ordered = sorted(set(ids))
    return f"experiment{'s' if len(ordered) > 1 else ''} {', '.join(map(str, ordered))}"


def inert_twins(records: Sequence[ExperimentRecord], inert: Mapping[str, str],
                config: Mapping[str, Value]) -> Iterator[tuple[ExperimentRecord, dict[str, Value]]]:
    """Records that ran ``config`` but for inert knobs, latest first, with their values of those."""
    for record in reversed(records):
        if record.outcome not in _RAN or not record.config:
            continue
        keys = record.config.keys() | config.keys()
        differ = {k for k in keys if record.config.get(k, _MISSING) != config.get(k, _MISSING)}
        if differ and differ <= inert.keys() and differ <= record.config.keys() and differ <= config.keys():
            yield record, {k: record.config[k] for k in sorted(differ)}


def inert_duplicate(bench: Workbench, state: RunState, record: ExperimentRecord, script: str,
                    files: Mapping[str, str] | None = None) -> str:
    """Why ``script`` (the program of ``record``, not yet run, with its config ``files``) repeats
    one the run ran, differing from it only in inert knobs ("" when it does not). The
    configurations match; the programs must as well, once the inert knobs are set back: a
    proposal may change code besides."""
    from arrl.script.reader import ScriptError, apply_edit, program_hash  # libcst: only when needed

    inert = state.inert
    if not inert:
        return ""
    context = bench.context
    directory = (context.repo_root / context.script_path).parent
    for twin, values in inert_twins(state.records, inert, record.config):
        try:
            rewritten = apply_edit(script, values, context.script_path, context.field_map, bench.space, directory,
                                   files=files or None, args=context.args)
        except (ScriptError, SchemaError):
            continue
        if program_hash(rewritten.script, {**(files or {}), **rewritten.files} or None) == twin.program_hash:
            said = "; ".join(f"{name}: {inert[name]}" for name in values)
            return f"the same program as experiment {twin.id} but for {', '.join(values)}, inert in this run: {said}"
    return ""
