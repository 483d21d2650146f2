"""One experiment, carried through its phases: the order of calls on the six roles.

Experiment 0 runs the unmodified script and sets the first best. Each later experiment:

    propose -> claim the program (lost, or the same as one run but for inert knobs: a duplicate,
    not run) -> validator chain (rejected: not run) -> snapshot commit
    -> run under the budget, streaming metrics to the early stopper -> record (its parent's curve
    exactly: no effect) -> reward -> journal -> keep as last good, or restore the last good
    -> memory -> proposer learns

:class:`Attempt` holds those steps as three calls, made in this order: :meth:`~Attempt.propose`
(the proposal and its record, made against the last good version), :meth:`~Attempt.run` (claim,
validate, snapshot, then the run in a lane: :mod:`arrl.run.execution`) and
:meth:`~Attempt.conclude` (reward, journal, keep or restore, memory, learning). A scheduler makes
the calls: the serial one (:mod:`arrl.run.serial`) one attempt after another, the worker pool
(:mod:`arrl.run.workers`) proposing and concluding one at a time and running several at once.

Every step is announced through the event hooks (:mod:`arrl.run.events`); nothing here prints.
"""

from __future__ import annotations

import inspect
import time

from arrl.errors import ArrlError
from arrl.journal import now_iso
from arrl.records import ExperimentRecord, Observation, Outcome, Proposal, ValidationIssue, ValidationResult
from arrl.roles import RewardContext
from arrl.schema import HISTORY_WINDOW, SchemaError, config_hash
from arrl.script.reader import ScriptError, program_hash, unified_diff
from arrl.trace import moved

from .edits import config_refusals, stray_lines
from .effect import inert_duplicate, no_effect_reason
from .execution import execute
from .faults import checkpoint
from .lanes import Lane
from .noise import BASELINE, baseline_runs_done, describe_floor, within_noise
from .state import RunState
from .workbench import Workbench, in_repository


