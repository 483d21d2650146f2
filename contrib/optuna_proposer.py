"""An Optuna proposer: Optuna's samplers (TPE by default) choose the next configuration.

Install with ``pip install 'arrl[optuna]'`` and pick it with ``--plugin proposer=optuna``. It is
registered through arrl's own ``arrl`` entry point, so without Optuna ``arrl plugins`` reports it
as failed to load and every other plugin still works.

How arrl's loop maps onto Optuna's ask-and-tell interface:

- The search space is every field and ``[space]`` knob the script exposes and arrl can rewrite,
  each over the run's domain (:mod:`arrl.plugins.proposers.domains`): the bounds of the run's space (the
  schema's, grown around the baseline or overridden), log scale where it says so, and for
  categorical fields only the values the script can take.
- The baseline is the first trial: its configuration and result (experiment 0, which the loop has
  already run) are added to the study before the first question, so the sampler starts from it
  instead of spending an experiment re-running it.
- A suggestion that breaks "attention_heads divides hidden_dim" is repaired (heads lowered to a
  divisor) and the study is told the repaired configuration, the one that actually ran.
- A finished run is a complete trial with its value; an early-stopped run is a pruned trial with
  its curve as intermediate values (as Optuna's own pruners report them); a crash, divergence,
  timeout or rejection gets the worst value seen so far, so the sampler learns to avoid it.
- A suggestion that repeats a configuration already tried is answered from what is known and the
  sampler is asked again, so duplicates do not cost experiments.

``sampler`` picks any sampler in ``optuna.samplers`` by name (``tpe``, ``random``, ``cmaes``,
``qmc``, ``gp``, ...); ``sampler_options`` passes keyword arguments to it. Seeds come from the
run's seed.
"""

from __future__ import annotations

import importlib.util
import inspect
import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

import arrl
from arrl.errors import ConfigError
from arrl.journal import write_atomic
from arrl.plugins.proposers.domains import Domain, describe, domain, editable_fields, repair_heads
from arrl.records import Outcome
from arrl.schema import Value, config_hash

if TYPE_CHECKING:
    import optuna


def _optuna_installed() -> bool:
    try:
        return importlib.util.find_spec("optuna") is not None
    except (ImportError, ValueError):
        return False


# Checked without importing optuna, so that `arrl plugins` stays light; a missing optuna makes
# this plugin fail to load, which `arrl plugins` reports, and nothing else breaks.
if not _optuna_installed():
    raise ImportError("No module named 'optuna': install it with pip install 'arrl[optuna]'")

# How often a repeated suggestion is answered from memory before the proposal goes out anyway
# (the loop then records a duplicate).
_REASKS = 50


@attrs.frozen
class OptunaOptions:
    sampler: str = "tpe"
    sampler_options: dict[str, Any] = attrs.Factory(dict)
    # Fields to search; empty: every field the script exposes.
    fields: list[str] = attrs.Factory(list)


def make_sampler(name: str, options: dict[str, Any], seed: int) -> optuna.samplers.BaseSampler:
    """The sampler of ``optuna.samplers`` called ``name`` (case-insensitive, "Sampler" optional)."""
    import optuna

    wanted = name.strip().lower().removesuffix("sampler")
    classes = {
        cls.__name__.lower().removesuffix("sampler"): cls
        for cls in vars(optuna.samplers).values()
        if inspect.isclass(cls) and issubclass(cls, optuna.samplers.BaseSampler) and not inspect.isabstract(cls)
    }
    if wanted not in classes:
        raise ConfigError(f"unknown Optuna sampler {name!r}; choose one of: {', '.join(sorted(classes))}")
    cls = classes[wanted]
    arguments = dict(options)
    if "seed" in inspect.signature(cls.__init__).parameters:
        arguments.setdefault("seed", seed)
    try:
        return cls(**arguments)
    except TypeError as error:
        raise ConfigError(f"bad sampler_options for Optuna's {cls.__name__}: {error}") from None


def distribution(space: Domain) -> optuna.distributions.BaseDistribution:
    import optuna

    if space.kind in ("choice", "bool"):
        return optuna.distributions.CategoricalDistribution(list(space.choices))
    assert space.low is not None and space.high is not None
    if space.kind == "int":
        return optuna.distributions.IntDistribution(int(space.low), int(space.high), log=space.log)
    return optuna.distributions.FloatDistribution(space.low, space.high, log=space.log)


def _contains(dist: optuna.distributions.BaseDistribution, value: Value) -> bool:
    try:
        return bool(dist._contains(dist.to_internal_repr(value)))
    except (ValueError, TypeError):
        return False


