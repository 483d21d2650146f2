"""Knobs in config files (issue #28): Hydra's YAML read where each value is written, edited in
place, judged as code, and tuned end to end on tests/scripts/styles/hydra_optim (a real
``@hydra.main`` with a defaults list and an optimizer group instantiated by ``_target_``)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hydra import compose as hydra_compose
from hydra import initialize_config_dir
from omegaconf import OmegaConf

from arrl.schema import SchemaError
from arrl.script.candidates import find_candidates
from arrl.script.configs import ConfigError, compose, read, replace
from arrl.script.configs.judge import judge
from arrl.script.reader import ScriptError, apply_edit, extract, program_hash
from arrl.trace import TRACE_FILE, Facts, Optimizer, facts, load, script_command
from support import git, records, run_arrl

HYDRA = Path(__file__).parent / "scripts" / "styles" / "hydra_optim"
SCRIPT = (HYDRA / "train.py").read_text()
ADAM = "conf/optimizer/adam.yaml"


def _flat(tree: dict, prefix: str = "") -> dict:
    flat: dict = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            flat.update(_flat(value, f"{prefix}{key}."))
        elif not isinstance(value, list):
            flat[prefix + key] = value
    return flat


@pytest.mark.parametrize("overrides", [[], ["optimizer=sgd", "optimizer.lr=0.5", "trainer.max_epochs=2"]])
def test_the_composition_is_hydras(overrides: list[str]) -> None:
    """arrl composes the config itself (OmegaConf keeps no source positions): every scalar of
    Hydra's own composition, with the same value, and each from a file arrl can point at."""
    ours = compose(HYDRA, "conf", "config", overrides)
    with initialize_config_dir(str(HYDRA / "conf"), version_base="1.3"):
        theirs = _flat(OmegaConf.to_container(hydra_compose("config", overrides=overrides), resolve=False))
    given = {o.split("=")[0] for o in overrides if "." in o.split("=")[0]}
    assert {k: s.value for k, s in ours.values.items()} == {k: v for k, v in theirs.items() if k not in given}
    assert ours.values["optimizer.weight_decay"].file == ("conf/optimizer/sgd.yaml" if overrides else ADAM)
    assert ours.groups["optimizer"].options == ("adam", "sgd")


def test_inspect_names_each_value_by_file_and_key() -> None:
    found = extract(SCRIPT, "train.py", directory=HYDRA)
    expected = {"optimizer": ("adam", f"{ADAM}:_target_"), "learning_rate": (0.001, f"{ADAM}:lr"),
                "weight_decay": (0.0, f"{ADAM}:weight_decay"),
                "batch_size": (128, "conf/data/synthetic.yaml:batch_size"), "activation": ("relu", "nn.ReLU()")}
    assert {f: (found.values[f], found.sites[f].path) for f in expected} == expected
    assert found.sites["learning_rate"].file == ADAM and found.sites["learning_rate"].line == 3
    assert found.choices["optimizer"] == ("adam", "sgd")  # the group's targets
    # The data generator's activation (torch.tanh in make_dataset) is the task: never a field.
    assert "torch.tanh" not in json.dumps([s.path for s in found.sites.values()])


def test_the_args_setting_is_the_last_layer() -> None:
    found = extract(SCRIPT, "train.py", directory=HYDRA, args=("optimizer.lr=0.01",))
    assert "learning_rate" not in found.values
    assert "optimizer.lr=0.01" in found.overridden[f"{ADAM}:lr"].note


def test_fields_map_a_yaml_value_and_errors_end_in_a_sentence() -> None:
    for name in ("cfg.optimizer.lr", "optimizer.lr", f"{ADAM}:lr"):
        mapped = extract(SCRIPT, "train.py", {"learning_rate": name}, directory=HYDRA)
        assert mapped.sites["learning_rate"].path == f"{ADAM}:lr"
    with pytest.raises(SchemaError, match=r"did you mean 'conf/optimizer/adam.yaml:lr'\?$"):
        extract(SCRIPT, "train.py", {"learning_rate": "cfg.optim.lr"}, directory=HYDRA)
    with pytest.raises(SchemaError, match=r"it assigns no literal arrl reads .*\.$"):
        extract("import torch\n", "t.py", {"learning_rate": "cfg.optimizer.lr"})


