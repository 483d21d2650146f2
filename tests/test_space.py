"""The search space fits the scripts people train: the baseline is always inside, knobs by the
script's own name, candidates, hands-off values, deeper reading, and fixtures in the styles of
public training scripts with labelled knobs."""

from __future__ import annotations

import json
import random
import re
import shutil
import tomllib
from pathlib import Path

import attrs
import pytest

import arrl
from arrl.errors import ConfigError
from arrl.plugins.validator.ast_validator import AstValidator
from arrl.records import Observation
from arrl.schema import SchemaError
from arrl.script import apply_values, extract
from arrl.script.actions import apply_move, moves, random_edit
from arrl.script.candidates import find_candidates, hands_off_reason
from arrl.script.observation import OBSERVATION_SIZE, OBSERVATION_VERSION, encode, encode_config, observation_size
from arrl.script.space import SpaceEntry, SpaceSettings, build_space, space_toml
from support import ROOT, git, make_repo, records, run_arrl

STYLES = ROOT / "tests" / "scripts" / "styles"
NANOGPT = (STYLES / "nanogpt" / "train.py").read_text()
AUTORESEARCH = (STYLES / "autoresearch" / "train.py").read_text()


def _labels(style: str) -> dict:
    return tomllib.loads((STYLES / style / "labels.toml").read_text())


def _replace(source: str, old: str, new: str) -> str:
    assert source.count(old) == 1, old
    return source.replace(old, new)


# --- 1. the baseline is always inside the space ---------------------------------------------

def test_nanogpt_style_reads_at_least_nine_editable_fields_and_refuses_none_it_uses() -> None:
    found = extract(NANOGPT, "train.py", directory=STYLES / "nanogpt")
    assert set(found.editable) >= set(_labels("nanogpt")["fields"])
    assert len(found.editable) >= 9
    # 768 and 12 are outside the design document's choices, yet editable starting points.
    assert found.values["hidden_dim"] == 768 and found.values["batch_size"] == 12
    assert {"hidden_dim", "batch_size"} <= set(found.out_of_range) and not found.invalid
    # Nothing the script really uses is refused: the baseline validates against itself.
    assert AstValidator().validate(NANOGPT, NANOGPT).accepted


def test_nanogpt_style_learning_rate_edit_is_accepted_by_arrl_validate(tmp_path: Path) -> None:
    (tmp_path / "train.py").write_text(NANOGPT)
    proposed = apply_values(NANOGPT, {"learning_rate": 3e-4})
    assert "n_embd = 768\n" in proposed and "batch_size = 12\n" in proposed
    (tmp_path / "proposed.py").write_text(proposed)
    result = run_arrl("validate", "--baseline", "train.py", "proposed.py", cwd=tmp_path)
    assert result.returncode == 0, result.output
    assert "accepted" in result.stdout
    # A value outside the domain grown around the baseline is still refused.
    (tmp_path / "bad.py").write_text(_replace(NANOGPT, "learning_rate = 6e-4", "learning_rate = 1e10"))
    bad = run_arrl("validate", "--baseline", "train.py", "bad.py", cwd=tmp_path)
    assert bad.returncode == 1 and "learning_rate: 10000000000.0 is above the maximum 1" in bad.stdout


def test_validation_refuses_only_changed_values_outside_the_grown_domain() -> None:
    validator = AstValidator()
    base = "N_EMBD = 768\nN_HEAD = 12\nBATCH_SIZE = 12\nWEIGHT_DECAY = 0.2\nLR = 1e-3\nprint(LR)\n"
    assert validator.validate(_replace(base, "LR = 1e-3", "LR = 2e-3"), base).accepted
    assert validator.validate(_replace(base, "WEIGHT_DECAY = 0.2", "WEIGHT_DECAY = 0.18"), base).accepted
    # Changed and outside: refused, naming the grown domain.
    refused = validator.validate(_replace(base, "BATCH_SIZE = 12", "BATCH_SIZE = 48"), base)
    assert "batch_size: 48 is not one of {8, 12, 16, 32, 64, 128, 256}" in str(refused)
    refused = validator.validate(_replace(base, "WEIGHT_DECAY = 0.2", "WEIGHT_DECAY = 0.3"), base)
    assert "weight_decay: 0.3 is above the maximum 0.2" in str(refused)
    # Heads must still divide the width when either changes.
    refused = validator.validate(_replace(base, "N_HEAD = 12", "N_HEAD = 7"), base)
    assert "attention_heads: 7 does not divide hidden_dim 768" in str(refused)


def test_choice_domain_gets_the_baseline_inserted_in_order_and_heads_follow_width() -> None:
    space = build_space({"hidden_dim": 768, "attention_heads": 12, "batch_size": 12})
    assert space["hidden_dim"].choices == (64, 128, 256, 512, 768, 1024)
    assert space["batch_size"].choices == (8, 12, 16, 32, 64, 128, 256)
    config = {"hidden_dim": 768, "attention_heads": 12, "batch_size": 12}
    up = apply_move(config, arrl.script.actions.Move("hidden_dim", "up"), space)
    assert up["hidden_dim"] == 1024 and up["hidden_dim"] % up["attention_heads"] == 0
    down = apply_move(config, arrl.script.actions.Move("batch_size", "down"), space)
    assert down["batch_size"] == 8


