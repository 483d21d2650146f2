"""No-effect edits (#26): an experiment with exactly its parent's curve, under the same seed and
thread count, is recorded as ``no_effect`` -- never kept, never the best -- and a knob whose moves
both ways had no effect becomes inert: not proposed again, and a configuration that differs from
one already run only in it is a duplicate. Real runs of a small script (no torch), in process,
with a proposer that proposes what the test says."""

from __future__ import annotations

import json
import re
import types
from collections.abc import Callable
from pathlib import Path

import attrs
import pytest

import arrl
from arrl.config import Settings
from arrl.journal import RunDirectory
from arrl.manager import Registry, make_plugin_manager
from arrl.records import from_json, to_json
from arrl.results.best import best_record
from arrl.run.components import build_components
from arrl.run.effect import THREADS, inert_reason, no_effect_reason
from arrl.run.loop import ExperimentLoop
from arrl.run.resources import threads_used
from arrl.run.state import RunState
from arrl.script import apply_values
from support import run_arrl

# DROPOUT is read and never used, and unused_schedule is never called: editing either changes the
# program and nothing it prints. LEARNING_RATE moves the curve.
SCRIPT = """
LEARNING_RATE = 0.01
DROPOUT = 0.1


def unused_schedule(step):
    return 1.0


loss = 2.0
for step in range(4):
    loss = loss * (1 - LEARNING_RATE * 10)
    print(f"arrl: step={step} val_loss={loss:.6f}")
"""

# A step of the plan: the schema values to set, or a rewrite of the whole script.
Step = dict[str, float] | Callable[[str], str]


class Planned(arrl.Proposer):
    """Proposes the plan's steps in order, off whatever script the loop shows it, and keeps the
    observations it was shown. It does not look at ``editable``: like a free-form proposer, it
    may propose an inert knob, which the loop must catch."""

    def __init__(self, plan: list[Step], context: arrl.PluginContext) -> None:
        self.plan = list(plan)
        self.context = context
        self.seen: list[arrl.Observation] = []

    def propose(self, observation: arrl.Observation) -> arrl.Proposal:
        self.seen.append(observation)
        step = self.plan.pop(0)
        if callable(step):
            return arrl.Proposal(step(observation.script), None, proposer="planned")
        edit = arrl.Edit(dict(step), ", ".join(f"{k} -> {v:g}" for k, v in step.items()))
        return arrl.Proposal(apply_values(observation.script, edit.changes, self.context.script_path), edit,
                             proposer="planned")


def _run(tmp_path: Path, plan: list[Step], kind: type[Planned] = Planned) -> tuple[list[arrl.ExperimentRecord], Planned,
                                                                                 Path]:
    """The baseline, then ``plan``; the journal, the proposer and the repository."""
    from support import make_repo

    proposers: list[Planned] = []

    def factory(options, context):
        proposers.append(kind(plan, context))
        return proposers[-1]

    manager = make_plugin_manager(entry_points=False)
    plugin = types.ModuleType("planned")
    plugin.arrl_proposers = arrl.hookimpl(  # type: ignore[attr-defined]
        lambda: [arrl.Registration(name="planned", factory=factory)], specname="arrl_proposers")
    manager.register(plugin, name="planned")
    repo = make_repo(tmp_path / "project", {"train.py": SCRIPT})
    config = Settings(script="train.py", budget=20, max_experiments=1 + len(plan), baseline_runs=1,
                      plugins={"proposer": "planned"})
    run = RunDirectory.create(repo / ".arrl", {"baseline_runs": 1}, repo)
    context = arrl.PluginContext(run.path, repo, "train.py", "val_loss", arrl.Direction.MINIMIZE, 20, 0)
    loop = ExperimentLoop(config, run, build_components(Registry(manager), config, context), manager, context,
                          report=lambda _: None)
    try:
        assert loop.run().exit_code == 0
    finally:
        loop.close()
    return run.records(), proposers[0], repo


def _dead_code_edit(script: str) -> str:
    changed = script.replace("    return 1.0", "    return 0.5 if step > 100 else 1.0")
    assert changed != script
    return changed