def test_an_edit_rewrites_only_the_scalars_characters() -> None:
    commented = "_target_: torch.optim.Adam\n_partial_: true\nlr: 3.0e-4  # Adam's default is 1e-3\n" \
                "weight_decay: 0.0\n"
    files = {ADAM: commented}
    program = apply_edit(SCRIPT, {"learning_rate": 6e-4}, "train.py", directory=HYDRA, files=files)
    assert program.script == SCRIPT
    assert program.files == {ADAM: commented.replace("3.0e-4", "6.0e-4")}
    assert read(ADAM, program.files[ADAM]).scalars["lr"].value == 6e-4
    # JSON and TOML keep their formats too.
    text = '{"optim": {"lr": 1e-3, "name": "adam"},\n "width": 64}\n'
    assert replace(read("c.json", text), {"optim.lr": 2e-3, "width": 128}) == \
        '{"optim": {"lr": 2e-3, "name": "adam"},\n "width": 128}\n'
    toml = "[optim]\nlr = 1e-3  # rate\nname = 'adam'\n"
    assert replace(read("c.toml", toml), {"optim.lr": 5e-4, "optim.name": "sgd"}) == \
        "[optim]\nlr = 5e-4  # rate\nname = 'sgd'\n"


def test_the_optimizer_is_picked_among_the_groups_targets() -> None:
    program = apply_edit(SCRIPT, {"optimizer": "sgd"}, "train.py", directory=HYDRA)
    assert program.files[ADAM].startswith("_target_: torch.optim.SGD\n")
    back = apply_edit(SCRIPT, {"optimizer": "adam"}, "train.py", directory=HYDRA, files=program.files)
    assert back.files[ADAM] == (HYDRA / ADAM).read_text()
    with pytest.raises(SchemaError, match="it can be adam, sgd"):
        apply_edit(SCRIPT, {"optimizer": "adamw"}, "train.py", directory=HYDRA)


def test_a_yaml_only_edit_is_a_new_program_and_a_comment_is_not() -> None:
    files = {name: (HYDRA / name).read_text() for name in extract(SCRIPT, "train.py", directory=HYDRA).config_files}
    program = apply_edit(SCRIPT, {"learning_rate": 0.002}, "train.py", directory=HYDRA, files=files)
    assert program.hash(files) != program_hash(SCRIPT, files)
    assert program_hash(SCRIPT, {**files, ADAM: files[ADAM] + "# a comment\n"}) == program_hash(SCRIPT, files)


KNOBS = {"lr": "learning_rate", "_target_": "optimizer", "weight_decay": "weight_decay"}
BEFORE = (HYDRA / ADAM).read_text()
CONFIG = (HYDRA / "conf" / "config.yaml").read_text()


def _in_domain(knob: str, value: object) -> str:
    if knob == "optimizer" and value not in ("torch.optim.Adam", "torch.optim.SGD"):
        return f"{value!r} is not among the group's targets"
    return ""


@pytest.mark.parametrize(("file", "after", "why"), [
    (ADAM, BEFORE + "betas: [0.9, 0.95]\n", "changes more than values"),
    (ADAM, BEFORE.replace("lr: 0.001", "lr: 0.001\nmomentum: 0.9"), "adds momentum"),
    (ADAM, BEFORE.replace("torch.optim.Adam", "os.system"), "not among the group's targets"),
    (ADAM, BEFORE.replace("0.001", "${oc.env:SECRET}"), "interpolation or resolver"),
    (ADAM, BEFORE.replace("0.001", "!custom 0.002"), "YAML tag"),
    (ADAM, BEFORE.replace("0.001", "!!python/object/apply:os.system [ls]"), "removes lr"),
    (ADAM, BEFORE.replace("lr: 0.001", "lr: &rate 0.001").replace("weight_decay: 0.0", "weight_decay: *rate"),
     "removes lr, weight_decay"),
    (ADAM, BEFORE.replace("_partial_: true", "_partial_: false"), "not a knob of this run"),
    (ADAM, BEFORE + "# a note\n", "changes more than values"),
    ("conf/config.yaml", CONFIG.replace("- optimizer: adam", "- optimizer: sgd"), "changes more than values"),
    ("conf/config.yaml", CONFIG.replace("outputs}/hydra", "outputs}/elsewhere"), "Hydra's own settings"),
    # Found by a helper attacking the judge: an interpolation behind an escape, numbers that one
    # loader reads as a number and another as a string, input that crashed the reading.
    (ADAM, BEFORE.replace("torch.optim.Adam", '"\\x24{oc.env:SECRET}"'), "interpolation or resolver"),
    (ADAM, BEFORE.replace("torch.optim.Adam", '"???"'), "missing value"),
    (ADAM, BEFORE.replace("0.001", "1e-3"), "PyYAML reads it as '1e-3' and OmegaConf as 0.001"),
    (ADAM, BEFORE.replace("0.001", "[" * 5000 + "]" * 5000), "cannot be read"),
])
def test_a_config_edit_may_change_knob_values_only(file: str, after: str, why: str) -> None:
    before = BEFORE if file == ADAM else CONFIG
    knobs = KNOBS if file == ADAM else {}
    problems = judge(file, before, after, knobs, _in_domain)
    assert problems and why in " ".join(problems)


