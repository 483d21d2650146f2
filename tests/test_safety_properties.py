"""Property tests of the safety hooks, built on the reusable strategies in `arrl.testing`."""

from __future__ import annotations

import functools
import math
import random
import sys
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import arrl
from arrl.config import Settings
from arrl.journal import RunDirectory
from arrl.manager import Registry, make_plugin_manager
from arrl.plugins.composite_reward import CompositeOptions, CompositeReward
from arrl.plugins.deque_memory import DequeMemory
from arrl.plugins.validator.ast_validator import AstValidator
from arrl.run.components import build_components
from arrl.run.early_stopping import EarlyStoppingSettings
from arrl.run.loop import ExperimentLoop
from arrl.schema import HISTORY_WINDOW
from arrl.script import apply_values, extract
from arrl.script.actions import moves, random_edit
from arrl.testing import (
    history_entries,
    obfuscated_dangerous_code,
    outcome_sequences,
    records,
    reward_contexts,
    schema_configs,
)
from support import ROOT, git, make_repo

VALIDATOR = AstValidator()
BASE = "import math\nLEARNING_RATE = 0.01\nprint(f'arrl: val_loss={LEARNING_RATE}')\n"
SCRIPTS = {p.stem: p.read_text() for p in sorted((ROOT / "tests" / "scripts").glob("*.py")) if p.stem != "mapped_style"}
SCRIPTS.update({"tinygpt": (ROOT / "examples/tinygpt/train.py").read_text(),
                "digits": (ROOT / "examples/digits/train.py").read_text()})


def _inserted(script: str, snippet: str, after_line: int) -> str:
    """``script`` with ``snippet`` put after its line ``after_line`` (0-based)."""
    lines = script.splitlines(keepends=True)
    return "".join(lines[:after_line + 1]) + snippet + "".join(lines[after_line + 1:])


@settings(max_examples=300, deadline=None)
@given(obfuscated_dangerous_code(), st.integers(0, 2))
def test_obfuscated_dangerous_code_is_always_rejected(snippet: str, where: int) -> None:
    proposed = _inserted(BASE, snippet, after_line=where)
    result = VALIDATOR.validate(proposed, BASE)
    assert not result.accepted, f"accepted:\n{proposed}"


@functools.cache
def _extracted(name: str) -> Any:
    """What the reader finds in a script: the same for every example of the same script."""
    return extract(SCRIPTS[name])


# 120 examples, about 17 edits of each script a run (fresh seeds every run): at 200 this was the
# suite's slowest test beside two busy loops (197 s).
@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(sorted(SCRIPTS)), st.integers(0, 2**32 - 1), st.integers(1, 3))
def test_every_action_space_edit_of_the_examples_is_accepted(name: str, seed: int, size: int) -> None:
    source = SCRIPTS[name]
    found = _extracted(name)
    candidates = moves(found.values, tuple(found.editable), found.choices)
    if not candidates:
        return
    edit = random_edit(found.values, random.Random(seed), size, tuple(found.editable), found.choices)
    proposed = apply_values(source, edit.changes)
    result = VALIDATOR.validate(proposed, source)
    assert result.accepted, f"{name} {edit.changes}: {result}"


@settings(max_examples=100, deadline=None)
@given(obfuscated_dangerous_code())
def test_the_validator_never_executes_its_input(snippet: str) -> None:
    marker = Path(f"/tmp/arrl-executed-{abs(hash(snippet))}")
    sentinel = "arrl_sentinel_module_that_does_not_exist"
    payload = (f"import {sentinel}\nopen({str(marker)!r}, 'w').write('ran')\n"
               f"raise SystemExit('executed')\n{snippet}")
    result = VALIDATOR.validate(payload, BASE)
    assert not marker.exists() and sentinel not in sys.modules
    assert not result.accepted


@settings(max_examples=200, deadline=None)
@given(st.lists(history_entries(), max_size=120), st.integers(1, HISTORY_WINDOW))
def test_memory_window_invariants(entries, size: int) -> None:
    memory = DequeMemory(size)
    for entry in entries:
        if memory.contains(entry.program_hash):
            continue  # the loop never adds a program the window holds: it records a duplicate
        memory.add(entry)
        window = memory.window()
        assert len(window) <= size <= HISTORY_WINDOW
        hashes = [e.program_hash for e in window]
        assert len(set(hashes)) == len(hashes)
        assert all(memory.contains(h) for h in hashes)
    assert list(memory.window()) == [e for e in memory.window()]  # oldest first, stable