def test_overrides_in_the_config_narrow_or_replace_a_domain() -> None:
    settings = SpaceSettings({"learning_rate": SpaceEntry(low=1e-4, high=1e-2),
                              "activation": SpaceEntry(choices=["relu", "gelu"])})
    space = build_space({"learning_rate": 1e-3, "activation": "gelu"}, settings)
    assert (space["learning_rate"].low, space["learning_rate"].high) == (1e-4, 1e-2)
    assert space["activation"].choices == ("relu", "gelu")
    base = "LR = 1e-3\nACTIVATION = 'gelu'\nprint(LR)\n"
    validator = AstValidator(space=settings)
    assert validator.validate(_replace(base, "LR = 1e-3", "LR = 5e-3"), base).accepted
    assert "above the maximum 0.01" in str(validator.validate(_replace(base, "LR = 1e-3", "LR = 0.1"), base))
    assert "not one of {relu, gelu}" in str(validator.validate(_replace(base, "'gelu'", "'silu'"), base))
    with pytest.raises(ConfigError, match="low/high apply to a numeric field"):
        build_space({"activation": "gelu"}, SpaceSettings({"activation": SpaceEntry(low=1)}))


def test_a_small_numpy_script_with_hidden_32_is_tunable() -> None:
    source = "import numpy as np\nHIDDEN = 32\nLR = 0.05\nprint(f'arrl: val_loss={LR * HIDDEN}')\n"
    found = extract(source)
    space = build_space(found.values, editable=tuple(found.editable))
    validator = AstValidator()
    rng = random.Random(0)
    for _ in range(20):
        edit = random_edit(found.values, rng, 2, tuple(found.editable), found.choices, space)
        assert validator.validate(apply_values(source, edit.changes, space=space), source).accepted


def test_observation_encoding_is_versioned_and_spreads_values_between_choices() -> None:
    assert OBSERVATION_VERSION == 3  # 3: move-to-result attribution features (issue 10)
    vector = encode_config({"hidden_dim": 768})
    # hidden_dim follows num_layers (2 entries): presence, then the one-hot over 64..1024.
    assert vector[2] == 1.0 and vector[3:8] == pytest.approx([0, 0, 0, 1 - 0.584963, 0.584963], abs=1e-5)
    assert all(0.0 <= x <= 1.0 for x in vector)


# --- 2. knobs by the script's own name ------------------------------------------------------

KNOBS = SpaceSettings({"MATRIX_LR": SpaceEntry(low=0.005, high=0.2, log=True),
                       "WARMUP_RATIO": SpaceEntry(low=0.0, high=0.5, type="float"),
                       "TOTAL_BATCH_SIZE": SpaceEntry(low=2**7, high=2**12, log=True),
                       "WINDOW_PATTERN": SpaceEntry(choices=["SL", "LL", "SS"])})


def test_knobs_are_typed_from_the_baseline_or_declared_type_and_expressions_read_as_values() -> None:
    found = extract(AUTORESEARCH, knobs=KNOBS.knobs)
    assert found.values["TOTAL_BATCH_SIZE"] == 512  # written 2**9
    assert found.values["WARMUP_RATIO"] == 0
    space = build_space(found.values, KNOBS, tuple(found.editable))
    assert space["WARMUP_RATIO"].kind == "float" and space["TOTAL_BATCH_SIZE"].kind == "int"
    assert space["WINDOW_PATTERN"].kind == "choice"
    config = dict(found.values)
    up = apply_move(config, arrl.script.actions.Move("WARMUP_RATIO", "up"), space)
    assert up["WARMUP_RATIO"] == pytest.approx(0.05)
    doubled = apply_move(config, arrl.script.actions.Move("TOTAL_BATCH_SIZE", "up"), space)
    edited = apply_values(AUTORESEARCH, {"TOTAL_BATCH_SIZE": doubled["TOTAL_BATCH_SIZE"],
                                         "WARMUP_RATIO": 0.05, "WINDOW_PATTERN": "LL"}, space=space)
    assert "TOTAL_BATCH_SIZE = 2**10" in edited and "WARMUP_RATIO = 0.05" in edited
    assert 'WINDOW_PATTERN = "LL"' in edited
    validator = AstValidator(space=KNOBS)
    assert validator.validate(edited, AUTORESEARCH).accepted
    refused = validator.validate(_replace(AUTORESEARCH, "MATRIX_LR = 0.04", "MATRIX_LR = 0.9"), AUTORESEARCH)
    assert "MATRIX_LR: 0.9 is above the maximum 0.2" in str(refused)