def test_the_judge_reads_values_as_the_script_does() -> None:
    """+.001 and 08 are strings to PyYAML and OmegaConf alike, so a number knob refuses them; a
    key named like the defaults list is not the defaults list; crashes are refusals."""
    numbers = judge(ADAM, BEFORE, BEFORE.replace("0.001", "+.001"), KNOBS,
                    lambda knob, value: "" if isinstance(value, float) else f"{value!r} is not a number")
    assert numbers and "'+.001' is not a number" in numbers[0]
    assert judge("c.yaml", "defaults_lr: 0.1\n", "defaults_lr: 0.2\n", {"defaults_lr": "lr"}, _in_domain) == []
    assert "cannot be read" in judge("c.json", '{"lr": 1}', '{"lr": ' + "9" * 5001 + "}", {"lr": "lr"}, _in_domain)[0]


def test_toml_values_are_read_where_tomllib_reads_them() -> None:
    """A quoted table header, a key inside a multi-line string and a # inside a string: each value
    is what tomllib reads at its key, or not read at all."""
    text = "[optimizer]\nlr = 0.001\n['scheduler']\nlr = 0.5\n[train]\nnote = \"\"\"\nwd = 9\n\"\"\"\nname = \"run#1\"  # c\n"
    scalars = read("c.toml", text).scalars
    assert {k: s.value for k, s in scalars.items()} == {"optimizer.lr": 0.001, "scheduler.lr": 0.5,
                                                         "train.name": "run#1"}
    assert replace(read("c.toml", text), {"train.name": "run#2"}).endswith('name = "run#2"  # c\n')


def test_values_that_would_not_read_back_are_not_written() -> None:
    document = read("c.yaml", "lr: 3.0e-4\nname: 'a'\n")
    assert replace(document, {"lr": 0.0012345678}) == "lr: 1.2345678e-3\nname: 'a'\n"
    with pytest.raises(ConfigError, match="not a number a config file can hold"):
        replace(document, {"lr": float("inf")})
    with pytest.raises(ConfigError, match="cannot be written so that it reads back the same"):
        replace(document, {"name": "a\nb"})


def test_hydras_own_groups_are_not_the_scripts(tmp_path: Path) -> None:
    """`override hydra/launcher: ...` and a conf/hydra/ file are Hydra's settings: never composed
    as values, so never knobs."""
    conf = tmp_path / "conf"
    (conf / "hydra" / "run").mkdir(parents=True)
    (conf / "config.yaml").write_text("defaults:\n  - override hydra/launcher: joblib\n  - hydra/run: x\n  - _self_\n"
                                      "lr: 0.1\n")
    (conf / "hydra" / "run" / "x.yaml").write_text("dir: outputs\n")
    assert list(compose(tmp_path, "conf", "config").values) == ["lr"]


def test_what_arrl_writes_passes_the_judge() -> None:
    program = apply_edit(SCRIPT, {"learning_rate": 0.004, "optimizer": "sgd"}, "train.py", directory=HYDRA)
    assert judge(ADAM, BEFORE, program.files[ADAM], KNOBS, _in_domain) == []


def test_a_broken_config_is_a_clear_error() -> None:
    with pytest.raises(ScriptError, match="conf/optimizer/adam.yaml cannot be read"):
        extract(SCRIPT, "train.py", directory=HYDRA, files={ADAM: "lr: [0.1\n"})