def test_an_identical_curve_is_no_effect_and_never_kept_or_best(tmp_path: Path) -> None:
    # An edit of a function never called, then an unused knob, then one that pays, then the dead
    # edit again off the new best: each no-effect result has its own parent's curve.
    recs, _, repo = _run(tmp_path, [_dead_code_edit, {"dropout_rate": 0.2}, {"learning_rate": 0.02}, _dead_code_edit])
    base, dead, unused, better, dead_again = recs
    assert base.outcome is arrl.Outcome.OK and base.details[THREADS]
    for record, parent in ((dead, base), (unused, base), (dead_again, better)):
        assert record.outcome is arrl.Outcome.NO_EFFECT, record
        assert record.parent_id == parent.id and record.value == parent.value and not record.kept
        assert f"the same 4 val_loss values as experiment {parent.id}" in record.failure_reason
        assert record.reward is not None and record.reward <= 0
    assert better.outcome is arrl.Outcome.OK and better.kept and better.value < base.value
    assert best_record(recs) is better
    # No screen calls one of them the best or suggests applying it; no failure was counted.
    best = run_arrl("best", "--json", cwd=repo)
    assert best.returncode == 0, best.output
    assert json.loads(best.stdout)["id"] == better.id
    history = run_arrl("history", cwd=repo)
    rows = {line.split()[0]: line for line in history.stdout.splitlines()[2:] if line.strip()}
    assert "no_effect" in rows["1"] and "*" not in rows["1"].split()
    assert "no_effect" in rows["4"] and "*" in rows["3"].split()
    shown = run_arrl("show", "1", cwd=repo).stdout
    assert "outcome    no_effect" in shown and "why        the same 4 val_loss values" in shown, shown
    log = next((repo / ".arrl").glob("*/run.log")).read_text()
    assert re.search(r"#1 no_effect val_loss=\S+ .*\(the same 4 val_loss values as experiment 0", log), log


def test_a_knob_with_no_effect_both_ways_becomes_inert(tmp_path: Path) -> None:
    plan: list[Step] = [{"dropout_rate": 0.2}, {"dropout_rate": 0.05}, {"learning_rate": 0.02}, {"dropout_rate": 0.3},
                        {"learning_rate": 0.03}]
    recs, proposer, repo = _run(tmp_path, plan)
    up, down, better, inert_move, last = recs[1:]
    assert up.outcome is down.outcome is arrl.Outcome.NO_EFFECT
    # Announced once, when the second direction showed it.
    log = next((repo / ".arrl").glob("*/run.log")).read_text()
    assert log.count("dropout_rate is inert in this run") == 1, log
    assert "moves up and down had no effect (experiments 1, 2)" in log
    # Offered to the proposer until then, never after.
    assert ["dropout_rate" in (o.editable or ()) for o in proposer.seen] == [True, True, False, False, False]
    assert "learning_rate" in (proposer.seen[-1].editable or ())
    # A proposal that changes only the inert knob off the new best repeats it: not run.
    assert better.kept and inert_move.parent_id == better.id
    assert inert_move.outcome is arrl.Outcome.DUPLICATE and not inert_move.commit
    assert f"the same program as experiment {better.id} but for dropout_rate, inert in this run" in \
        inert_move.failure_reason
    assert last.outcome is arrl.Outcome.OK and last.kept  # the run went on
    # A continued run knows it from the journal.
    state = RunState.derive(recs, reset_failures=False)
    assert state.inert == {"dropout_rate": "moves up and down had no effect (experiments 1, 2)"}
    assert state.consecutive_failures == 0


def test_another_seed_or_thread_count_is_not_no_effect(tmp_path: Path) -> None:
    recs, _, _ = _run(tmp_path, [{"dropout_rate": 0.2}])
    base, unused = recs
    ran = attrs.evolve(unused, outcome=arrl.Outcome.OK, failure_reason="")
    assert no_effect_reason(ran, base).startswith("the same 4 val_loss values as experiment 0")
    assert not no_effect_reason(attrs.evolve(ran, seed=1), base)
    other_threads = {**ran.details, THREADS: "2" if ran.details[THREADS] != "2" else "3"}
    assert not no_effect_reason(attrs.evolve(ran, details=other_threads), base)
    # Unknown (an older journal's parent) is not the same.
    assert not no_effect_reason(ran, attrs.evolve(base, details={}))
    # Neither is a curve that differs in one printed digit, or an early-stopped prefix.
    curve = [*ran.curve[:-1], attrs.evolve(ran.curve[-1], value=ran.curve[-1].value + 1e-6)]
    assert not no_effect_reason(attrs.evolve(ran, curve=curve), base)
    assert not no_effect_reason(attrs.evolve(ran, outcome=arrl.Outcome.EARLY_STOPPED), base)
    assert threads_used({"OMP_NUM_THREADS": "2"}, {"MKL_NUM_THREADS": "4"}).startswith("OMP_NUM_THREADS=2,")
    assert threads_used(dict.fromkeys(["OMP_NUM_THREADS", "ARRL_NUM_THREADS"], "2"),
                        dict.fromkeys(["MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS",
                                       "VECLIB_MAXIMUM_THREADS"], "2")) == "2"