def test_knobs_take_part_in_the_action_space_and_the_observation() -> None:
    found = extract(AUTORESEARCH, knobs=KNOBS.knobs)
    space = build_space(found.values, KNOBS, tuple(found.editable))
    available = {m.field for m in moves(found.values, tuple(found.editable), found.choices, space)}
    assert set(KNOBS.knobs) <= available
    observation = Observation(AUTORESEARCH, dict(found.values), editable=tuple(found.editable), space=space)
    vector = encode(observation, 60)
    assert len(vector) == observation_size(space) == OBSERVATION_SIZE + 2 * len(KNOBS.knobs)
    assert vector[OBSERVATION_SIZE:OBSERVATION_SIZE + 2] == [1.0, pytest.approx(0.5 * (1 + 0) / 1, abs=0.5)]
    assert all(0.0 <= x <= 1.0 for x in vector)


def test_a_declared_knob_the_script_lacks_is_a_clear_error() -> None:
    with pytest.raises(ConfigError, match="declares MATRX_LR, which the script does not assign"):
        build_space({"learning_rate": 0.1}, SpaceSettings({"MATRX_LR": SpaceEntry(low=0.1, high=1)}), strict=True)


# --- 3/4. candidates and hands off ----------------------------------------------------------

# The fixtures were relabelled by #26's rules before any change to the reader (labels before
# code): training length is a knob only when declared, a data size never, and a batch is what the
# loader yields times accumulation. The reader still reads autoresearch's micro-batch
# (DEVICE_BATCH_SIZE) as the batch; strict, so its passing is noticed and the mark removed.
_READER_BEHIND_LABELS = pytest.mark.xfail(
    strict=True, reason="#26: the reader reads the micro-batch as the batch (batch x accumulation not yet joined)")


@pytest.mark.parametrize("style", ["nanogpt", pytest.param("autoresearch", marks=_READER_BEHIND_LABELS),
                                   "hf_trainer", "pytorch_examples", "lightning", "mlp_teacher", "mingpt",
                                   "fn_defaults"])
def test_inspect_candidates_match_the_fixture_labels(style: str, tmp_path: Path) -> None:
    labels = _labels(style)
    for path in (STYLES / style).glob("*.py"):  # the script alone, without the fixture's arrl.toml
        shutil.copy(path, tmp_path / path.name)
    result = run_arrl("inspect", "--json", "train.py", cwd=tmp_path)
    assert result.returncode == 0, result.output
    rows = json.loads(result.stdout)
    fields = {r["field"] for r in rows if r["kind"] == "field" and r["status"].startswith("ok")}
    candidates = {r["field"] for r in rows if r["kind"] == "candidate"}
    overridden = {r["field"] for r in rows if r["kind"] == "overridden"}
    assert set(labels["fields"]) <= fields
    assert not fields & set(labels.get("not_fields", []))
    assert candidates == set(labels["tune"])
    assert not candidates & set(labels["never"])
    assert set(labels["overridden"]) <= overridden


@pytest.mark.parametrize("name", ["EPOCHS", "--epochs", "--max_epochs", "HP.epochs", "num_train_epochs", "max_iters",
                                  "C.trainer.max_iters", "TRAIN_STEPS", "main(max_iters=)", "max_steps"])
def test_training_length_is_hands_off_unless_declared(name: str) -> None:
    # More training wins by itself: a knob only where the user declares it in [space].
    assert hands_off_reason(name).startswith("training length")


@pytest.mark.parametrize("name", ["warmup_iters", "lr_decay_iters", "gradient_accumulation_steps", "--warmup_epochs",
                                  "HP.warmup_steps", "accumulate_grad_batches", "ema_steps",
                                  "hyp['opt']['whiten_bias_epochs']", "warmdown_iters", "eval_interval_steps"])
def test_a_schedules_shape_or_an_accumulation_is_not_training_length(name: str) -> None:
    assert not hands_off_reason(name).startswith("training length")  # (an evaluation cadence is hands off as such)


def test_a_declared_training_length_is_a_knob_not_hands_off() -> None:
    source = "EPOCHS = 5\nLEARNING_RATE = 0.01\nprint(f'arrl: val_loss={LEARNING_RATE * EPOCHS}')\n"
    undeclared = find_candidates(source, extract(source))
    assert ("EPOCHS", "training length: more training wins by itself; declare it in [space] to tune it") in {
        (h.name, h.reason) for h in undeclared[1]}
    declared = extract(source, knobs=("EPOCHS",))
    candidates, hands_off = find_candidates(source, declared)
    assert "EPOCHS" in declared.knobs and "EPOCHS" not in {c.name for c in candidates} | {h.name for h in hands_off}


def test_a_synthetic_data_sets_width_is_the_task() -> None:
    assert hands_off_reason("HP.n_features").startswith("the task")


@pytest.mark.parametrize(("name", "why"), [
    ("hyp['net']['tta_level']", "evaluation"), ("--start-epoch", "plumbing: where a resumed run starts"),
    ("start_iter", "plumbing: where a resumed run starts"), ("trainer.early_stop", "evaluation"),
    ("Config.verbosity", "plumbing"), ("model.input_size", "the task"), ("model.output_size", "the task"),
    ("train", "plumbing")])
