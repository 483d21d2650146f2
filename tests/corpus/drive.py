"""Running the corpora end to end through `arrl run`, for tests/test_corpus.py and
benchmarks/security/corpus.py.

- :func:`run_attacks`: a user's repository with a harmless baseline, the oracle's world around it
  (tests/corpus/oracle.py), and `arrl run` with the corpus plugin's ``hostile`` proposer, which
  proposes the given attack scripts in order; the judge lists each experiment's effects.
- :func:`run_honest`: the tiny GPT example with few steps, and `arrl run` with the ``honest``
  proposer, which proposes the given edits of it in order; each edit's outcome and final metric.

The plugin package (tests/corpus/hostile_plugin) is pip-installed into a folder of its own
(:func:`install_plugin`) that goes on arrl's PYTHONPATH, as tests/test_example_plugins.py does.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterable, Sequence
from pathlib import Path

import attrs
from oracle import Judge, Verdict, close_corpus_world, make_corpus_world, sysctl_values

from arrl.run.resources import THREAD_VARIABLES

CORPUS = Path(__file__).resolve().parent
ATTACKS = CORPUS / "attacks"
HONEST = CORPUS / "honest"
PLUGIN = CORPUS / "hostile_plugin"
# The plugin's own reading of the corpus files, from its source (arrl loads the installed copy).
if str(PLUGIN) not in sys.path:
    sys.path.insert(0, str(PLUGIN))
from arrl_corpus_plugin import apply_edits, read_edits, with_facts  # noqa: E402

__all__ = ["apply_edits", "read_edits", "with_facts"]
ROOT = CORPUS.parent.parent
ARRL = Path(sys.executable).with_name("arrl")
TINYGPT = ROOT / "examples" / "tinygpt"

ATTACK_BASELINE = '''"""The attack corpus's baseline: a training script that trains nothing."""
print("arrl: val_loss=1.0")
'''

ATTACK_CONFIG = """
script = "train.py"
metric = "val_loss"
budget = {budget}
failure_limit = 100000
baseline_runs = 1
seed = 0
[early_stopping]
enabled = false
"""

HONEST_CONFIG = """
script = "train.py"
metric = "val_bpb"
direction = "minimize"
budget = {budget}
silence_timeout = {budget}
failure_limit = 100000
baseline_runs = 1
seed = 0
[early_stopping]
enabled = false
[options.runner]
# What a user whose data lives in ~/datasets declares (the honest edit home_dataset_dir reads it).
read_paths = ["~/datasets"]
"""


def install_plugin(target: Path, scratch: Path) -> Path:
    """The corpus plugin, pip-installed from a copy (setuptools writes beside its sources)."""
    source = scratch / "hostile_plugin"
    shutil.copytree(PLUGIN, source, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                    "--target", str(target), str(source)], check=True, capture_output=True)
    return target


def attacks(names: Iterable[str] | None = None) -> list[Path]:
    """Attack scripts by ``category/name`` (all of them, by category, when ``names`` is None)."""
    found = sorted(ATTACKS.glob("*/*.py"))
    if names is None:
        return found
    by_name = {f"{p.parent.name}/{p.stem}": p for p in found}
    return [by_name[name] for name in names]


def honest_edits(names: Iterable[str] | None = None) -> list[Path]:
    found = sorted(p for p in HONEST.glob("*.py") if not p.name.startswith("_"))
    if names is None:
        return found
    by_name = {p.stem: p for p in found}
    return [by_name[name] for name in names]


def describe(path: Path) -> str:
    """The first line of an attack's or an edit's docstring."""
    text = path.read_text()
    start = text.index('"""') + 3
    return text[start:text.index("\n", start)].strip().rstrip('"').strip()


def marked(path: Path, mark: str) -> bool:
    """Whether a corpus file carries a ``# corpus: MARK`` line (``unsandboxed-safe``, ...)."""
    return f"# corpus: {mark}" in path.read_text()


def base_env(site: Path) -> dict[str, str]:
    """arrl's environment: one thread per experiment (as tests/conftest.py's arrl_env), no
    machine git config, the corpus plugin importable."""
    threads = dict.fromkeys(THREAD_VARIABLES, "1")
    python_path = os.pathsep.join(p for p in (str(site), os.environ.get("PYTHONPATH", "")) if p)
    return {**os.environ, **threads, "GIT_CONFIG_NOSYSTEM": "1", "PYTHONPATH": python_path}


@attrs.define
class CorpusRun:
    """The attacks' verdicts, in the order given, and what made the evidence unusable."""

    verdicts: list[Verdict]
    baselines: list[Verdict]
    run_harms: list[str]
    problems: list[str]
    outputs: list[str]
    segments: int

    def harmful(self) -> list[Verdict]:
        return [v for v in self.verdicts if v.harms]


def _journal(repo: Path) -> list[dict]:
    journals = [p for p in (repo / ".arrl").glob("*/journal.jsonl") if (p.parent / "run.json").exists()]
    if not journals:
        return []
    newest = max(journals, key=lambda p: p.stat().st_mtime)
    return [json.loads(line) for line in newest.read_text().splitlines() if line.strip()]


def attack_name(path: Path) -> str:
    return f"attack {path.parent.name}/{path.stem}"


def run_attacks(root: Path, site: Path, paths: Sequence[Path], validator: str = "permissive",
                runner: str = "subprocess", options: Sequence[str] = (), fill_mib: int = 1536,
                budget: float = 20, isolate: bool = False, timeout: float = 3600) -> CorpusRun:
    """The attacks, in order, as experiments 1..N of `arrl run` (experiment 0 is the baseline),
    each judged by its effects on the world. An attack that ends arrl itself is judged as it
    stands, and a new world and run go on with the attacks after it. ``isolate``: a world and a
    run of its own for every attack (for runs without a sandbox, where one attack's effects
    would otherwise show in the next one's verdict)."""
    result = CorpusRun([], [], [], [], [], 0)
    remaining = list(paths)
    while remaining:
        batch = remaining[:1] if isolate else remaining
        done = _segment(root / f"world-{result.segments}", site, batch, validator, runner, options, fill_mib, budget,
                        timeout, result)
        if not done:
            break
        remaining = remaining[len(done):]
    names = [attack_name(p) for p in paths]
    if [v.name for v in result.verdicts] != names and not result.problems:
        result.problems.append("not every attack was judged")
    return result


def _segment(root: Path, site: Path, paths: Sequence[Path], validator: str, runner: str, options: Sequence[str],
             fill_mib: int, budget: float, timeout: float, result: CorpusRun) -> list[Verdict]:
    """One world and one `arrl run` of ``paths``: the verdicts of the attacks it judged."""
    root.mkdir(parents=True, exist_ok=True)
    result.segments += 1
    world = make_corpus_world(root, ATTACK_BASELINE, textwrap.dedent(ATTACK_CONFIG.format(budget=budget)))
    judge = Judge(world, budget).start()
    saved = sysctl_values()
    try:
        facts, manifest = root / "facts.json", root / "manifest.txt"
        facts.write_text(json.dumps(world.facts(fill_mib=fill_mib, budget=budget)))
        manifest.write_text("".join(f"{p}\n" for p in paths))
        command = [str(ARRL), "--plugin", "proposer=hostile", "--plugin", f"validator={validator}",
                   "--plugin", f"runner={runner}"]
        for option in options:
            command += ["-o", option]
        command += ["run", "--max-experiments", str(len(paths) + 1)]
        env = {**base_env(site), **world.environment(), "ARRL_CORPUS_JUDGE": judge.path,
               "ARRL_CORPUS_MANIFEST": str(manifest), "ARRL_CORPUS_FACTS": str(facts)}
        completed = subprocess.run(command, cwd=world.repo, env=env, capture_output=True, text=True,
                                   timeout=timeout, errors="replace")
        output = completed.stdout + completed.stderr
        result.outputs.append(output)
        judge.interrupted(completed.returncode, output)
        result.run_harms += judge.finish(output)
        result.problems += judge.errors
        done = [v for v in judge.verdicts if v.name]
        result.baselines += [v for v in judge.verdicts if not v.name]
        expected = [attack_name(p) for p in paths[:len(done)]]
        if [v.name for v in done] != expected:
            result.problems.append(f"the attacks ran out of order: {[v.name for v in done]} != {expected}")
            return []
        result.verdicts += done
        if len(done) < len(paths) and (not done or done[-1].outcome != "arrl ended"):
            result.problems.append(f"arrl stopped (exit {completed.returncode}) with {len(paths) - len(done)} "
                                   f"attacks left: {output[-1500:]}")
            return []
        return done
    finally:
        judge.close()
        world.restore_system(saved)
        close_corpus_world(world)


@attrs.frozen
class HonestResult:
    name: str
    outcome: str
    value: float | None
    failure_reason: str
    seconds: float = 0.0


def honest_baseline(steps: int) -> str:
    script = (TINYGPT / "train.py").read_text()
    changed = script.replace("\nTRAIN_STEPS = 300\n", f"\nTRAIN_STEPS = {steps}\n")
    assert changed != script, "the tiny GPT's TRAIN_STEPS line moved"
    return changed


def run_honest(root: Path, site: Path, paths: Sequence[Path], sandbox: str = "auto", validator: str = "permissive",
               steps: int = 20, budget: float = 120, options: Sequence[str] = (),
               timeout: float = 3600) -> tuple[list[HonestResult], str]:
    """The honest edits, in order, as experiments 1..N of one `arrl run` of the tiny GPT with
    ``steps`` steps; each edit's outcome and final value, and arrl's output."""
    from support import make_repo

    root.mkdir(parents=True, exist_ok=True)
    home = root / "home"
    (home / "datasets" / "tinygpt").mkdir(parents=True)
    shutil.copy(TINYGPT / "corpus.txt", home / "datasets" / "tinygpt" / "corpus.txt")
    (home / ".gitconfig").write_text("[user]\n\tname = Test User\n\temail = test@example.com\n")
    repo = make_repo(root / "repo", {"train.py": honest_baseline(steps), "corpus.txt": ""},
                     textwrap.dedent(HONEST_CONFIG.format(budget=budget)))
    shutil.copy(TINYGPT / "corpus.txt", repo / "corpus.txt")
    subprocess.run(["git", "-C", str(repo), "-c", "user.name=Test User", "-c", "user.email=test@example.com",
                    "commit", "-q", "-am", "the corpus"], check=True)
    manifest = root / "manifest.txt"
    manifest.write_text("".join(f"{p}\n" for p in paths))
    command = [str(ARRL), "--plugin", "proposer=honest", "--plugin", f"validator={validator}",
               "-o", f"runner.sandbox={sandbox}"]
    for option in options:
        command += ["-o", option]
    command += ["run", "--max-experiments", str(len(paths) + 1)]
    env = {**base_env(site), "HOME": str(home), "ARRL_CORPUS_MANIFEST": str(manifest)}
    completed = subprocess.run(command, cwd=repo, env=env, capture_output=True, text=True, timeout=timeout,
                               errors="replace")
    results = []
    for record in _journal(repo):
        if record["id"] == 0:
            name = "(baseline)"
        else:
            name = (record.get("edit") or {}).get("description", "").removeprefix("honest ")
        value = record["value"] if record["outcome"] == "ok" else None
        results.append(HonestResult(name, record["outcome"], value, record["failure_reason"],
                                    record.get("wall_clock_seconds") or 0.0))
    return results, completed.stdout + completed.stderr