@settings(max_examples=500, deadline=None)
@given(records(), reward_contexts())
def test_reward_is_finite_and_bounded_for_every_outcome(record, context) -> None:
    options = CompositeOptions()
    reward = CompositeReward(options).score(record, context)
    assert math.isfinite(reward)
    top = options.accuracy_weight * options.log_clip + options.efficiency_weight + options.stability_weight \
        + options.early_stop_bonus
    assert min(options.timeout_penalty, options.crash_penalty, options.rejection_penalty, -top) <= reward <= top


@settings(max_examples=100, deadline=None)
@given(schema_configs())
def test_schema_configs_strategy_stays_in_the_schema(config) -> None:
    from arrl.schema import check_config

    check_config(config)


# --- rollback under any sequence of outcomes ----------------------------------------------

SCRIPT = "import time\nNONCE = {nonce}\nSCORE = {score}\n{extra}print(f'arrl: val_loss={{SCORE}}')\n"
EXTRA = {"improve": "", "regress": "", "crash": "raise SystemExit(3)\n", "timeout": "time.sleep(30)\n",
         "reject": "import subprocess\n"}


class Scripted(arrl.Proposer):
    """Proposes, in order, programs that improve, regress, crash, time out or get rejected."""

    def __init__(self, plan: list[str]) -> None:
        self.plan = list(plan)
        self.sent: dict[int, str] = {}

    def propose(self, observation: arrl.Observation) -> arrl.Proposal:
        kind = self.plan.pop(0)
        nonce = len(self.sent) + 1
        best = observation.best_value or 100.0
        score = best - 1 if kind == "improve" else best + 1
        script = SCRIPT.format(nonce=nonce, score=score, extra=EXTRA[kind])
        self.sent[nonce] = script
        return arrl.Proposal(script, proposer=f"scripted-{kind}")


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(plan=outcome_sequences(max_size=5))
def test_workspace_is_always_the_last_good_and_failures_stay_retrievable(plan, tmp_path_factory) -> None:
    tmp = tmp_path_factory.mktemp("rollback")
    repo = make_repo(tmp / "project", {"train.py": SCRIPT.format(nonce=0, score=100.0, extra="")})
    proposer = Scripted(plan)
    manager = make_plugin_manager(entry_points=False)
    module = type(sys)("scripted")
    module.arrl_proposers = arrl.hookimpl(lambda: [arrl.Registration("scripted", lambda o, c: proposer)],
                                          specname="arrl_proposers")
    manager.register(module, name="scripted")
    at_the_end: list[str] = []  # the workspace's script when the run finished, before it lets go
    watcher = type(sys)("watcher")
    watcher.arrl_run_finished = arrl.hookimpl(
        lambda run_id, status, message, exit_code, at: at_the_end.append((run.path / "workspace" / "train.py").read_text()),
        specname="arrl_run_finished")
    config = Settings(script="train.py", budget=1.0, silence_timeout=0, failure_limit=100, baseline_runs=1,
                      max_experiments=len(plan) + 1, plugins={"proposer": "scripted"},
                      early_stopping=EarlyStoppingSettings(enabled=False))
    run = RunDirectory.create(repo / ".arrl", {}, repo)
    manager.register(watcher, name="watcher")
    context = arrl.PluginContext(run.path, repo, "train.py", "val_loss", arrl.Direction.MINIMIZE, 1.0, 0)
    components = build_components(Registry(manager), config, context)
    ExperimentLoop(config, run, components, manager, context, report=lambda _: None).run()

    recs = run.records()
    assert len(recs) == len(plan) + 1
    expected = {"improve": "ok", "regress": "ok", "crash": "failed", "timeout": "timed_out", "reject": "rejected"}
    assert [r.outcome.value for r in recs[1:]] == [expected[k] for k in plan]
    kept = [r for r in recs if r.kept]
    assert at_the_end == [git(repo, "show", f"{kept[-1].commit}:train.py")]
    assert not (run.path / "workspace").exists()  # finished: the worktree is let go, the refs stay
    assert git(repo, "rev-parse", f"refs/arrl/{run.run_id}/last-good").strip() == kept[-1].commit
    for record, kind in zip(recs[1:], plan):
        if kind == "reject":
            assert record.commit == "" and "subprocess" in record.failure_reason
            continue
        # Every experiment that ran, failed ones included, is retrievable by its own ref.
        assert git(repo, "show", f"{record.ref}:train.py") == proposer.sent[recs.index(record)]