def test_evaluation_resuming_and_the_datas_shape_are_hands_off(name: str, why: str) -> None:
    assert hands_off_reason(name).startswith(why)


@pytest.mark.parametrize("name", ["ema_start_step", "lr_start", "HP.hidden_size", "in_channels"])
def test_a_schedules_start_and_a_models_widths_are_not(name: str) -> None:
    assert hands_off_reason(name) == ""


def test_excluded_field_or_knob_is_never_proposed_nor_a_candidate() -> None:
    found = extract(NANOGPT)
    settings = SpaceSettings(exclude=("learning_rate", "beta1"))
    space = build_space(found.values, settings, tuple(found.editable))
    assert "learning_rate" not in space
    editable = tuple(n for n in found.editable if n in space)
    rng = random.Random(3)
    for _ in range(200):
        assert "learning_rate" not in random_edit(found.values, rng, 3, editable, found.choices, space).changes
    candidates, hands_off = find_candidates(NANOGPT, found, settings.exclude)
    assert "beta1" not in {c.name for c in candidates}
    assert ("beta1", "excluded in the config") in {(h.name, h.reason) for h in hands_off}


def test_frozen_and_evaluation_values_are_never_candidates() -> None:
    found = extract(AUTORESEARCH)
    candidates, hands_off = find_candidates(AUTORESEARCH, found)
    reasons = {h.name: h.reason for h in hands_off}
    assert reasons["EVAL_TOKENS"] == reasons["VOCAB_SIZE"] == "inside a frozen region"
    assert reasons["SEED"].startswith("evaluation")
    assert not {"EVAL_TOKENS", "VOCAB_SIZE", "SEED"} & {c.name for c in candidates}


def test_what_defines_the_task_is_never_a_candidate() -> None:
    # A synthetic task's noise or class count: lowering them lowers the loss without a better model.
    source = ("from dataclasses import dataclass\n\n@dataclass\nclass Config:\n    noise: float = 0.8\n"
              "    num_classes: int = 10\n    label_smoothing: float = 0.1\n    warmup_ratio: float = 0.1\n\ncfg = Config()\n")
    candidates, hands_off = find_candidates(source, extract(source))
    reasons = {h.name: h.reason for h in hands_off}
    assert reasons["Config.noise"] == reasons["Config.num_classes"] == \
        "the task, not the model: changing it changes what is measured"
    assert {"Config.label_smoothing", "Config.warmup_ratio"} <= {c.name for c in candidates}
    # An algorithm's noise is a hyperparameter (TD3's policy noise, augmentation noise).
    rl = "POLICY_NOISE = 0.2\nNOISE_STD = 0.1\nLABEL_NOISE = 0.05\n"
    candidates, hands_off = find_candidates(rl, extract(rl))
    assert {c.name for c in candidates} == {"POLICY_NOISE", "NOISE_STD"}
    assert {h.name for h in hands_off} == {"LABEL_NOISE"}
    # How much data and at what resolution is the task; how long and in what batches is training.
    sizes = "N_TRAIN = 3000\nIMG_SIZE = 32\nNUM_TRAIN_EPOCHS = 3\nMAX_TRAIN_STEPS = 100\nTRAIN_BATCH_SIZE = 8\n"
    candidates, hands_off = find_candidates(sizes, extract(sizes))
    # Training length is hands-off too, for another reason (#26): more of it wins by itself.
    reasons = {h.name: h.reason for h in hands_off}
    assert set(reasons) == {"N_TRAIN", "IMG_SIZE", "NUM_TRAIN_EPOCHS", "MAX_TRAIN_STEPS"}
    assert reasons["NUM_TRAIN_EPOCHS"].startswith("training length") and reasons["N_TRAIN"].startswith("the task")
    assert "TRAIN_BATCH_SIZE" not in reasons  # the batch (a field) is the model's business
    more = "RESOLUTION = 512\nNUM_LABELS = 2\nSUBSET_SIZE = 5000\nTRAIN_FRAC = 0.9\nDEV_BATCH_SIZE = 100\nTRAIN_CROP_SIZE = 224\n"
    candidates, hands_off = find_candidates(more, extract(more))
    assert {h.name for h in hands_off} == {"RESOLUTION", "NUM_LABELS", "SUBSET_SIZE", "TRAIN_FRAC", "DEV_BATCH_SIZE"}
    assert {c.name for c in candidates} == {"TRAIN_CROP_SIZE"}  # a training augmentation


def test_space_writer_output_parses_back_to_the_same_entries() -> None:
    entries = {"MATRIX_LR": SpaceEntry(low=0.004, high=0.4, log=True), "--epochs": SpaceEntry(low=1, high=140),
               "Config.act": SpaceEntry(choices=["relu", "gelu"]), "bias": SpaceEntry(type="bool"),
               "WARMUP_RATIO": SpaceEntry(low=0.0, high=1.0, type="float")}
    parsed = tomllib.loads(space_toml(entries, {"MATRIX_LR": "train.py:3"}))["space"]
    assert parsed == {"MATRIX_LR": {"low": 0.004, "high": 0.4, "log": True}, "--epochs": {"low": 1, "high": 140},
                      "Config.act": {"choices": ["relu", "gelu"]}, "bias": {"type": "bool"},
                      "WARMUP_RATIO": {"low": 0.0, "high": 1.0, "type": "float"}}