def test_a_hydra_script_is_tuned_in_yaml_and_applied_with_its_comments(tmp_path: Path) -> None:
    """End to end with the real Hydra: an lr edit in YAML runs, is kept, and ``arrl apply best``
    makes it one commit that changes the YAML, its comment intact."""
    repo = tmp_path / "repo"
    shutil.copytree(HYDRA, repo)
    # A rate at the low end of its domain: the one move is up, and 4 epochs at 1e-4 leave room.
    (repo / ADAM).write_text(BEFORE.replace("lr: 0.001", "lr: 1.0e-4  # the template's rate"))
    (repo / "arrl.toml").write_text(
        'script = "train.py"\nmetric = "val_loss"\nbudget = 120\nbaseline_runs = 1\nmax_experiments = 2\n'
        # One epoch of four, by Hydra's own override from the args setting: the test's time.
        'args = ["trainer.max_epochs=1"]\n'
        'exclude = ["activation", "optimizer", "weight_decay", "batch_size"]\n'
        '[plugins]\nproposer = "random"\n[space]\nlearning_rate = { low = 1e-4, high = 1e-2, log = true }\n')
    (repo / ".gitignore").write_text(".arrl/\n")
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "-c", "user.name=T", "-c", "user.email=t@example.com", "commit", "-qm", "baseline")
    done = run_arrl("run", cwd=repo)
    assert done.returncode == 0, done.output
    first, edited = records(repo)
    assert edited["outcome"] == "ok" and edited["kept"], edited
    assert list(edited["edit"]["changes"]) == ["learning_rate"]
    assert edited["program_hash"] != first["program_hash"]
    assert f"--- a/{ADAM}" in edited["diff_parent"] and "--- a/train.py" not in edited["diff_parent"]
    applied = run_arrl("apply", "best", cwd=repo)
    assert applied.returncode == 0, applied.output
    assert git(repo, "diff", "--name-only", "HEAD~1", "HEAD").split() == [ADAM]
    lr_line = next(line for line in (repo / ADAM).read_text().splitlines() if line.startswith("lr:"))
    assert lr_line == "lr: 2.0e-4  # the template's rate"
    assert read(ADAM, (repo / ADAM).read_text()).scalars["lr"].value == edited["config"]["learning_rate"]


STYLES = HYDRA.parent


