"""Test-only arrl plugins for the attack and honest corpora (tests/corpus/).

- proposer ``hostile``: for its k-th proposal, the k-th attack script of a manifest, with the
  world's facts (paths, ports, pids; never a secret) written into its ``W: dict = {}`` line. A
  hostile proposer writes code, so arrl runs it only behind a sandbox (or with the sandbox turned
  off by name).
- proposer ``honest``: for its k-th proposal, the baseline script with the k-th honest edit of a
  manifest applied (an edit file holds ``EDITS = [(old, new), ...]``, each ``old`` found exactly
  once in the baseline).
- validator ``permissive``: accepts everything, so that a run can be made "validator off".
- hooks: where ``ARRL_CORPUS_JUDGE`` names a Unix socket, every proposed and every finished
  experiment is announced there and arrl waits for the judge's answer, so that a test can look at
  the world right before and right after each experiment (tests/corpus/oracle.py).

Options (``-o proposer.OPTION=VALUE``) or, when empty, environment variables:
``manifest`` / ``ARRL_CORPUS_MANIFEST`` (a text file: one corpus file a line, in order) and
``facts`` / ``ARRL_CORPUS_FACTS`` (a JSON object, for ``hostile``).
"""

from __future__ import annotations

import ast
import json
import os
import socket
from pathlib import Path

import attrs

import arrl

FACTS_LINE = "W: dict = {}"


@attrs.frozen
class CorpusOptions:
    manifest: str = ""
    facts: str = ""


def _paths(options: CorpusOptions) -> list[Path]:
    manifest = options.manifest or os.environ.get("ARRL_CORPUS_MANIFEST", "")
    if not manifest:
        raise arrl.ConfigError("the corpus proposers need a manifest (-o proposer.manifest=FILE or ARRL_CORPUS_MANIFEST)")
    lines = Path(manifest).read_text().splitlines()
    return [Path(line.strip()) for line in lines if line.strip() and not line.startswith("#")]


def with_facts(script: str, facts: dict) -> str:
    """The attack with the world's facts as a literal dict on its facts line."""
    if FACTS_LINE not in script:
        raise ValueError(f"an attack script needs a line {FACTS_LINE!r}")
    return script.replace(FACTS_LINE, f"W: dict = {facts!r}", 1)


def apply_edits(baseline: str, edits: list[tuple[str, str]]) -> str:
    script = baseline
    for old, new in edits:
        if baseline.count(old) != 1:
            raise ValueError(f"an honest edit's text must occur once in the baseline: {old!r}")
        script = script.replace(old, new, 1)
    return script


def read_edits(path: Path) -> list[tuple[str, str]]:
    """``EDITS = [...]`` of an honest edit file, read as a literal (the file is never run here)."""
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "EDITS" for t in node.targets):
            return [tuple(pair) for pair in ast.literal_eval(node.value)]
    raise ValueError(f"{path}: no EDITS list")


class _Scripted(arrl.Proposer):
    def __init__(self, options: CorpusOptions) -> None:
        self.paths = _paths(options)
        self.count = 0

    def _next(self) -> Path:
        if self.count >= len(self.paths):
            raise arrl.ArrlError(f"the corpus has {len(self.paths)} entries, all proposed")
        path = self.paths[self.count]
        self.count += 1
        return path


class Hostile(_Scripted):
    def __init__(self, options: CorpusOptions) -> None:
        super().__init__(options)
        facts = options.facts or os.environ.get("ARRL_CORPUS_FACTS", "")
        self.facts = json.loads(Path(facts).read_text()) if facts else {}

    def propose(self, observation: arrl.Observation) -> arrl.Proposal:
        path = self._next()
        return arrl.Proposal(with_facts(path.read_text(), self.facts),
                             arrl.Edit({}, f"attack {path.parent.name}/{path.stem}"), proposer="hostile")


class Honest(_Scripted):
    def __init__(self, options: CorpusOptions, context: arrl.PluginContext) -> None:
        super().__init__(options)
        self.baseline = (context.repo_root / context.script_path).read_text()

    def propose(self, observation: arrl.Observation) -> arrl.Proposal:
        path = self._next()
        return arrl.Proposal(apply_edits(self.baseline, read_edits(path)),
                             arrl.Edit({}, f"honest {path.stem}"), proposer="honest")


class Permissive(arrl.Validator):
    def validate(self, proposed: str, baseline: str) -> arrl.ValidationResult:
        return arrl.ValidationResult()


@arrl.hookimpl
def arrl_proposers():
    yield arrl.Registration(name="hostile", summary="the attack corpus, one script per experiment (tests only)",
                            factory=lambda options, context: Hostile(options), options=CorpusOptions)
    yield arrl.Registration(name="honest", summary="honest edits of the baseline, one per experiment (tests only)",
                            factory=lambda options, context: Honest(options, context), options=CorpusOptions)


@arrl.hookimpl
def arrl_validators():
    yield arrl.Registration(name="permissive", summary="accepts every proposal: the validator off (tests only)",
                            factory=lambda options, context: Permissive())


def _tell_judge(message: dict) -> None:
    path = os.environ.get("ARRL_CORPUS_JUDGE")
    if not path:
        return
    with socket.socket(socket.AF_UNIX) as connection:
        connection.settimeout(300)
        connection.connect(path)
        connection.sendall(json.dumps(message).encode() + b"\n")
        answer = b""
        while not answer.endswith(b"\n"):
            chunk = connection.recv(4096)
            if not chunk:
                break
            answer += chunk


@arrl.hookimpl
def arrl_experiment_proposed(record, run_id):
    _tell_judge({"event": "proposed", "id": record.id, "run_id": run_id,
                 "edit": record.edit.description if record.edit else ""})


@arrl.hookimpl
def arrl_experiment_finished(record, run_id):
    _tell_judge({"event": "finished", "id": record.id, "run_id": run_id, "outcome": record.outcome.value,
                 "failure_reason": record.failure_reason, "wall_clock_seconds": record.wall_clock_seconds,
                 "edit": record.edit.description if record.edit else ""})