# --- 5. reading deeper ----------------------------------------------------------------------

HPARAMS = '''
import torch
from torch import nn
from dataclasses import dataclass

@dataclass
class HParams:
    width: int = 128
    p_drop: float = 0.1
    clip_norm: float = 1.0
    opt_name: str = "adam"
    lr: float = 1e-3

H = HParams()

def build():
    return nn.Sequential(nn.Linear(8, H.width), nn.ReLU(), nn.Dropout(H.p_drop))

def make_optimizer(model):
    if H.opt_name == "adam":
        return torch.optim.Adam(model.parameters(), lr=H.lr)
    elif H.opt_name == "sgd":
        return torch.optim.SGD(model.parameters(), lr=H.lr, momentum=0.9)
    raise ValueError(H.opt_name)

def step(model, optimizer, loss):
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), H.clip_norm)
'''


def test_config_instance_attributes_in_calls_and_string_dispatch_are_read() -> None:
    found = extract(HPARAMS)
    assert found.sites["dropout_rate"].path == "HParams.p_drop" and found.values["dropout_rate"] == 0.1
    assert found.sites["gradient_clip"].path == "HParams.clip_norm"
    assert found.sites["optimizer"].path == "HParams.opt_name" and found.choices["optimizer"] == ("adam", "sgd")
    assert {"dropout_rate", "gradient_clip", "optimizer"} <= set(found.editable)
    edited = apply_values(HPARAMS, {"optimizer": "sgd", "dropout_rate": 0.2, "gradient_clip": 0.5})
    assert 'opt_name: str = "sgd"' in edited and "p_drop: float = 0.2" in edited and "clip_norm: float = 0.5" in edited
    with pytest.raises(SchemaError, match="not available"):
        apply_values(HPARAMS, {"optimizer": "lion"})


def test_instance_keyword_wins_over_the_class_default() -> None:
    source = HPARAMS.replace("H = HParams()", "H = HParams(p_drop=0.3)")
    found = extract(source)
    assert found.values["dropout_rate"] == 0.3
    assert "HParams(p_drop=0.5)" in apply_values(source, {"dropout_rate": 0.5})


def test_dtype_string_is_mixed_precision_and_schedule_flag_is_the_scheduler() -> None:
    found = extract(NANOGPT)
    assert found.values["mixed_precision"] is True and found.sites["mixed_precision"].path == "dtype"
    assert found.values["scheduler"] == "cosine" and found.choices["scheduler"] == ("cosine", "constant")
    edited = apply_values(NANOGPT, {"mixed_precision": False, "scheduler": "constant"})
    assert "dtype = 'float32'" in edited and "decay_lr = False" in edited
    autocast = "import torch\nLR = 0.1\nctx = torch.autocast(device_type='cuda', dtype=torch.bfloat16)\n"
    assert extract(autocast).values["mixed_precision"] is True
    off = apply_values(autocast, {"mixed_precision": False})
    assert off.endswith("torch.autocast(device_type='cuda', dtype=torch.bfloat16, enabled=False)\n")
    assert extract(off).values["mixed_precision"] is False
    lightning = extract((STYLES / "lightning" / "train.py").read_text())
    assert lightning.values["mixed_precision"] is False
    assert '"bf16-mixed"' in apply_values((STYLES / "lightning" / "train.py").read_text(), {"mixed_precision": True})


def test_overridden_values_are_shown_and_never_proposed() -> None:
    # A config-class default that every construction passes explicitly is never the field.
    found = extract(AUTORESEARCH)
    assert "attention_heads" not in found.values and "hidden_dim" not in found.values
    assert found.sites["num_layers"].path == "DEPTH"
    assert "GPTConfig.n_head" in found.overridden and not found.overridden["GPTConfig.n_head"].editable
    # A constant an override file sets again: shown with the winning value, not editable.
    nano = extract(NANOGPT, knobs=("max_iters", "beta1"), directory=STYLES / "nanogpt")
    assert "override.py:7" in nano.overridden["max_iters"].note
    assert not nano.sites["max_iters"].editable and "max_iters" not in nano.editable
    assert nano.sites["beta1"].editable
    space = build_space(nano.values, SpaceSettings({"max_iters": SpaceEntry(), "beta1": SpaceEntry()}),
                        tuple(nano.editable), strict=True)
    assert "max_iters" not in space and "beta1" in space


# --- property: baselines outside the design domains -----------------------------------------