class OptunaProposer(arrl.Proposer):

    # Its proposals change only the values of knobs the script reader found.
    writes_code = False
    def __init__(self, options: OptunaOptions, context: arrl.PluginContext) -> None:
        import optuna

        self.optuna = optuna
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self.options = options
        self.context = context
        make_sampler(options.sampler, options.sampler_options, context.seed)  # fail early on a bad name
        self.finished: list[dict[str, Any]] = []  # every trial told, to rebuild the study on resume
        self.known: dict[str, float] = {}  # config hash -> value told for it
        self.distributions: dict[str, optuna.distributions.BaseDistribution] = {}
        self.study: optuna.Study | None = None
        # Trials awaiting their result, by proposal id: with several workers results arrive in any
        # order, and each must be told to the trial that proposed it.
        self.pending: dict[str, tuple[optuna.Trial, dict[str, Value]]] = {}

    # -- the study ----------------------------------------------------------------------------
    def _start(self, observation: arrl.Observation) -> optuna.Study:
        names = [n for n in editable_fields(observation) if not self.options.fields or n in self.options.fields]
        if not names:
            raise ConfigError("no field to search: the script exposes no editable schema value"
                              + (f" among {self.options.fields}" if self.options.fields else ""))
        self.distributions = {n: distribution(domain(n, observation)) for n in names}
        # Reseeding by the number of trials already told keeps a resumed run from replaying the
        # suggestions it made before it stopped.
        sampler = make_sampler(self.options.sampler, self.options.sampler_options,
                               self.context.seed + len(self.finished))
        direction = (self.optuna.study.StudyDirection.MINIMIZE if observation.direction is arrl.Direction.MINIMIZE
                     else self.optuna.study.StudyDirection.MAXIMIZE)
        study = self.optuna.create_study(direction=direction, sampler=sampler)
        if not self.finished and observation.best_value is not None and math.isfinite(observation.best_value):
            # The loop ran the baseline as experiment 0: it is the study's first trial.
            self.finished.append({"params": self._params(observation.config), "value": observation.best_value,
                                  "state": "COMPLETE", "intermediate": {}})
        for trial in self.finished:
            self._add(study, trial)
        return study

    def _params(self, config: dict[str, Value]) -> dict[str, Value]:
        return {n: config[n] for n, d in self.distributions.items() if n in config and _contains(d, config[n])}

    def _add(self, study: optuna.Study, trial: dict[str, Any]) -> None:
        params = trial["params"]
        self.known[config_hash(params)] = trial["value"]
        study.add_trial(self.optuna.trial.create_trial(
            params=params, distributions={n: self.distributions[n] for n in params},
            value=trial["value"] if trial["state"] == "COMPLETE" else None,
            state=self.optuna.trial.TrialState[trial["state"]],
            intermediate_values={int(k): v for k, v in trial["intermediate"].items()}))

    def _tell(self, trial: optuna.Trial, suggested: dict[str, Value], told: dict[str, Any]) -> None:
        assert self.study is not None
        self.finished.append(told)
        self.known[config_hash(told["params"])] = told["value"]
        if told["params"] == suggested and told["state"] == "COMPLETE":
            self.study.tell(trial, told["value"])
            return
        # What ran is not what was asked (a repair), or it was pruned with a curve: close the
        # asked trial and add the one that happened, with its real parameters.
        self.study.tell(trial, state=self.optuna.trial.TrialState.FAIL)
        self._add(self.study, told)

    # -- proposing ----------------------------------------------------------------------------
    def propose(self, observation: arrl.Observation) -> arrl.Proposal:
        from arrl.script.reader import Program, edit_observed  # libcst: not at registration

        if self.study is None:
            self.study = self._start(observation)
        for attempt in range(_REASKS + 1):
            trial = self.study.ask(self.distributions)
            suggested = dict(trial.params)
            config = repair_heads({**observation.config, **suggested})
            params = self._params(config)
            changes = {k: v for k, v in config.items() if observation.config.get(k) != v}
            program = edit_observed(observation, changes, self.context) if changes else Program(observation.script)
            known = self.known.get(config_hash(params))
            if known is not None and attempt < _REASKS:
                self._tell(trial, suggested, {"params": params, "value": known, "state": "COMPLETE",
                                              "intermediate": {}})
                continue
            proposal_id = f"optuna-{trial.number}"
            self.pending[proposal_id] = (trial, suggested)
            return arrl.Proposal(program.script, arrl.Edit(changes, describe(observation.config, changes)), "optuna",
                                 id=proposal_id, files=program.files)
        raise AssertionError("unreachable: the last attempt always returns")

    def learn(self, record: arrl.ExperimentRecord, reward: float) -> None:
        # A record without an id (a caller running one proposal at a time) is the oldest's.
        pending = self.pending.pop(record.proposal_id or next(iter(self.pending), ""), None)
        if pending is None or self.study is None:
            return
        trial, suggested = pending
        config = record.config or {**suggested}
        params = self._params(repair_heads(config))
        value, state, intermediate = record.value, "COMPLETE", {}
        if record.outcome is Outcome.EARLY_STOPPED and math.isfinite(value):
            state = "PRUNED"
            intermediate = {str(i): p.value for i, p in enumerate(record.curve) if math.isfinite(p.value)}
        elif record.outcome is Outcome.DUPLICATE:
            value = self.known.get(config_hash(params), math.nan)
        elif record.outcome not in (Outcome.OK, Outcome.NO_EFFECT) or not math.isfinite(value):
            value = self._worst()
        if not math.isfinite(value):
            self.study.tell(trial, state=self.optuna.trial.TrialState.FAIL)  # nothing to learn from yet
            return
        self._tell(trial, suggested, {"params": params, "value": value, "state": state,
                                      "intermediate": intermediate})

    def _worst(self) -> float:
        values = [t["value"] for t in self.finished if math.isfinite(t["value"])]
        if not values:
            return math.nan
        return max(values) if self.context.direction is arrl.Direction.MINIMIZE else min(values)

    # -- persistence ----------------------------------------------------------------------------
    def save(self, path: Path) -> None:
        write_atomic(path, json.dumps({"finished": self.finished}))

    def load(self, path: Path) -> None:
        self.finished = json.loads(path.read_text())["finished"]
        self.study = None  # rebuilt from the finished trials at the next proposal


@arrl.hookimpl
def arrl_proposers():
    yield arrl.Registration(
        name="optuna",
        summary="Optuna sampler (TPE by default) over the script's domains, baseline first",
        factory=lambda options, context: OptunaProposer(options, context),
        options=OptunaOptions,
    )