class Attempt:
    """One experiment of a run, from its proposal to its place in the journal."""

    record: ExperimentRecord  # set by propose, filled in by run and conclude
    proposal: Proposal
    parent_commit: str  # the last good version it was proposed against

    def __init__(self, bench: Workbench, state: RunState, experiment_id: int) -> None:
        self.bench = bench
        self.state = state
        self.id = experiment_id
        self.commit = ""  # the commit it ran; "" when it did not run
        self.twin = ""  # why it repeats a run program but for inert knobs (arrl.run.effect); "" if not
        self.stray = ""  # why it rewrites more than its edit names (arrl.run.edits); "" if not
        self.parent_files: dict[str, str] = {}  # the config files of the last good version

    def propose(self) -> ExperimentRecord:
        """The next proposal and its record (not yet run), made against the last good version."""
        bench, state = self.bench, self.state
        self.parent_commit = state.last_good_commit
        parent_script = bench.read(self.parent_commit)
        self.parent_files = bench.read_files(self.parent_commit)
        # Until the unmodified script has succeeded once (an interrupted first try does not
        # count) there is no best to improve on, so the baseline runs again.
        is_baseline = state.last_good_id is None
        # Then it runs again with other seeds, to measure the noise floor (arrl.run.noise); repeats
        # already running on other workers count, so no more than baseline_runs are started.
        runs_started = baseline_runs_done(state.records) + len(state.running_baselines)
        repeat = not is_baseline and runs_started < bench.settings.baseline_runs
        if is_baseline or repeat:
            self.proposal = Proposal(script=bench.baseline_script, proposer=BASELINE)
        else:
            self.proposal = _ask_proposer(bench, state, parent_script, self.parent_files)
        seed = state.free_repeat_seed(bench.settings.seed) if repeat else bench.settings.seed
        self.record = record = _new_record(bench, state, self.id, self.proposal, parent_script, seed,
                                           self.parent_files)
        # Judged here, one proposal at a time, where the state does not move under it.
        files = {**self.parent_files, **self.proposal.files}
        self.twin = "" if is_baseline or repeat else inert_duplicate(bench, state, record, self.proposal.script, files)
        self.stray = "" if is_baseline or repeat else (
            stray_lines(bench, parent_script, self.proposal)
            or config_refusals(bench, parent_script, self.parent_files, self.proposal))
        state.running[record.id] = record.config_hash
        if is_baseline or repeat:
            state.running_baselines[record.id] = record.seed if record.seed is not None else bench.settings.seed
        bench.hooks.arrl_experiment_proposed(record=record, run_id=bench.run_dir.run_id, at=time.time())
        return record

    def run(self, lane: Lane) -> str:
        """Claim, validate, snapshot and run the proposal in ``lane``; return its commit ("" when
        it did not run)."""
        bench, record, proposal = self.bench, self.record, self.proposal
        is_baseline = proposal.proposer == "baseline"
        roles, hooks, run_id = bench.components, bench.hooks, bench.run_dir.run_id
        # The baseline is claimed too (so no proposal repeats it) but runs whatever the claim says.
        if self.twin or (not roles.memory.claim(record.program_hash) and not is_baseline):
            record.outcome = Outcome.DUPLICATE
            record.failure_reason = self.twin or "the same program was already run (or is running) in this run"
            hooks.arrl_proposal_rejected(record=record, run_id=run_id, reason=record.failure_reason, at=time.time())
            return self.commit
        verdict = ValidationResult() if is_baseline else roles.validate(proposal.script, bench.baseline_script)
        if self.stray:
            verdict = ValidationResult((ValidationIssue(self.stray, validator="arrl"),))
        if proposal.files and not _keeps_files(lane.rollback):
            verdict = ValidationResult((ValidationIssue(
                f"the rollback {bench.components.names['rollback']!r} keeps the script alone, and this proposal "
                "rewrites config files: choose a rollback whose snapshot() takes files= (git does)",
                validator="arrl"),))
        if not verdict.accepted:
            record.outcome, record.failure_reason = Outcome.REJECTED, str(verdict)
            hooks.arrl_proposal_rejected(record=record, run_id=run_id, reason=record.failure_reason, at=time.time())
            return self.commit
        if not is_baseline:
            message = (f"arrl {run_id} experiment {record.id}: "
                       f"{proposal.edit.description if proposal.edit else 'proposal'}")
            # Config files are passed only when rewritten, so a rollback that keeps the script
            # alone (written before config edits) still runs every other proposal.
            extra = {"files": {in_repository(bench.context, n): t for n, t in proposal.files.items()}} \
                if proposal.files else {}
            self.commit, record.ref = lane.rollback.snapshot(proposal.script, record.id, message, self.parent_commit,
                                                             **extra)
        else:
            self.commit = bench.baseline_commit
            record.ref = lane.rollback.keep(self.commit, record.id)
        record.commit = self.commit
        execute(bench, record, self.state, lane)
        if record.outcome is Outcome.INTERRUPTED:
            roles.memory.release(record.program_hash)  # no result: it may run again
        return self.commit

    def conclude(self, lane: Lane, restore: bool = True) -> ExperimentRecord:
        """Score, journal, keep or roll back, remember and learn. A result is kept only when it
        beats the best known now, so a late result never overwrites a better one."""
        bench, state, record, settings = self.bench, self.state, self.record, self.bench.settings
        roles, direction = bench.components, settings.direction
        state.running.pop(record.id, None)
        state.running_baselines.pop(record.id, None)
        is_baseline = record.proposer == "baseline"
        record.finished_at = now_iso()
        if record.outcome is Outcome.OK and not is_baseline:
            said = no_effect_reason(record, state.find(record.parent_id))
            if said:
                record.outcome, record.failure_reason = Outcome.NO_EFFECT, said
        record.reward = roles.reward.score(record, RewardContext(state.best, settings.budget, direction))
        repeat = is_baseline and state.last_good_id is not None
        if record.outcome is Outcome.OK and not is_baseline:
            record.within_noise = within_noise(record.value, state.best, state.noise_floor, direction)
        refused = record.within_noise and settings.refuse_noise
        if record.outcome is Outcome.OK and not repeat and not refused and (
            settings.keep == "any" or direction.better(record.value, state.best)
        ):
            record.kept = True
        checkpoint("journal-append")
        bench.run_dir.append(record)  # the point of no return: from here the record exists
        checkpoint("journal-appended")
        state.records.append(record)
        inert_before = set(state.inert)
        if record.kept:
            state.last_good_id, state.last_good_commit = record.id, record.commit
            lane.rollback.mark_good(record.commit)
        state.count(record)
        for name in state.inert.keys() - inert_before:
            bench.note(f"{name} is inert in this run: {state.inert[name]}. It is not proposed again, and a "
                       f"configuration that differs from one already run only in {name} is a duplicate")
        # A worker pool restores its own worktree after the one-at-a-time phase (restore=False):
        # only this lane uses it, and the checkout was the largest part of concluding.
        if restore and self.commit and not record.kept:
            lane.rollback.restore(state.last_good_commit)
        if record.outcome not in (Outcome.DUPLICATE, Outcome.INTERRUPTED):
            roles.memory.add(record.history_entry())
        if not is_baseline and record.outcome is not Outcome.INTERRUPTED:
            roles.proposer.learn(record, record.reward)
            roles.proposer.save(bench.run_dir.proposer_state)
        bench.hooks.arrl_experiment_finished(record=record, run_id=bench.run_dir.run_id, at=time.time())
        # After the last repeat's own line, which the floor is computed from.
        if is_baseline and settings.baseline_runs > 1 and record.outcome is not Outcome.INTERRUPTED \
                and baseline_runs_done(state.records) == settings.baseline_runs:
            bench.note(describe_floor(state.records, settings.metric))
        return record