def test_every_edit_from_a_baseline_outside_the_design_domains_is_accepted() -> None:
    from hypothesis import given, settings
    from hypothesis import strategies as st

    outside = st.fixed_dictionaries({
        "NUM_LAYERS": st.integers(65, 200),
        "HIDDEN_DIM": st.sampled_from([48, 96, 768, 1536, 2048]),
        "DROPOUT": st.floats(0.51, 0.9),
        "LEARNING_RATE": st.floats(1.5, 20.0) | st.floats(1e-9, 9e-7),
        "WEIGHT_DECAY": st.floats(0.11, 0.9),
        "BATCH_SIZE": st.sampled_from([1, 2, 12, 24, 48, 512, 1000]),
        "GRAD_CLIP": st.floats(10.5, 100.0) | st.floats(0.001, 0.09),
        "ACTIVATION": st.sampled_from(["relu", "swiglu", "relu2"]),
    })

    @settings(max_examples=40, deadline=None)
    @given(outside, st.integers(0, 2**32 - 1), st.integers(1, 3))
    def check(values: dict, seed: int, size: int) -> None:
        width = values["HIDDEN_DIM"]
        heads = max(d for d in (1, 2, 3, 4, 6, 8, 12, 16) if width % d == 0)
        lines = [f"{k} = {v!r}" for k, v in values.items()] + [f"ATTENTION_HEADS = {heads}",
                                                                "print(f'arrl: val_loss={LEARNING_RATE}')"]
        source = "\n".join(lines) + "\n"
        found = extract(source)
        assert set(found.editable) == set(found.values)
        space = build_space(found.values, editable=tuple(found.editable))
        edit = random_edit(found.values, random.Random(seed), size, tuple(found.editable), found.choices, space)
        proposed = apply_values(source, edit.changes, space=space)
        verdict = AstValidator().validate(proposed, source)
        assert verdict.accepted, (edit.description, str(verdict))

    check()


# --- runs -----------------------------------------------------------------------------------

def _autoresearch_repo(tmp_path: Path, config: str | None = None) -> Path:
    repo = make_repo(tmp_path / "autoresearch", {})
    shutil.copy(STYLES / "autoresearch" / "train.py", repo / "train.py")
    (repo / "arrl.toml").write_text(config if config is not None else (STYLES / "autoresearch" / "arrl.toml").read_text())
    git(repo, "add", "-A")
    git(repo, "-c", "user.name=T", "-c", "user.email=t@e", "commit", "-qm", "fixture")
    return repo


def test_inspect_shows_each_declared_knob_as_tunable(tmp_path: Path) -> None:
    repo = _autoresearch_repo(tmp_path)
    rows = json.loads(run_arrl("inspect", "--json", cwd=repo).stdout)
    knobs = {r["field"]: r["status"] for r in rows if r["kind"] == "knob"}
    declared = tomllib.loads((repo / "arrl.toml").read_text())["space"]
    assert set(knobs) == set(declared)
    assert all(status.startswith("tunable") for status in knobs.values()), knobs
    excluded = {r["field"]: r["status"] for r in rows if r["kind"] == "field"}
    assert excluded["weight_decay"] == "excluded in the config"


@pytest.mark.slow
def test_twenty_experiments_move_every_declared_knob_and_every_proposal_is_accepted(tmp_path: Path,
                                                                                    arrl_env) -> None:
    repo = _autoresearch_repo(tmp_path)
    result = run_arrl("--plugin", "proposer=random", "-o", "proposer.max_moves=3", "run", "--max-experiments",
                      "20", "--seed", "5", cwd=repo, env=arrl_env, timeout=600)
    assert result.returncode in (0, 3), result.output
    recs = records(repo)
    assert len(recs) == 20 and recs[0]["outcome"] == "ok"
    proposals = recs[1:]
    assert not [r for r in proposals if r["outcome"] == "rejected"], [r["failure_reason"] for r in proposals]
    changed = {name for r in proposals if r["edit"] for name in r["edit"]["changes"]}
    declared = set(tomllib.loads((repo / "arrl.toml").read_text())["space"])
    assert declared <= changed
    # Excluded fields and the overridden config-class default are never proposed.
    assert not changed & {"num_layers", "weight_decay", "batch_size", "attention_heads", "GPTConfig.n_head"}
    # Knob values are part of each record's config (and so of history and the hash).
    assert all(set(declared) <= set(r["config"]) for r in recs if r["config"])
    history = run_arrl("history", cwd=repo, env=arrl_env)
    assert "MATRIX_LR" in history.stdout or "EMBEDDING_LR" in history.stdout


@pytest.mark.slow
def test_the_space_inspect_writes_is_accepted_by_arrl_run(tmp_path: Path, arrl_env) -> None:
    repo = _autoresearch_repo(tmp_path, 'script = "train.py"\nmetric = "val_bpb"\nbudget = 60\n')
    written = run_arrl("inspect", "--space", cwd=repo)
    assert written.returncode == 0 and written.stdout.startswith("[space]\n")
    (repo / "arrl.toml").write_text((repo / "arrl.toml").read_text() + written.stdout)
    git(repo, "-c", "user.name=T", "-c", "user.email=t@e", "commit", "-qam", "space")
    result = run_arrl("--plugin", "proposer=random", "run", "--max-experiments", "4", "--seed", "2",
                      cwd=repo, env=arrl_env, timeout=300)
    assert result.returncode in (0, 3), result.output
    recs = records(repo)
    assert len(recs) == 4 and not [r for r in recs if r["outcome"] == "rejected"]
    declared = set(tomllib.loads(written.stdout)["space"])
    assert declared <= set(recs[0]["config"])


