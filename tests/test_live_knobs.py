"""What the baseline run shows is live (issue #26): two lrs feeding two parameter groups are two
knobs, the micro-batch is not the batch, a ``def SGD`` never called is inert. Reading alone gets
all three wrong on tests/scripts/live/train.py (the first test pins that down); the trace and the
coverage probe of a real run of it get them right."""

from __future__ import annotations

import ast
import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import attrs
import pytest

from arrl.script.candidates import find_candidates
from arrl.script.reader import apply_values, changed_lines, extract
from arrl.trace import TRACE_FILE, Facts, facts, load, script_command
from support import git, make_repo, records, run_arrl, run_dir

LIVE = Path(__file__).parent / "scripts" / "live" / "train.py"
SOURCE = LIVE.read_text()


def line_of(text: str) -> int:
    (number,) = [n for n, line in enumerate(SOURCE.splitlines(), 1) if text in line]
    return number


EMBED_LR, MAIN_LR = line_of("parameters(), lr=0.3"), line_of("parameters(), lr=0.002")
DEAD = range(line_of("def SGD("), line_of("momentum=0.9)") + 1)


@pytest.fixture(scope="module")
def probed(tmp_path_factory: pytest.TempPathFactory) -> Facts:
    """A coverage probe of the fixture, as a run makes one."""
    folder = tmp_path_factory.mktemp("live")
    shutil.copy(LIVE, folder / "train.py")
    command = script_command(sys.executable, "train.py", (), "coverage", output_dir=str(folder), root=str(folder))
    done = subprocess.run(command, cwd=folder, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    trace = load(folder / TRACE_FILE)
    return facts(trace, "train.py", trace)


def test_reading_alone_gets_all_three_wrong() -> None:
    """Without the trace (today's reading): an lr edit rewrites both groups' rates, the batch is
    read from the micro-batch, and the dead SGD makes the optimizer ambiguous."""
    alone = extract(SOURCE, "train.py")
    assert set(changed_lines(SOURCE, apply_values(SOURCE, {"learning_rate": 0.004}, "train.py"))) == {EMBED_LR, MAIN_LR}
    assert alone.values["batch_size"] == 8
    assert "optimizer" not in alone.values and "sgd" in alone.problems["optimizer"]


def test_two_lrs_feeding_two_groups_are_two_knobs(probed: Facts) -> None:
    found = extract(SOURCE, "train.py", facts=probed)
    assert probed.main is not None and [o.parameters for o in probed.optimizers] == [1088, 4420]
    assert found.values["learning_rate"] == 0.002 and found.sites["learning_rate"].line == MAIN_LR
    edited = apply_values(SOURCE, {"learning_rate": 0.004}, "train.py", facts=probed)
    assert changed_lines(SOURCE, edited) == [MAIN_LR]
    assert SOURCE.splitlines()[EMBED_LR - 1] == edited.splitlines()[EMBED_LR - 1], "the embedding's lr is untouched"
    switched = apply_values(SOURCE, {"optimizer": "sgd"}, "train.py", facts=probed)
    assert changed_lines(SOURCE, switched) == [MAIN_LR], "switching the optimizer leaves the embedding's Adam"
    # The embedding's rate is a knob of its own, named by what it feeds, and moves alone.
    candidates, _ = find_candidates(SOURCE, found)
    assert ("embed_optimizer(lr=)", 0.3) in [(c.name, c.value) for c in candidates]
    declared = extract(SOURCE, "train.py", knobs=["embed_optimizer(lr=)"], facts=probed)
    assert declared.knobs == ("embed_optimizer(lr=)",) and declared.sites["embed_optimizer(lr=)"].editable
    moved = apply_values(SOURCE, {"embed_optimizer(lr=)": 0.6}, "train.py", facts=probed)
    assert changed_lines(SOURCE, moved) == [EMBED_LR] and "lr=0.6" in moved.splitlines()[EMBED_LR - 1]


def test_the_micro_batch_is_not_the_batch(probed: Facts) -> None:
    assert (probed.micro_batch, probed.accumulation, probed.batch) == (8, 4, 32)
    found = extract(SOURCE, "train.py", facts=probed)
    assert (found.values["batch_size"], found.sites["batch_size"].path) == (32, "batch_size")
    assert "micro-batch" in found.sites["batch_size"].note
    candidates, _ = find_candidates(SOURCE, found)
    assert "micro_batch_size" in [c.name for c in candidates], "the micro-batch is a knob of its own"
    assert changed_lines(SOURCE, apply_values(SOURCE, {"batch_size": 64}, "train.py", facts=probed)) == \
        [line_of("batch_size = 32")]


def test_a_dead_def_sgd_is_inert(probed: Facts) -> None:
    found = extract(SOURCE, "train.py", facts=probed)
    inert = [site for site in found.inert.values() if site.line in DEAD]
    assert inert and all("SGD(), which the baseline never called" in site.note for site in inert)
    assert found.values["optimizer"] == "adam" and "optimizer" not in found.problems
    assert not {site.line for site in found.sites.values()} & set(DEAD)


def test_a_probe_cut_before_training_claims_nothing_inert() -> None:
    """A probe that ended before the main optimizer stepped has not yet called what training
    calls: no function is inert on its word."""
    trace = {"records": [], "settled": False, "complete": False,
             "coverage": {"entered": [["train.py", 1]], "lines": {"train.py": [1]}}}
    found = facts(trace, "train.py", trace)
    assert not found.covered and extract(SOURCE, "train.py", facts=found).inert == {}


CONFIG = """
script = "train.py"
budget = 60
baseline_runs = 1
seed = 1
[plugins]
proposer = "random"
[early_stopping]
enabled = false
"""


def test_a_run_traces_its_baseline_probes_once_and_never_edits_dead_code(tmp_path: Path, arrl_env) -> None:
    """A knob only the trace names (the embedding optimizer's rate) may be declared before any run:
    the run starts, and moves it once the baseline has shown what it feeds."""
    config = CONFIG + '[space]\n"embed_optimizer(lr=)" = { low = 0.03, high = 3.0, log = true }\n'
    repo = make_repo(tmp_path / "project", {"train.py": SOURCE}, config)
    result = run_arrl("run", "--max-experiments", "4", cwd=repo, env=arrl_env)
    assert result.returncode == 0, result.output
    folder = run_dir(repo)
    trace, probe = json.loads((folder / "trace.json").read_text()), json.loads((folder / "probe.json").read_text())
    assert trace["settled"] and probe["complete"] and probe["coverage"]["entered"]
    assert not (folder / "experiments" / "0" / "output" / TRACE_FILE).exists(), "the trace is arrl's, not an artifact"
    log = (folder / "run.log").read_text()
    assert "coverage probe:" in log and "not an experiment" in log
    assert "baseline trace: 2 optimizer(s), the main one Adam (4420 parameters" in log and "batch 8 x 4" in log
    recs = records(repo)
    assert [r["id"] for r in recs] == [0, 1, 2, 3]
    ran = [r for r in recs[1:] if r["commit"]]
    assert ran, [r["outcome"] for r in recs]
    for record in ran:
        script = git(repo, "show", f"{record['commit']}:train.py")
        touched = set(changed_lines(SOURCE, script))
        embed = "embed_optimizer(lr=)" in record["edit"]["changes"]
        assert touched and not touched & set(DEAD) and (EMBED_LR in touched) == embed, (record["id"], touched)
    probed_at = (folder / "probe.json").stat().st_mtime
    again = run_arrl("run", "--max-experiments", "5", cwd=repo, env=arrl_env)
    assert again.returncode == 0, again.output
    assert (folder / "probe.json").stat().st_mtime == probed_at, "a resumed run reads its probe back"
    assert (folder / "run.log").read_text().count("coverage probe:") == 1
    for record in records(repo)[4:]:
        if record["commit"]:
            touched = set(changed_lines(SOURCE, git(repo, "show", f"{record['commit']}:train.py")))
            embed = "embed_optimizer(lr=)" in record["edit"]["changes"]
            assert not touched & set(DEAD) and (EMBED_LR in touched) == embed, (record["id"], touched)


def test_inspect_trace_shows_what_is_live(tmp_path: Path, arrl_env) -> None:
    repo = make_repo(tmp_path / "project", {"train.py": SOURCE}, CONFIG)
    shown = run_arrl("inspect", "--trace", "--json", cwd=repo, env=arrl_env)
    assert shown.returncode == 0, shown.output
    rows = {row["field"]: row for row in json.loads(shown.stdout)}
    assert rows["batch_size"]["value"] == 32 and rows["learning_rate"]["value"] == 0.002
    assert rows["micro_batch_size"]["kind"] == "candidate"
    assert [row["where"] for row in rows.values() if row["kind"] == "inert"] == [f"train.py:{DEAD[-1]}"]
    assert "the probe ran to its end" in shown.stderr


ARGPARSE = """
import argparse, random
parser = argparse.ArgumentParser()
parser.add_argument("-l", "--lr", type=float, default=0.1)
parser.add_argument("--dropout", type=float, default=0.2)
parser.add_argument("--tag", default="none")
args = parser.parse_args()
random.seed(0)
print(f"arrl: val_loss={abs(args.lr - 0.03) + args.dropout + random.random() * 1e-3:.6f} lr={args.lr}")
print("tag", args.tag)
"""


def test_args_reach_the_script_and_replace_their_defaults(tmp_path: Path, arrl_env) -> None:
    """Step 6: `args` in arrl.toml is the script's command line in every run (the runner contract
    shows every runner passes it), and the last override layer: the `--lr` it sets is shown with
    its value, read-only, and never proposed; `--dropout`, which it does not set, is tuned."""
    from arrl.config import settings_from
    from arrl.errors import ConfigError

    assert settings_from({"args": "-l 0.05 --tag 'two words'"}).args == ["-l", "0.05", "--tag", "two words"]
    assert settings_from({"args": ["--lr", 3]}).args == ["--lr", "3"]
    with pytest.raises(ConfigError, match="args"):
        settings_from({"args": "--tag 'unclosed"})
    found = extract(textwrap.dedent(ARGPARSE), "train.py", args=["-l", "0.05", "--tag", "x"])
    assert found.values["learning_rate"] == 0.05 and not found.sites["learning_rate"].editable
    assert "set by `args` in the configuration (-l 0.05)" in found.sites["learning_rate"].note
    assert found.sites["dropout_rate"].editable

    config = CONFIG.replace('budget = 60', 'budget = 30\nargs = "-l 0.05 --tag \'two words\'"')
    repo = make_repo(tmp_path / "project", {"train.py": ARGPARSE}, config)
    result = run_arrl("run", "--max-experiments", "4", cwd=repo, env=arrl_env)
    assert result.returncode == 0, result.output
    recs = records(repo)
    assert recs[0]["config"]["learning_rate"] == 0.05
    assert "tag two words" in Path(recs[0]["stdout_path"]).read_text()
    for record in recs[1:]:
        assert "learning_rate" not in (record["edit"] or {}).get("changes", {}), record["edit"]
        assert record["config"]["learning_rate"] == 0.05
    shown = run_arrl("inspect", "--json", cwd=repo, env=arrl_env)
    rows = {row["field"]: row for row in json.loads(shown.stdout)}
    assert rows["learning_rate"]["value"] == 0.05 and rows["learning_rate"]["status"].startswith("read-only")


TEACHER = (LIVE.parent / "teacher.py").read_text()


def test_the_data_generators_activation_is_never_edited(tmp_path: Path) -> None:
    """torch.tanh in gen() makes the labels; reading alone cannot tell it from the model's F.relu
    (the function's name says nothing). The probe saw gen() run before training began and never
    in a step: the tanh is the task's, and an activation edit rewrites the model's alone."""
    shutil.copy(LIVE.parent / "teacher.py", tmp_path / "train.py")
    command = script_command(sys.executable, "train.py", (), "coverage", output_dir=str(tmp_path), root=str(tmp_path))
    assert subprocess.run(command, cwd=tmp_path, capture_output=True, timeout=120).returncode == 0
    trace = load(tmp_path / TRACE_FILE)
    probed = facts(trace, "train.py", trace)
    (tanh,) = [n for n, line in enumerate(TEACHER.splitlines(), 1) if "torch.tanh(x" in line]
    assert "tanh" in extract(TEACHER, "train.py").problems["activation"], "alone, the reading is torn"
    found = extract(TEACHER, "train.py", facts=probed)
    assert found.values["activation"] == "relu" and any("gen()" in s.note and s.line == tanh
                                                        for s in found.inert.values())
    for activation in ("gelu", "tanh", "silu"):
        edited = apply_values(TEACHER, {"activation": activation}, "train.py", facts=probed)
        assert tanh not in changed_lines(TEACHER, edited) and edited.splitlines()[tanh - 1] == \
            TEACHER.splitlines()[tanh - 1]


def test_facts_follow_an_edited_script(probed: Facts) -> None:
    """Facts are about the baseline's lines: a script with a line inserted above keeps them (the
    reader carries each line number over), so an lr edit still moves the main group's alone."""
    from arrl.trace import moved

    edited = SOURCE.replace("torch.manual_seed(0)\n", "torch.manual_seed(0)\nprint('a line more')\n")
    carried = moved(probed, SOURCE, edited)
    out = apply_values(edited, {"learning_rate": 0.004}, "train.py", facts=carried)
    assert changed_lines(edited, out) == [MAIN_LR + 1]
    assert "embed_optimizer(lr=)" in [c.name for c in find_candidates(edited, extract(edited, "train.py",
                                                                                      facts=carried))[0]]


WHERE_THE_PROBE_DOES_NOT_LOOK = """
import torch

def make(params, lr=0.1, wd=0.01):
    return torch.optim.AdamW(params, lr=lr, weight_decay=wd)

def collate(batch, scale=0.5):
    return batch

class Data(torch.utils.data.Dataset):
    def __getitem__(self, i, jitter=0.2):
        return i

def SGD(params, lr=0.3):
    return torch.optim.SGD(params, lr=lr, momentum=0.9)

main = make(torch.nn.Linear(8, 8).parameters())
aux = make(torch.nn.Linear(2, 2).parameters())
loader = torch.utils.data.DataLoader(Data(), collate_fn=collate)
"""


def test_what_the_probe_cannot_see_is_not_inert() -> None:
    """Only a function the probe had every chance to see called is inert: not one passed as a
    value (a collate_fn may run in a worker), not a method where loaders have workers, nothing
    where torch.compile ran (compiled code runs without frames), nothing from a probe cut short;
    and a factory that built a stepped optimizer is live though it built an unstepped one too."""
    from arrl.script.reading.live import inert_lines
    from arrl.trace import Optimizer

    entered = frozenset({1, 4})  # <module> and make()
    optimizers = (Optimizer("AdamW", (5, 17), ((64, 0.1),), 10), Optimizer("AdamW", (5, 18), ((6, 0.1),), 0))
    base = Facts(optimizers, covered=True, complete=True, entered=entered)
    inert = inert_lines(ast.parse(WHERE_THE_PROBE_DOES_NOT_LOOK), base)
    assert 5 not in inert, "the factory built the stepped optimizer"
    assert 18 in inert and "never stepped" in inert[18]
    sgd = [n for n, line in enumerate(WHERE_THE_PROBE_DOES_NOT_LOOK.splitlines(), 1) if "momentum=0.9" in line]
    assert set(sgd) <= set(inert) and 8 not in inert, "SGD() is dead; collate is passed as a value"
    assert 12 in inert, "a method the probe never saw, with no workers"
    assert 12 not in inert_lines(ast.parse(WHERE_THE_PROBE_DOES_NOT_LOOK), attrs.evolve(base, workers=True))
    assert not set(sgd) & set(inert_lines(ast.parse(WHERE_THE_PROBE_DOES_NOT_LOOK), attrs.evolve(base, compiled=True)))
    assert not set(sgd) & set(inert_lines(ast.parse(WHERE_THE_PROBE_DOES_NOT_LOOK), attrs.evolve(base, covered=False)))
    assert 18 not in inert_lines(ast.parse(WHERE_THE_PROBE_DOES_NOT_LOOK), attrs.evolve(base, complete=False))