def _ask_proposer(bench: Workbench, state: RunState, parent_script: str, parent_files: dict[str, str]) -> Proposal:
    """The proposer's edit of ``parent_script`` (and its config files), given what the run has seen."""
    extraction = bench.extract(parent_script, parent_files)
    observation = Observation(
        script=parent_script,
        config=dict(extraction.values),
        # An inert knob cannot move the result (arrl.run.effect): offering it wastes experiments.
        editable=tuple(n for n in extraction.editable if n in bench.space and n not in state.inert),
        choices=dict(extraction.choices),
        space=bench.space,
        history=bench.components.memory.window()[-HISTORY_WINDOW:],
        best_value=state.best,
        direction=bench.settings.direction,
        noise_floor=state.noise_floor,
        tried=state.tried(),
        facts=moved(bench.facts, bench.baseline_script, parent_script) if bench.facts is not None else None,
        files=dict(parent_files),
    )
    try:
        return bench.components.proposer.propose(observation)
    except ArrlError:
        raise
    except Exception as error:
        raise ArrlError(
            f"proposer {bench.components.names['proposer']!r} failed: {type(error).__name__}: {error}"
        ) from error


def _new_record(bench: Workbench, state: RunState, experiment_id: int, proposal: Proposal, parent_script: str,
                seed: int, parent_files: dict[str, str]) -> ExperimentRecord:
    """The record of ``proposal``, not yet run: its config, hashes and diffs."""
    path = bench.context.script_path
    # The version's config files: the baseline's for the baseline (it runs its own commit).
    files = dict(bench.baseline_files) if proposal.proposer == BASELINE else {**parent_files, **proposal.files}
    try:
        config = dict(bench.extract(proposal.script, files).values)
    except (ScriptError, SchemaError):
        config = {}  # unreadable: the validator chain says why
    settings = bench.settings
    return ExperimentRecord(
        id=experiment_id,
        parent_id=state.last_good_id,
        outcome=Outcome.OK,
        config=config,
        config_hash=config_hash(config),
        program_hash=program_hash(proposal.script, files or None),
        metric_name=settings.metric,
        direction=settings.direction,
        value=settings.direction.worst,
        proposer=proposal.proposer or bench.components.names["proposer"],
        edit=proposal.edit,
        diff_parent=unified_diff(parent_script, proposal.script, path) + _config_diff(bench, parent_files, files),
        diff_baseline=unified_diff(bench.baseline_script, proposal.script, path)
        + _config_diff(bench, bench.baseline_files, files),
        started_at=now_iso(),
        proposal_id=proposal.id,
        seed=seed,
    )


def _config_diff(bench: Workbench, before: dict[str, str], after: dict[str, str]) -> str:
    """The config files' part of a diff, each under its path in the repository."""
    return "".join(unified_diff(before.get(name, ""), after[name], in_repository(bench.context, name))
                   for name in sorted(after) if after[name] != before.get(name))


def _keeps_files(rollback: object) -> bool:
    """Whether ``rollback.snapshot`` takes the config files an edit rewrote (``files=``)."""
    try:
        parameters = inspect.signature(rollback.snapshot).parameters  # type: ignore[attr-defined]
    except (TypeError, ValueError):
        return False
    return "files" in parameters or any(p.kind is p.VAR_KEYWORD for p in parameters.values())