# --- the PPO grows with knobs ---------------------------------------------------------------

def test_ppo_state_saved_on_tiny_gpt_loads_into_a_run_with_three_extra_knobs(tmp_path: Path) -> None:
    from arrl.plugins.ppo.proposer import ACTIONS, PPOOptions, PPOProposer

    tiny = (ROOT / "examples" / "tinygpt" / "train.py").read_text()
    context = arrl.PluginContext(tmp_path, tmp_path, "train.py", "val_bpb", arrl.Direction.MINIMIZE, 60, 0)

    def observation(source: str, settings: SpaceSettings) -> Observation:
        found = extract(source, knobs=settings.knobs)
        space = build_space(found.values, settings, tuple(found.editable), strict=True)
        return Observation(source, dict(found.values), editable=tuple(found.editable), space=space)

    def learn(proposer: PPOProposer, index: int) -> None:
        record = arrl.ExperimentRecord(id=index, parent_id=0, outcome=arrl.Outcome.OK, config={}, config_hash="",
                                       program_hash="", metric_name="val_bpb",
                                       direction=arrl.Direction.MINIMIZE, value=1.0)
        proposer.learn(record, 0.5 - index % 2)

    plain = observation(tiny, SpaceSettings())
    first = PPOProposer(PPOOptions(batch_size=2), context)
    for index in range(3):  # one update, and one transition left in the buffer
        first.propose(plain)
        learn(first, index)
    first.save(tmp_path / "ppo.json")

    knobs = SpaceSettings({"BLOCK_SIZE": SpaceEntry(low=16, high=256, log=True),
                           "WARMUP_FRACTION": SpaceEntry(low=0.0, high=0.5),
                           "BETA2": SpaceEntry(low=0.9, high=0.999)})
    source = tiny.replace("BLOCK_SIZE = 64\n", "BLOCK_SIZE = 64\nWARMUP_FRACTION = 0.1\nBETA2 = 0.99\n")
    wider = observation(source, knobs)
    second = PPOProposer(PPOOptions(batch_size=2), context)
    second.load(tmp_path / "ppo.json")
    # What was learned is kept: on the plain script the loaded policy is the saved one.
    assert second.probabilities(plain) == pytest.approx(first.probabilities(plain))
    validator = AstValidator(space=knobs)
    for index in range(3, 7):
        proposal = second.propose(wider)
        assert validator.validate(proposal.script, source).accepted
        learn(second, index)
    assert second.updates == first.updates + 2
    assert second.policy.out_features == len(ACTIONS) + 6  # up/down for each of the three knobs
    probabilities = second.probabilities(wider)
    knob_actions = [i for i in probabilities if i >= len(ACTIONS)]
    assert len(knob_actions) >= 5 and all(probabilities[i] > 0 for i in knob_actions)


def test_bad_space_entries_and_exclude_are_clear_config_errors() -> None:
    from arrl.config import settings_from

    cases = {"space['X']: unknown key(s) hgh": {"space": {"X": {"low": 1, "hgh": 2}}},
             "log = true needs low > 0": {"space": {"X": {"low": 0, "high": 1, "log": True}}},
             "type must be one of int, float, bool, str, got 'complex'": {"space": {"X": {"type": "complex"}}},
             "low 2 is above high 1": {"space": {"X": {"low": 2, "high": 1}}},
             "exclude: expected a list of names, got 'lr'": {"exclude": "lr"}}
    for message, data in cases.items():
        with pytest.raises(ConfigError, match=re.escape(message)):
            settings_from(data)
    settings = settings_from({"exclude": ["lr"], "space": {"MATRIX_LR": {"low": 0.01, "high": 0.1, "log": True}}})
    assert settings.space_settings() == SpaceSettings({"MATRIX_LR": SpaceEntry(low=0.01, high=0.1, log=True)},
                                                      ("lr",))


CONFIG_CALLS = '''
from transformers import Trainer, TrainingArguments
import lightning as L

def main(model):
    args = TrainingArguments(output_dir="out", learning_rate=2e-5, per_device_train_batch_size=16,
                             per_device_eval_batch_size=64, num_train_epochs=3, warmup_ratio=0.1,
                             eval_strategy="epoch", logging_steps=10, seed=42, bf16=True,
                             lr_scheduler_type="cosine", report_to="none")
    Trainer(model=model, args=args).train()
    L.Trainer(max_epochs=10, precision="bf16-mixed", gradient_clip_val=1.0, accumulate_grad_batches=4,
              devices=1).fit(model)
'''