def test_a_json_config_the_script_loads_is_read_and_edited_in_place(tmp_path: Path) -> None:
    """pytorch-template: every object built from config.json's "type" and "args"; the edited file
    is what the script then trains with (its baseline trace says so)."""
    folder = STYLES / "json_template"
    source, before = (folder / "train.py").read_text(), (folder / "config.json").read_text()
    found = extract(source, "train.py", directory=folder)
    assert {f: found.sites[f].path for f in ("optimizer", "learning_rate", "batch_size", "dropout_rate")} == {
        "optimizer": "config.json:optimizer.type", "learning_rate": "config.json:optimizer.args.lr",
        "batch_size": "config.json:data_loader.args.batch_size", "dropout_rate": "config.json:arch.args.dropout"}
    assert found.choices["optimizer"] == ("adam", "adamw")  # "amsgrad" is an argument SGD does not take
    program = apply_edit(source, {"optimizer": "adamw", "learning_rate": 0.002}, "train.py", directory=folder)
    assert program.script == source
    assert program.files == {"config.json": before.replace('"type": "Adam"', '"type": "AdamW"')
                             .replace('"lr": 0.001', '"lr": 0.002')}
    work = tmp_path / "work"
    shutil.copytree(folder, work)
    (work / "config.json").write_text(program.files["config.json"].replace('"epochs": 6', '"epochs": 1'))
    command = script_command(sys.executable, "train.py", (), "trace", output_dir=str(tmp_path), root=str(work))
    done = subprocess.run(command, cwd=work, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    traced = facts(load(tmp_path / TRACE_FILE), "train.py")
    assert traced.main is not None and traced.main.name == "AdamW" and traced.main.groups[0][1] == 0.002


def test_a_toml_job_file_is_read_and_its_formats_kept() -> None:
    """torchtitan: the [optimizer] table's name is the optimizer, local_batch_size the batch,
    max_norm the clip; [validation] and [checkpoint] values are hands-off whatever their keys say."""
    folder = STYLES / "toml_titan"
    source = (folder / "train.py").read_text()
    job = "train_configs/debug_model.toml"
    found = extract(source, "train.py", directory=folder)
    assert {f: (found.values[f], found.sites[f].path) for f in ("optimizer", "learning_rate", "batch_size",
                                                                "gradient_clip")} == {
        "optimizer": ("adamw", f"{job}:optimizer.name"), "learning_rate": (8e-4, f"{job}:optimizer.lr"),
        "batch_size": (8, f"{job}:training.local_batch_size"), "gradient_clip": (1.0, f"{job}:training.max_norm")}
    program = apply_edit(source, {"learning_rate": 1.6e-3, "optimizer": "adam"}, "train.py", directory=folder)
    text = (folder / job).read_text()
    assert program.files == {job: text.replace("lr = 8e-4", "lr = 1.6e-3").replace('name = "AdamW"', 'name = "Adam"')}
    candidates, hands_off = find_candidates(source, found)
    names = {c.name.split(":")[-1] for c in candidates}
    assert {"optimizer.eps", "lr_scheduler.warmup_steps", "training.seq_len"} <= names
    assert {"validation.freq", "checkpoint.interval", "compile.enable", "training.steps"} <= \
        {h.name.split(":")[-1] for h in hands_off}


def test_a_json_file_given_on_the_command_line_overrides_the_class_defaults(tmp_path: Path) -> None:
    """The config_json style with ``args = ["--config", "over.json"]``: the file's values win over
    the class's, which are shown overridden; an edit writes the file, in torch's spelling."""
    folder = tmp_path / "style"
    shutil.copytree(STYLES / "config_json", folder)
    (folder / "over.json").write_text('{\n  "lr": 0.003,\n  "optimizer": "AdamW"\n}\n')
    source, args = (folder / "train.py").read_text(), ("--config", "over.json")
    found = extract(source, "train.py", directory=folder, args=args)
    assert found.sites["learning_rate"].path == "over.json:lr"
    assert "over.json" in found.overridden["Config.lr"].note
    program = apply_edit(source, {"learning_rate": 0.006, "optimizer": "adam"}, "train.py", directory=folder,
                         args=args)
    assert program.files == {"over.json": '{\n  "lr": 0.006,\n  "optimizer": "Adam"\n}\n'}
    assert program.script == source


def test_a_config_value_must_be_what_training_got() -> None:
    """With the baseline's trace, the optimizer, the rate and the batch read from YAML are checked
    against what training built: one that disagrees (another layer sets it, the script scales it)
    is a problem, not a field."""
    agrees = Facts(optimizers=(Optimizer("Adam", (), ((21898, 0.001),), 3),), micro_batch=128)
    found = extract(SCRIPT, "train.py", directory=HYDRA, facts=agrees)
    assert all(f in found.values and "the trace agrees" in found.sites[f].note
               for f in ("optimizer", "learning_rate", "batch_size"))
    scaled = Facts(optimizers=(Optimizer("SGD", (), ((21898, 0.004),), 3),), micro_batch=64)
    found = extract(SCRIPT, "train.py", directory=HYDRA, facts=scaled)
    assert not {"optimizer", "learning_rate", "batch_size"} & found.values.keys()
    assert "it does not reach training as read" in found.problems["learning_rate"]
    assert "SGD" in found.problems["optimizer"] and "64" in found.problems["batch_size"]


def test_an_integer_knob_written_as_a_float_is_refused() -> None:
    """batch_size: 32.0 equals 32, but the script would get a float (DataLoader refuses it)."""
    from types import SimpleNamespace

    from arrl.run.edits import outside_domain as _outside
    from arrl.script.space import build_space

    space = build_space({"batch_size": 128, "learning_rate": 0.001}, editable=("batch_size", "learning_rate"))
    bench = SimpleNamespace(space=space)
    assert "written as a float" in _outside(bench, "batch_size", 32.0)  # type: ignore[arg-type]
    assert _outside(bench, "batch_size", 32) == ""  # type: ignore[arg-type]
    assert _outside(bench, "learning_rate", 0.002) == ""  # type: ignore[arg-type]


def _bench(folder: Path, files: dict[str, str]) -> object:
    """What config_refusals reads of a run: its reading of a version, and its space."""
    from types import SimpleNamespace

    from arrl.script.space import build_space

    script = (folder / "train.py").read_text()
    baseline = extract(script, "train.py", directory=folder, files=files)
    return SimpleNamespace(extract=lambda text, version: extract(text, "train.py", directory=folder, files=version),
                           space=build_space(baseline.values, editable=tuple(baseline.editable)))


def test_an_optimizer_switch_in_yaml_passes_the_run_s_judge_and_one_outside_the_group_does_not() -> None:
    """The judge takes the value as the reader does (torch.optim.SGD is the optimizer sgd), among
    the group's targets: what arrl writes is accepted, AdamW (not an option of the group) is not."""
    from arrl.records import Proposal
    from arrl.run.edits import config_refusals

    files = {name: (HYDRA / name).read_text() for name in extract(SCRIPT, "train.py", directory=HYDRA).config_files}
    bench = _bench(HYDRA, files)
    switched = apply_edit(SCRIPT, {"optimizer": "sgd"}, "train.py", directory=HYDRA, files=files)
    assert config_refusals(bench, SCRIPT, files, Proposal(SCRIPT, files=switched.files)) == ""  # type: ignore[arg-type]
    outside = {ADAM: files[ADAM].replace("torch.optim.Adam", "torch.optim.AdamW")}
    said = config_refusals(bench, SCRIPT, files, Proposal(SCRIPT, files=outside))  # type: ignore[arg-type]
    assert "not among the choices here (adam, sgd)" in said


def test_a_data_file_the_script_loads_is_not_a_config(tmp_path: Path) -> None:
    (tmp_path / "labels.json").write_text('["cat", "dog"]')
    source = "import json\nLR = 0.1\nLABELS = json.load(open('labels.json'))\n"
    assert extract(source, "train.py", directory=tmp_path).values == {"learning_rate": 0.1}


def test_the_trace_is_joined_with_the_committed_baseline_not_the_working_tree() -> None:
    """The workbench passes the baseline's committed files: a working tree edited since (lr 0.005
    here, on disk) does not make the committed lr look unused."""
    committed = {name: (HYDRA / name).read_text() for name in extract(SCRIPT, "train.py", directory=HYDRA).config_files}
    facts_ = Facts(optimizers=(Optimizer("Adam", (), ((21898, 0.001),), 3),), micro_batch=128)
    edited = {**committed, ADAM: committed[ADAM].replace("0.001", "0.004")}  # a later version's
    found = extract(SCRIPT, "train.py", directory=HYDRA, facts=facts_, files=edited, baseline_files=committed)
    assert found.values["learning_rate"] == 0.004 and "the trace agrees" in found.sites["learning_rate"].note


def test_hydra_optional_overrides_and_nested_packages(tmp_path: Path) -> None:
    """As Hydra composes them: an optional option that is not there is skipped, an `override` in
    an experiment chosen on the command line changes the model, and `group@pkg` inside a group's
    config is relative to that group's package."""
    files = {
        "conf/config.yaml": "defaults:\n  - model: small\n  - optional db: mysql\n  - experiment: null\n  - _self_\n"
                            "lr: 0.1\n",
        "conf/model/small.yaml": "defaults:\n  - encoder@enc: tiny\nwidth: 32\n",
        "conf/model/big.yaml": "defaults:\n  - encoder@enc: tiny\nwidth: 64\n",
        "conf/model/encoder/tiny.yaml": "depth: 2\n",
        "conf/experiment/ex.yaml": "# @package _global_\ndefaults:\n  - override /model: big\nlr: 0.2\n",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    ours = compose(tmp_path, "conf", "config", ["experiment=ex"])
    with initialize_config_dir(str(tmp_path / "conf"), version_base="1.3"):
        theirs = _flat(OmegaConf.to_container(hydra_compose("config", overrides=["experiment=ex"])))
    # The primary's _self_ is last: its lr wins over the experiment's.
    assert {k: s.value for k, s in ours.values.items()} == theirs == {"model.width": 64, "model.enc.depth": 2, "lr": 0.1}
    assert ours.values["model.width"].file == "conf/model/big.yaml"


def test_only_the_script_s_own_folder_is_followed() -> None:
    import ast

    from arrl.script.configs.loads import loaded_files

    up = "import json\nfrom pathlib import Path\njson.load(open(Path(__file__).parent.parent / 'c.json'))\n"
    here = "import json, os\njson.load(open(os.path.join(os.path.dirname(os.path.abspath(__file__)), 'c.json')))\n"
    assert loaded_files(ast.parse(up)) == [] and loaded_files(ast.parse(here)) == [("c.json", 2)]


def test_an_edit_of_a_yaml_knob_allows_no_line_of_the_script() -> None:
    """A config site's line is the file's: it must not let a knob proposer's edit of learning_rate
    (line 3 of adam.yaml) rewrite line 3 of train.py."""
    from types import SimpleNamespace

    from arrl.records import Edit, Proposal
    from arrl.run.edits import stray_lines

    bench = SimpleNamespace(components=SimpleNamespace(proposer=SimpleNamespace(writes_code=False)),
                            extract=lambda text: extract(text, "train.py", directory=HYDRA))
    lines = SCRIPT.splitlines(keepends=True)
    lines[2] = "import os; os.system('true')\n"
    proposal = Proposal("".join(lines), Edit({"learning_rate": 0.002}, "learning_rate 0.001 -> 0.002"))
    assert "also rewrites line 3" in stray_lines(bench, SCRIPT, proposal)  # type: ignore[arg-type]
