"""The hooks arrl calls. Each docstring is the reference for that hook.

Six role hooks let a plugin offer implementations; each returns an iterable of
:class:`arrl.Registration` records (conda's pattern), so the names can be listed, checked for
clashes and looked up without building anything. Keep imports of heavy libraries inside the
``factory``, never at module level: ``arrl plugins`` imports every plugin module.

Event hooks are notifications: every implementation is called, return values are ignored.
They are the run's one event model: the live display, the plain log (``run.log``) and the
``arrl run --json`` stream are ordinary subscribers of them (:mod:`arrl.run.events`). Each carries
the ``run_id`` and, where it concerns one experiment, that experiment's id, so the events of
several experiments running at once stay apart; ``at`` is when it happened (``time.time()``).
An implementation takes only the arguments it names. ``arrl_metric`` is called from the
runner's thread: keep it quick and thread-safe.

A plugin is any module (or object) with functions marked ``@arrl.hookimpl``, registered through
the ``arrl`` entry-point group::

    [project.entry-points.arrl]
    hello = "arrl_hello"
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from .records import ExperimentRecord, MetricPoint
    from .registration import Registration

PROJECT = "arrl"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def arrl_proposers() -> Iterable[Registration]:
    """Offer proposers: they read an observation and propose the next script.

    The factory returns an :class:`arrl.roles.Proposer`::

        @arrl.hookimpl
        def arrl_proposers():
            yield arrl.Registration(
                name="halving", summary="halve the learning rate each time",
                factory=lambda options, context: Halving(context))
    """


@hookspec
def arrl_validators() -> Iterable[Registration]:
    """Offer validators: they accept or reject a proposed script before it runs.

    The factory returns an :class:`arrl.roles.Validator`. Users chain several
    (``--plugin validator=ast,mine``); every one of them must accept::

        @arrl.hookimpl
        def arrl_validators():
            yield arrl.Registration(name="size", summary="refuse scripts over 1 MB",
                                    factory=lambda options, context: SizeLimit())
    """


@hookspec
def arrl_runners() -> Iterable[Registration]:
    """Offer runners: they execute a script under the wall-clock budget.

    The factory returns an :class:`arrl.roles.Runner`::

        @arrl.hookimpl
        def arrl_runners():
            yield arrl.Registration(name="podman", summary="rootless containers",
                                    factory=make_podman_runner, options=PodmanOptions)
    """


@hookspec
def arrl_memories() -> Iterable[Registration]:
    """Offer memories: the sliding window of recent experiments with duplicate detection.

    The factory returns an :class:`arrl.roles.Memory`::

        @arrl.hookimpl
        def arrl_memories():
            yield arrl.Registration(name="deque", summary="in-process window",
                                    factory=lambda options, context: DequeMemory(32))
    """


@hookspec
def arrl_rewards() -> Iterable[Registration]:
    """Offer rewards: they score a finished experiment for the proposer to learn from.

    The factory returns an :class:`arrl.roles.Reward`::

        @arrl.hookimpl
        def arrl_rewards():
            yield arrl.Registration(name="accuracy-only", summary="log-ratio only",
                                    factory=lambda options, context: AccuracyOnly())
    """


@hookspec
def arrl_rollbacks() -> Iterable[Registration]:
    """Offer rollbacks: they keep every proposal retrievable and restore the last good one.

    The factory returns an :class:`arrl.roles.Rollback`::

        @arrl.hookimpl
        def arrl_rollbacks():
            yield arrl.Registration(name="git", summary="worktree and refs",
                                    factory=make_git_rollback, options=GitOptions)
    """


@hookspec
def arrl_trackers() -> Iterable[Registration]:
    """Offer trackers: observers a user attaches to a run by name, with options, through a
    ``[tracking.NAME]`` table in ``arrl.toml`` (see :mod:`arrl.tracking`).

    The factory returns an object whose methods, marked ``@arrl.hookimpl``, implement any of the
    event hooks below; arrl registers it for the run and calls its ``close()`` at the end::

        class Printer:
            @arrl.hookimpl
            def arrl_experiment_finished(self, record, run_id):
                print(run_id, record.id, record.value)

        @arrl.hookimpl
        def arrl_trackers():
            yield arrl.Registration(name="printer", summary="print every record",
                                    factory=lambda options, context: Printer())
    """


@hookspec
def arrl_run_started(run_id: str, metric: str, direction: str, budget_seconds: float,
                     previous: list[ExperimentRecord], at: float) -> None:
    """A run starts or continues; ``previous`` holds what it recorded before (empty when new)::

        @arrl.hookimpl
        def arrl_run_started(run_id, metric, previous):
            print(f"{run_id}: tuning {metric}, {len(previous)} experiments so far")
    """


@hookspec
def arrl_experiment_proposed(record: ExperimentRecord, run_id: str, at: float) -> None:
    """A proposal became an experiment: ``record`` holds its id, parent, edit and diffs, not
    yet its outcome (duplicate check and validation come next)::

        @arrl.hookimpl
        def arrl_experiment_proposed(record, run_id):
            print(f"{run_id}: proposed #{record.id}: {record.edit.description if record.edit else ''}")
    """


@hookspec
def arrl_proposal_rejected(record: ExperimentRecord, run_id: str, reason: str, at: float) -> None:
    """A proposal will not run: a validator refused it (``record.outcome`` is rejected) or the
    same program already ran, or one that differs from it only in inert knobs (duplicate; see
    arrl.run.effect). Its record follows in
    ``arrl_experiment_finished``::

        @arrl.hookimpl
        def arrl_proposal_rejected(record, reason):
            audit.write(f"#{record.id} {record.outcome.value}: {reason}")
    """


@hookspec
def arrl_experiment_started(experiment_id: int, run_id: str, record: ExperimentRecord,
                            budget_seconds: float, at: float) -> None:
    """An experiment is about to run (after validation and the snapshot commit); ``record``
    is as proposed, ``budget_seconds`` its hard wall-clock cap::

        @arrl.hookimpl
        def arrl_experiment_started(experiment_id, run_id):
            print(f"{run_id}: experiment {experiment_id} started")
    """


@hookspec
def arrl_metric(run_id: str, experiment_id: int, point: MetricPoint, at: float) -> None:
    """A running experiment printed a metric point (every metric name it prints)::

        @arrl.hookimpl
        def arrl_metric(experiment_id, point):
            tensorboard.add_scalar(point.name, point.value, point.step)
    """


@hookspec
def arrl_experiment_finished(record: ExperimentRecord, run_id: str, at: float) -> None:
    """An experiment's record was written to the journal (every outcome, rejections too)::

        @arrl.hookimpl
        def arrl_experiment_finished(record, run_id):
            metrics_sink.send(record.id, record.value)
    """


@hookspec
def arrl_run_paused(run_id: str, reason: str, at: float) -> None:
    """The run paused itself (e.g. three consecutive failures); ``arrl run`` continues it::

        @arrl.hookimpl
        def arrl_run_paused(run_id, reason):
            pager.page(f"arrl {run_id} paused: {reason}")
    """


@hookspec
def arrl_alert(run_id: str, level: str, message: str, at: float) -> None:
    """Something a human should see (``level`` is "warning" or "error")::

        @arrl.hookimpl
        def arrl_alert(run_id, level, message):
            slack.post(f"[{level}] {run_id}: {message}")
    """


@hookspec
def arrl_note(run_id: str, message: str, at: float) -> None:
    """A line for the operator that is no other event, e.g. leftovers of a killed earlier
    arrl process removed at start::

        @arrl.hookimpl
        def arrl_note(run_id, message):
            print(f"{run_id}: {message}")
    """


@hookspec
def arrl_run_finished(run_id: str, status: str, message: str, exit_code: int, at: float) -> None:
    """The loop returned or failed: ``status`` is the run's status now (finished, paused,
    interrupted, or running when an error ended the process), ``message`` says why, and
    ``exit_code`` is what ``arrl run`` exits with::

        @arrl.hookimpl
        def arrl_run_finished(run_id, status, message):
            pager.page(f"arrl {run_id} {status}: {message}")
    """