def test_literal_keywords_of_configuration_calls_are_fields_knobs_and_candidates() -> None:
    found = extract(CONFIG_CALLS)
    assert found.sites["learning_rate"].path == "TrainingArguments(learning_rate=)"
    assert found.values["batch_size"] == 16 and found.values["gradient_clip"] == 1.0
    assert found.values["mixed_precision"] is True and found.sites["mixed_precision"].path == "Trainer(precision=)"
    assert found.choices["scheduler"] == ("cosine", "linear", "constant")  # names Hugging Face accepts
    candidates, hands_off = find_candidates(CONFIG_CALLS, found)
    assert {c.name for c in candidates} == {"TrainingArguments(warmup_ratio=)", "Trainer(accumulate_grad_batches=)"}
    # Training length: a knob only when declared, as below (#26).
    assert {"TrainingArguments(num_train_epochs=)", "Trainer(max_epochs=)"} <= {h.name for h in hands_off}
    assert {"TrainingArguments(seed=)", "TrainingArguments(eval_strategy=)",
            "TrainingArguments(per_device_eval_batch_size=)", "Trainer(devices=)"} <= {h.name for h in hands_off}
    knob = "TrainingArguments(num_train_epochs=)"
    settings = SpaceSettings({knob: SpaceEntry(low=1, high=10)})
    with_knob = extract(CONFIG_CALLS, knobs=settings.knobs)
    space = build_space(with_knob.values, settings, tuple(with_knob.editable), strict=True)
    edited = apply_values(CONFIG_CALLS, {knob: 4, "learning_rate": 4e-5}, space=space)
    assert "num_train_epochs=4," in edited and "learning_rate=4e-05," in edited
    assert AstValidator(space=settings).validate(edited, CONFIG_CALLS).accepted


def test_a_field_an_override_file_sets_is_shown_with_the_winning_value_and_read_only(tmp_path: Path) -> None:
    (tmp_path / "override.py").write_text("learning_rate = 1e-3  # wins\n")
    source = "learning_rate = 6e-4\nweight_decay = 0.1\nexec(open('override.py').read())\nprint(learning_rate)\n"
    found = extract(source, directory=tmp_path)
    assert found.values["learning_rate"] == 1e-3
    assert not found.sites["learning_rate"].editable and "override.py:1" in found.sites["learning_rate"].note
    assert set(found.editable) == {"weight_decay"}
    with pytest.raises(SchemaError, match="set again in override.py:1"):
        apply_values(source, {"learning_rate": 2e-3}, directory=tmp_path)
    # An assignment after the override is the site whose value wins: arrl edits it.
    after = source + "learning_rate = 3e-4\n"
    assert extract(after, directory=tmp_path).sites["learning_rate"].editable
    edited = apply_values(after, {"learning_rate": 5e-4}, directory=tmp_path)
    assert edited == after.replace("learning_rate = 3e-4\n", "learning_rate = 0.0005\n")


def test_the_ppo_opening_tries_every_declared_knob_after_the_schema_moves(tmp_path: Path) -> None:
    from arrl.plugins.ppo.proposer import OPENING, PPOOptions, PPOProposer, opening_moves
    from arrl.schema import HISTORY_WINDOW, config_hash

    found = extract(AUTORESEARCH, knobs=KNOBS.knobs)
    space = build_space(found.values, KNOBS, tuple(found.editable), strict=True)
    config = dict(found.values)
    context = arrl.PluginContext(tmp_path, tmp_path, "train.py", "val_bpb", arrl.Direction.MINIMIZE, 60, 0)
    proposer = PPOProposer(PPOOptions(continuation="off"), context)

    def entry(values: dict, value: float) -> arrl.HistoryEntry:
        return arrl.HistoryEntry(config_hash(values), value, 1.0, False)

    history: tuple[arrl.HistoryEntry, ...] = (entry(config, 1.0),)
    observation = Observation(AUTORESEARCH, config, history, best_value=1.0, editable=tuple(found.editable),
                              choices=dict(found.choices), space=space)
    opening = opening_moves(observation)
    assert opening[:len(OPENING)] == OPENING  # the measured order is unchanged; each knob follows it
    assert [m.field for m in opening[len(OPENING):]] == (["MATRIX_LR"] * 2 + ["WARMUP_RATIO"] * 2
                                                         + ["TOTAL_BATCH_SIZE"] * 2 + ["WINDOW_PATTERN"] * 3)
    moved: list[str] = []
    for _ in range(len(opening)):  # none is kept: every proposal starts from the baseline
        if proposer.opened == len(opening):
            break
        proposal = proposer.propose(observation)
        moved.append(next(iter(proposal.edit.changes)))
        history = (*history, entry({**config, **proposal.edit.changes}, 2.0))
        observation = attrs.evolve(observation, history=history[-HISTORY_WINDOW:])
    assert proposer.opened == len(opening)
    knobs = [name for name in moved if name in KNOBS.knobs]
    assert set(knobs) == set(KNOBS.knobs)
    assert moved[-len(knobs):] == knobs  # after the schema's moves, in [space] order
    assert knobs == sorted(knobs, key=list(KNOBS.knobs).index)