def test_an_old_journal_still_loads(tmp_path: Path) -> None:
    # A journal written before the outcome existed: no thread counts, no no_effect records.
    recs, _, repo = _run(tmp_path, [{"dropout_rate": 0.2}, {"dropout_rate": 0.05}])
    journal = next((repo / ".arrl").glob("*/journal.jsonl"))
    old = []
    for line in journal.read_text().splitlines():
        data = json.loads(line)
        data["details"].pop(THREADS, None)
        data.update(outcome="ok", failure_reason="") if data["outcome"] == "no_effect" else None
        old.append(json.dumps(data, sort_keys=True))
    journal.write_text("\n".join(old) + "\n")
    loaded = RunDirectory(journal.parent).records()
    assert [r.outcome for r in loaded] == [arrl.Outcome.OK] * 3
    state = RunState.derive(loaded, reset_failures=False)
    assert state.inert == {} and state.best == recs[0].value
    assert from_json(to_json(loaded[1]), arrl.ExperimentRecord) == loaded[1]
    assert run_arrl("history", cwd=repo).returncode == 0


@pytest.mark.parametrize("ways, reason", [
    ({"up": [3]}, ""),
    ({"up": [3], "down": [5]}, "moves up and down had no effect (experiments 3, 5)"),
    ({"True": [4]}, "switching it to True had no effect (experiment 4)"),
    ({"'adam'": [2]}, ""),
    ({"'adam'": [2], "'sgd'": [6]}, "'adam' and 'sgd' had no effect (experiments 2, 6)"),
])
def test_when_a_knob_is_inert(ways: dict[str, list[int]], reason: str) -> None:
    assert inert_reason(ways) == reason


def test_inert_is_a_plain_field_other_evidence_adds_to() -> None:
    state = RunState(records=[])
    assert state.mark_inert("warmup_iters", "the trace shows the value unused")
    assert not state.mark_inert("warmup_iters", "again")
    assert state.inert == {"warmup_iters": "the trace shows the value unused"}


class KnobsOnly(Planned):
    """A proposer that promises to write no code, only new values of the knobs it names."""

    writes_code = False


def test_an_edit_that_rewrites_more_than_it_names_is_refused(tmp_path: Path) -> None:
    """#26: an edit changes exactly the knobs its description names. A knob proposer's script
    that also rewrites another line (here: the dead function's) is refused before it runs, and
    says which line; a clean edit of the same knob runs."""
    def sneaky(script: str) -> str:
        return _dead_code_edit(apply_values(script, {"dropout_rate": 0.3}, "train.py"))

    class Sneaky(KnobsOnly):
        def propose(self, observation: arrl.Observation) -> arrl.Proposal:
            if self.plan and self.plan[0] == "sneaky":
                self.plan.pop(0)
                return arrl.Proposal(sneaky(observation.script), arrl.Edit({"dropout_rate": 0.3}, "dropout"), "planned")
            return super().propose(observation)

    recs, _, _ = _run(tmp_path, ["sneaky", {"dropout_rate": 0.3}], Sneaky)  # type: ignore[list-item]
    _, refused, clean = recs
    line = SCRIPT.lstrip("\n").splitlines().index("    return 1.0") + 1
    assert refused.outcome is arrl.Outcome.REJECTED and not refused.commit
    assert f"the edit names dropout_rate but also rewrites line {line}" in refused.failure_reason
    assert clean.outcome is not arrl.Outcome.REJECTED and clean.commit
