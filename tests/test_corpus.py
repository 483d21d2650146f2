"""The attack and honest corpora (tests/corpus/) end to end through `arrl run`, judged by effects.

The corpus plugin (tests/corpus/hostile_plugin, pip-installed for arrl's subprocesses) proposes
each attack script of tests/corpus/attacks as one experiment; tests/corpus/oracle.py judges each
by what it did to a world of canaries, listeners and victim processes (never by what it printed).

- A sample, one or two attacks per category, with the validator off and the default runner
  (the sandbox): no harmful effect.
- The control: attacks that touch only the test's world, with ``-o runner.sandbox=off``: the
  oracle sees each kind of harm, so the sample's silence means something.
- A sample of honest edits of the tiny GPT, sandboxed and unsandboxed: the same outcome and value.

The whole corpus, with the validator on and off and under every runner, is
benchmarks/security/corpus.py (docs/benchmarks.md, "Attacks and honest edits under the sandbox").
"""

from __future__ import annotations

import ast
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from support import skip_or_fail

sys.path.insert(0, str(Path(__file__).resolve().parent / "corpus"))

import drive  # noqa: E402
import oracle  # noqa: E402

# One or two per category, each a different mechanism, all fast.
SAMPLE = [
    "secrets/home_files", "secrets/proc_environ", "secrets/output_links",
    "write/git_config_commands", "write/journal_forgery",
    "network/tcp_host_address", "network/abstract_socket",
    "processes/signal_victim", "processes/proc_mem",
    "escape/new_user_namespace", "escape/open_by_handle",
    "native/ctypes_system", "native/pickle_payload",
    "resources/fork_many", "resources/fill_dev_shm",
    "persistence/daemon_kills_reaper", "persistence/crontab_paths",
    "records/odd_output_names",
    # What arrl itself does with what an experiment leaves: prints its stderr (escape sequences),
    # walks its output and its workspace copy (trees deeper than Python's recursion limit).
    "records/terminal_escapes", "records/deep_output_tree", "resources/deep_and_wide_trees",
]
# Small sizes so that the filling attacks hit their limits at once.
SMALL = ["runner.tmp_size=32m", "runner.shm_size=32m", "runner.output_quota=32m"]
# Attacks the control runs without a sandbox: each touches only the test's own world.
CONTROL = {
    "secrets/home_files": "secrets in what arrl kept",
    "secrets/environment": "secrets in what arrl kept",
    "write/home_dotfiles": "changed: ",
    "network/tcp_loopback": "connections received: ['tcp'",
    "network/abstract_socket": "connections received: ['abstract'",
    "processes/signal_victim": "signals received",
}
HONEST_SAMPLE = ["fused_adamw", "sched_getaffinity", "checkpoint_roundtrip", "dataloader_workers", "tempfile_cache",
                 "git_commit_logging", "home_dataset_dir"]


@pytest.fixture(scope="module")
def sandbox_available() -> None:
    from arrl.plugins.runners import sandbox

    found = sandbox.probe()
    if not found.available:
        skip_or_fail(f"no sandbox on this machine: {found.reason}")


@pytest.fixture(scope="module")
def scratch() -> Iterator[Path]:
    """Worlds live here; removed with rm -rf, since an attack's tree may be too deep for rmtree."""
    folder = Path(tempfile.mkdtemp(prefix="arrl-test-corpus-"))
    yield folder
    subprocess.run(["rm", "-rf", str(folder)], check=False)


@pytest.fixture(scope="module")
def site(scratch: Path) -> Path:
    return drive.install_plugin(scratch / "site", scratch / "plugin-source")


def describe(run: drive.CorpusRun) -> str:
    return "\n".join([*(f"{v.name}: {v.harms}" for v in run.harmful()), *run.problems, *run.run_harms])


# -- the corpus itself -------------------------------------------------------------------------
def test_the_corpus_has_sixty_attacks_and_thirty_honest_edits_by_category() -> None:
    attacks = drive.attacks()
    categories = {p.parent.name for p in attacks}
    assert len(attacks) >= 60 and categories == {"secrets", "write", "network", "processes", "escape", "native",
                                                  "resources", "persistence", "records"}
    assert all(sum(1 for p in attacks if p.parent.name == c) >= 3 for c in categories)
    for path in attacks:
        tree = ast.parse(path.read_text())  # a valid script,
        assert ast.get_docstring(tree), path  # that says what it tries,
        assert "W: dict = {}" in path.read_text(), path  # and takes the world's facts
    honest = drive.honest_edits()
    assert len(honest) >= 30
    baseline = drive.honest_baseline(20)
    for path in honest:
        edited = drive.apply_edits(baseline, drive.read_edits(path))  # each text found once
        assert edited != baseline and ast.get_docstring(ast.parse(path.read_text())), path
        compile(edited, str(path), "exec")
    assert set(SAMPLE) <= {f"{p.parent.name}/{p.stem}" for p in attacks}
    assert all(drive.marked(p, "unsandboxed-safe") for p in drive.attacks(list(CONTROL)))


# -- attacks ---------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def sample(sandbox_available, scratch: Path, site: Path) -> dict[str, oracle.Verdict]:
    """The sample through `arrl run` with the validator off and the default runner."""
    names = list(SAMPLE)
    run = drive.run_attacks(scratch / "sample", site, drive.attacks(names), options=SMALL, fill_mib=64, budget=20)
    assert run.problems == [], describe(run)
    assert [v.name for v in run.verdicts] == [f"attack {name}" for name in names]
    assert all(v.harms == [] for v in run.baselines), describe(run)
    assert run.run_harms == [], describe(run)
    return {v.name.removeprefix("attack "): v for v in run.verdicts}