# --- the validator resolves names, whatever their spelling (issue 11) ----------------------

# (import statement, expression reaching the module os from a library that holds it)
OS_CARRIERS = [("import torch", "torch.os"), ("import pathlib", "pathlib.os"), ("import glob", "glob.os"),
               ("import logging", "logging.os"), ("import random", "random._os"),
               ("import torch.serialization as ser", "ser.os"), ("from torch import serialization", "serialization.os")]
OS_TARGETS = [("system", "'id'"), ("popen", "'id'"), ("execv", "'/bin/sh', ['sh']"), ("kill", "1, 9"),
              ("remove", "'data.txt'"), ("fork", "")]


@st.composite
def os_reached_through_a_library(draw: st.DrawFn) -> str:
    """``os.<danger>`` reached as an attribute of a library, through aliases and getattr with
    folded names, without ever importing os."""
    statement, carrier = draw(st.sampled_from(OS_CARRIERS))
    function, args = draw(st.sampled_from(OS_TARGETS))
    lines = [statement]
    expression = carrier
    for index in range(draw(st.integers(0, 3))):  # a chain of aliases
        lines.append(f"alias{index} = {expression}")
        expression = f"alias{index}"
    cut = draw(st.integers(0, len(function)))
    style = draw(st.integers(0, 2))
    if style == 0:
        callee = f"{expression}.{function}"
    elif style == 1:
        callee = f"getattr({expression}, {function[:cut]!r} + {function[cut:]!r})"
    else:
        lines.append(f"handle = getattr({expression}, {function!r})")
        callee = "handle"
    lines.append(f"{callee}({args})")
    return "\n".join(lines) + "\n"


@settings(max_examples=150, deadline=None)
@given(os_reached_through_a_library(), st.integers(0, 2))
def test_os_reached_through_any_library_is_always_rejected(snippet: str, where: int) -> None:
    proposed = _inserted(BASE, snippet, after_line=where)
    result = VALIDATOR.validate(proposed, BASE)
    assert not result.accepted, f"accepted:\n{proposed}"


TORCH_BASE = ("import torch\nLEARNING_RATE = 0.01\nloss = torch.ones(3, requires_grad=True).sum()\n"
              "print(f'arrl: val_loss={LEARNING_RATE}')\n")
OPERANDS = st.sampled_from(["loss", "2.0", "LEARNING_RATE", "loss.detach()", "torch.ones(3)"])


@st.composite
def computed_values(draw: st.DrawFn, depth: int = 3) -> str:
    if depth == 0 or draw(st.booleans()):
        return draw(OPERANDS)
    operator = draw(st.sampled_from(["+", "-", "*", "/", "**"]))
    return f"({draw(computed_values(depth - 1))} {operator} {draw(computed_values(depth - 1))})"


@settings(max_examples=100, deadline=None)
@given(computed_values(), st.sampled_from(["detach", "item", "mean", "clone", "float", "abs", "sqrt", "tolist",
                                           "backward"]))
def test_methods_of_computed_values_are_accepted(value: str, method: str) -> None:
    proposed = TORCH_BASE.replace("print(", f"result = ({value}).{method}()\nprint(", 1)
    result = VALIDATOR.validate(proposed, TORCH_BASE)
    assert result.accepted, f"{proposed}\n{result}"


TEXT_CODECS = ["raw_unicode_escape", "unicode_escape", "utf-7", "latin-1", "utf-16", "cp1252", "ascii", "koi8-r"]


@settings(max_examples=30, deadline=None)
@given(st.sampled_from(TEXT_CODECS), st.sampled_from(["# coding: {}", "# -*- coding: {} -*-",
                                                      "# vim: set fileencoding={} :"]), st.booleans())
def test_a_different_encoding_declaration_is_always_rejected(codec: str, form: str, shebang: bool) -> None:
    declaration = form.format(codec) + "\n"
    proposed = ("#!/usr/bin/env python\n" if shebang else "") + declaration + BASE
    result = VALIDATOR.validate(proposed, BASE)
    assert not result.accepted and "source encoding" in str(result), proposed