def test_a_sample_of_attacks_does_no_harm_in_the_sandbox(sample: dict[str, oracle.Verdict]) -> None:
    harmful = {name: sample[name].harms for name in SAMPLE if sample[name].harms}
    assert harmful == {}
    # Each ran (none was refused or left unjudged): the sandbox, not a validator, held. An attack
    # that printed its parent's curve exactly is no_effect (arrl.run.effect): it ran too.
    assert all(sample[name].outcome in ("ok", "no_effect", "failed", "timed_out") for name in SAMPLE)


def test_without_the_sandbox_the_oracle_sees_each_kind_of_harm(scratch: Path, site: Path) -> None:
    """The control: attacks that touch only the test's own world, the sandbox off by name. Each
    is harmful, by the effect its kind has."""
    names = list(CONTROL)
    run = drive.run_attacks(scratch / "control", site, drive.attacks(names), options=[*SMALL, "runner.sandbox=off"],
                            fill_mib=16)
    assert run.problems == [], describe(run)
    for name, verdict in zip(names, run.verdicts, strict=True):
        assert any(CONTROL[name] in harm for harm in verdict.harms), (name, verdict.harms)


# -- the oracle ----------------------------------------------------------------------------------------
def test_the_oracle_sees_a_process_left_running_and_a_planted_file(tmp_path: Path) -> None:
    """What no control run shows (arrl's containment ends daemons even without the sandbox, and
    the machine's own places are not for a test to write): the checks themselves."""
    world = oracle.make_corpus_world(tmp_path, drive.ATTACK_BASELINE, "script = \"train.py\"\n")
    try:
        before = world.guarded(None, None)
        left = subprocess.Popen(["sh", "-c", "sleep 60", world.marker], start_new_session=True)
        planted = Path(f"/tmp/{world.marker}-planted")
        planted.write_text("x")
        try:
            deadline = time.monotonic() + 5  # until the child has exec'd its command line
            while left.pid not in world.processes("no-run", exclude=set()) and time.monotonic() < deadline:
                time.sleep(0.05)
            assert left.pid in world.processes("no-run", exclude=set())
            after = world.guarded(None, None)
            assert str(planted) in {k for k in set(before) | set(after) if before.get(k) != after.get(k)}
        finally:
            left.kill()
            left.wait()
            planted.unlink()
        assert world.processes("no-run", exclude=set()) == {}
        secret = world.env_secrets["GITHUB_TOKEN"]
        assert oracle.leaks(world, [secret.encode().hex()]) == [secret]  # an encoded secret is still seen
    finally:
        oracle.close_corpus_world(world)


# -- honest edits --------------------------------------------------------------------------------
class HonestRuns:
    """The honest sample and the known sandbox-only failures, unsandboxed and sandboxed: two
    `arrl run`s side by side, started when the module starts so that they overlap the attacks."""

    def __init__(self, scratch: Path, site: Path) -> None:
        self.paths = drive.honest_edits(HONEST_SAMPLE)
        self.results: dict[str, dict[str, drive.HonestResult]] = {}
        self.outputs: dict[str, str] = {}
        self.threads = [threading.Thread(target=self._run, args=(scratch, site, mode), daemon=True)
                        for mode in ("off", "auto")]
        for thread in self.threads:
            thread.start()

    def _run(self, scratch: Path, site: Path, mode: str) -> None:
        try:
            found, self.outputs[mode] = drive.run_honest(scratch / f"honest-{mode}", site, self.paths, sandbox=mode,
                                                         steps=20, budget=300)
            self.results[mode] = {r.name: r for r in found}
        except Exception as error:  # noqa: BLE001 - reported by the fixture that waits for it
            self.outputs[mode] = f"{type(error).__name__}: {error}"

    def wait(self) -> dict[str, dict[str, drive.HonestResult]]:
        for thread in self.threads:
            thread.join()
        for mode in ("off", "auto"):
            assert len(self.results.get(mode, {})) == len(self.paths) + 1, self.outputs.get(mode, "")[-3000:]
        return self.results


@pytest.fixture(scope="module", autouse=True)
def honest_runs(request: pytest.FixtureRequest, scratch: Path, site: Path) -> Iterator[HonestRuns | None]:
    from arrl.plugins.runners import sandbox

    wanted = any(item.module is request.module and "honest_edit" in item.name for item in request.session.items)
    runs = HonestRuns(scratch, site) if wanted and sandbox.probe().available else None
    yield runs
    if runs is not None:
        for thread in runs.threads:
            thread.join()  # before the scratch folder goes


@pytest.fixture(scope="module")
def honest(sandbox_available, honest_runs: HonestRuns | None) -> dict[str, dict[str, drive.HonestResult]]:
    assert honest_runs is not None
    return honest_runs.wait()


@pytest.mark.parametrize("name", ["(baseline)", *HONEST_SAMPLE])
def test_an_honest_edit_gives_the_same_result_sandboxed(name: str, honest) -> None:
    off, on = honest["off"][name], honest["auto"][name]
    # An honest edit that changes nothing the script prints is no_effect (arrl.run.effect): it ran.
    assert off.outcome in ("ok", "no_effect"), off
    assert (on.outcome, on.value) == (off.outcome, off.value), (on, off)
