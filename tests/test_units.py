"""The pure pieces: schema, script editing, actions, metrics, early stopping, reward, memory,
journal and record round-trips."""

from __future__ import annotations

import math
import random
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from arrl.journal import RunDirectory
from arrl.metrics import curve_std, parse_line
from arrl.plugins.composite_reward import CompositeOptions, CompositeReward
from arrl.plugins.deque_memory import DequeMemory
from arrl.records import Direction, Edit, ExperimentRecord, HistoryEntry, MetricPoint, Outcome, from_json, to_json
from arrl.roles import RewardContext
from arrl.run.early_stopping import EarlyStoppingSettings, TrendStopper, projected
from arrl.schema import FIELDS, SchemaError, check_config, config_hash
from arrl.script.actions import moves, random_edit, step
from arrl.script.reader import apply_values, extract, program_hash, unified_diff

SCRIPT = '''"""A training script."""
import torch

N_LAYER = 6  # depth
n_embd: int = 256
N_HEAD = 8
LR = 3e-4   # tuned by hand, keep the comment
lr = 1e-3   # the last assignment wins
BATCH_SIZE = 64
ACTIVATION = 'GELU'
AMP = True

def train():
    LR = 5  # local, not a module constant
'''


def test_extract_finds_module_constants_with_aliases_and_lines() -> None:
    found = extract(SCRIPT)
    assert found.values == {"num_layers": 6, "hidden_dim": 256, "attention_heads": 8, "learning_rate": 1e-3,
                            "batch_size": 64, "activation": "gelu", "mixed_precision": True}
    assert found.sites["learning_rate"].line == 8
    assert found.sites["num_layers"].path == "N_LAYER"
    assert set(found.missing) == {"dropout_rate", "optimizer", "weight_decay", "scheduler", "gradient_clip"}


def test_apply_changes_only_the_targeted_characters() -> None:
    edited = apply_values(SCRIPT, {"learning_rate": 2e-3, "num_layers": 7, "activation": "silu"})
    before, after = SCRIPT.splitlines(), edited.splitlines()
    changed = [i for i, (a, b) in enumerate(zip(before, after)) if a != b]
    assert [i + 1 for i in changed] == [4, 8, 10]
    assert after[3] == "N_LAYER = 7  # depth"
    assert after[7] == "lr = 0.002   # the last assignment wins"
    assert after[9] == "ACTIVATION = 'silu'"
    assert extract(edited).values["learning_rate"] == 2e-3


def test_apply_refuses_out_of_range_and_missing_fields() -> None:
    with pytest.raises(SchemaError, match=r"learning_rate: 10000000000.0 is above the maximum 1"):
        apply_values(SCRIPT, {"learning_rate": 1e10})
    with pytest.raises(SchemaError, match="dropout_rate: not present"):
        apply_values(SCRIPT, {"dropout_rate": 0.1})
    with pytest.raises(SchemaError, match="attention_heads: 3 does not divide hidden_dim 256"):
        apply_values(SCRIPT, {"attention_heads": 3})


def test_schema_checks_name_field_and_bound() -> None:
    with pytest.raises(SchemaError, match="batch_size: 48 is not one of"):
        check_config({"batch_size": 48})
    with pytest.raises(SchemaError, match="num_layers: 0 is below the minimum 1"):
        check_config({"num_layers": 0})
    with pytest.raises(SchemaError, match="unknown field 'lr'"):
        check_config({"lr": 0.1})
    assert config_hash({"a": 1, "b": 2}) == config_hash({"b": 2, "a": 1})


def test_program_hash_ignores_comments_and_formatting() -> None:
    assert program_hash("x = 1  # one\n") == program_hash("x=1\n")
    assert program_hash("x = 1\n") != program_hash("x = 2\n")


def test_diff_marks_missing_final_newline() -> None:
    diff = unified_diff("a = 1\nb = 2", "a = 1\nb = 3", "t.py")
    assert diff.endswith("+b = 3\n\\ No newline at end of file\n")


configs = st.fixed_dictionaries({
    "num_layers": st.integers(1, 64),
    "hidden_dim": st.sampled_from([64, 128, 256, 512, 1024]),
    "learning_rate": st.floats(1e-6, 1.0),
    "dropout_rate": st.floats(0.0, 0.5),
    "optimizer": st.sampled_from(["adam", "adamw", "sgd", "lion"]),
    "batch_size": st.sampled_from([8, 16, 32, 64, 128, 256]),
    "mixed_precision": st.booleans(),
}).map(lambda c: {**c, "attention_heads": 4})


@settings(max_examples=60, deadline=None)
@given(configs, st.integers(0, 2**32 - 1))
def test_random_edits_stay_in_bounds_and_round_trip(config, seed) -> None:
    source = "\n".join(f"{name.upper()} = {value!r}" for name, value in config.items()) + "\n"
    assert extract(source).values == pytest.approx(config)
    edit = random_edit(config, random.Random(seed))
    assert edit.changes and all(config[k] != v for k, v in edit.changes.items())
    new = {**config, **edit.changes}
    check_config(new)
    edited = apply_values(source, edit.changes)
    assert extract(edited).values == pytest.approx(new)
    changed = {name.upper() for name in edit.changes}
    assert len(edited.splitlines()) == len(source.splitlines())
    for before, after in zip(source.splitlines(), edited.splitlines()):
        assert (before != after) == (before.split(" = ")[0] in changed)


def test_moves_cover_every_field_kind() -> None:
    config = {f.name: (f.choices[0] if f.choices else (False if f.kind == "bool" else f.low)) for f in FIELDS}
    config["attention_heads"] = 1
    fields = {m.field for m in moves(config)}
    assert fields == {f.name for f in FIELDS}


def test_a_linear_value_under_one_step_doubles_or_halves() -> None:
    # AdamW's weight decay of 5e-4 in a 0-0.1 range: a step of 0.01 would make it 0.0105 or 0.
    assert (step("weight_decay", 5e-4, "up"), step("weight_decay", 5e-4, "down")) == (1e-3, 2.5e-4)
    assert (step("dropout_rate", 0.02, "up"), step("dropout_rate", 0.02, "down")) == (0.04, 0.01)
    # From one step on, and from zero, the steps stay additive.
    assert (step("weight_decay", 0.01, "up"), step("weight_decay", 0.01, "down")) == (0.02, 0.0)
    assert str(step("weight_decay", 0.01, "down")) == "0.0"  # not -0.0, another program's hash
    assert (step("weight_decay", 0.0, "up"), step("dropout_rate", 0.1, "down")) == (0.01, 0.05)


def test_metric_lines() -> None:
    parsed = parse_line("arrl: step=3 val_loss=1.5 acc=0.25\n", 2.0)
    assert parsed is not None and not parsed.error
    assert parsed.points == (MetricPoint("val_loss", 1.5, 3, 2.0), MetricPoint("acc", 0.25, 3, 2.0))
    assert parse_line("loss 1.5") is None
    assert parse_line("arrl: val_loss=oops").error == "val_loss is not a number: 'oops' in 'arrl: val_loss=oops'"
    assert parse_line("arrl: step=x val_loss=1").error.startswith("step must be an integer")
    assert math.isnan(parse_line("arrl: val_loss=nan").points[0].value)
    assert curve_std([MetricPoint("m", 1.0), MetricPoint("m", 3.0)], "m") == 1.0


def test_projection_and_stopper() -> None:
    assert projected([5, 4, 3, 2, 1], 5) == pytest.approx(-4.0)
    never = TrendStopper(EarlyStoppingSettings(), None, Direction.MINIMIZE)
    assert not any(never.should_stop(v) for v in [10.0] * 30)
    stopper = TrendStopper(EarlyStoppingSettings(window=5, margin=1.15, min_points=10), 1.0, Direction.MINIMIZE)
    rising = [2.0 + 0.1 * i for i in range(12)]
    decisions = [stopper.should_stop(v) for v in rising]
    assert decisions.index(True) == 11  # first allowed at 10 points, then 3 bad points in a row
    spiky = TrendStopper(EarlyStoppingSettings(), 1.0, Direction.MINIMIZE)
    values = [1.0] * 12 + [1.5] + [1.0] * 5  # one spike: the line tilts up, then recovers
    assert not any(spiky.should_stop(v) for v in values)
    # Against the best run's own curve: a run as good as the best at the same point goes on,
    # although it is far above the best's final value.
    reference = [4.0 - 0.1 * i for i in range(30)]
    tracking = TrendStopper(EarlyStoppingSettings(), reference[-1], Direction.MINIMIZE, reference)
    assert not any(tracking.should_stop(v) for v in reference[:20])
    lagging = TrendStopper(EarlyStoppingSettings(), reference[-1], Direction.MINIMIZE, reference)
    assert any(lagging.should_stop(v * 1.5) for v in reference[:20])
    falling = TrendStopper(EarlyStoppingSettings(), 1.0, Direction.MINIMIZE)
    assert not any(falling.should_stop(3.0 - 0.2 * i) for i in range(15))  # heading below 1.0
    maximize = TrendStopper(EarlyStoppingSettings(min_points=5), 0.9, Direction.MAXIMIZE)
    assert [maximize.should_stop(0.1) for _ in range(7)] == [False] * 6 + [True]


def _record(outcome: Outcome, value: float = 1.0, seconds: float = 10.0, curve=()) -> ExperimentRecord:
    return ExperimentRecord(id=1, parent_id=0, outcome=outcome, config={}, config_hash="c", program_hash="p",
                            metric_name="val_loss", direction=Direction.MINIMIZE, value=value,
                            wall_clock_seconds=seconds, curve=list(curve))


def test_composite_reward_matches_the_design_document() -> None:
    reward = CompositeReward()
    context = RewardContext(best_value=2.0, budget_seconds=100.0, direction=Direction.MINIMIZE)
    curve = [MetricPoint("val_loss", 1.0), MetricPoint("val_loss", 1.0)]
    got = reward.score(_record(Outcome.OK, 1.0, 25.0, curve), context)
    assert got == pytest.approx(0.1 + 0.7 * math.log(2.0) + 0.2 * 0.75 + 0.1 * 1.0)
    # Not an improvement: 0.7 x shortfall (2 behind a best of 2: 0.5), and the budget spent is
    # charged at efficiency + early-stop bonus (0.5 per budget).
    early = reward.score(_record(Outcome.EARLY_STOPPED, 4.0, 25.0, curve), context)
    assert early == pytest.approx(-0.7 * 0.5 - 0.5 * 0.25)
    assert reward.score(_record(Outcome.TIMED_OUT, seconds=100.0), context) == -2.5
    assert reward.score(_record(Outcome.REJECTED, seconds=0.0), context) == -1.0
    assert reward.score(_record(Outcome.FAILED, math.inf, 0.0), context) == -2.0
    flipped = RewardContext(best_value=0.5, budget_seconds=100.0, direction=Direction.MAXIMIZE)
    assert reward.score(_record(Outcome.OK, 1.0, 100.0), flipped) == pytest.approx(0.1 + 0.7 * math.log(2.0) + 0.1)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(list(Outcome)), st.floats(allow_nan=True), st.one_of(st.none(), st.floats()),
       st.floats(0, 1e6), st.sampled_from(list(Direction)),
       st.lists(st.floats(allow_nan=True, allow_infinity=True), max_size=5))
def test_reward_is_always_finite_and_bounded(outcome, value, best, seconds, direction, curve) -> None:
    options = CompositeOptions()
    reward = CompositeReward(options).score(
        _record(outcome, value, seconds, [MetricPoint("val_loss", v) for v in curve]),
        RewardContext(best, 300.0, direction))
    assert math.isfinite(reward)
    bound = options.accuracy_weight * options.log_clip + 1.0 + options.early_stop_bonus
    assert -max(bound, 2.0) <= reward <= bound


def test_deque_memory_window_and_dedup() -> None:
    memory = DequeMemory(size=32)
    for i in range(40):
        memory.add(HistoryEntry(config_hash=f"c{i}", val_loss=float(i), wall_clock_seconds=1.0,
                                early_stopped=False, program_hash=f"p{i}"))
    window = memory.window()
    assert len(window) == 32 and window[0].program_hash == "p8" and window[-1].program_hash == "p39"
    assert memory.contains("p39") and not memory.contains("p7")


def test_records_round_trip_through_json() -> None:
    record = _record(Outcome.FAILED, math.inf, curve=[MetricPoint("val_loss", 2.0, 1, 0.5)])
    record.config = {"learning_rate": 0.001, "batch_size": 32, "activation": "gelu", "mixed_precision": True}
    record.edit = Edit({"batch_size": 32}, "why")
    again = from_json(to_json(record), ExperimentRecord)
    assert again == record
    assert isinstance(again.config["batch_size"], int) and math.isinf(again.value)


def test_journal_ignores_a_torn_last_line(tmp_path: Path) -> None:
    run = RunDirectory.create(tmp_path / "runs", {}, tmp_path)
    first = _record(Outcome.OK)
    run.append(first)
    with run.journal.open("ab") as handle:
        handle.write(b'{"id": 2, "outc')  # a crash in the middle of a write
    assert run.records() == [first]
    run.repair()
    second = _record(Outcome.TIMED_OUT)
    run.append(second)
    assert run.records() == [first, second]
    assert (tmp_path / "runs" / ".gitignore").read_text().endswith("*\n")


def test_screen_text_is_cut_between_words_and_counted_in_words() -> None:
    from arrl.output import clip, counted

    reason = ("metric 'acc' was never reported; print a line `arrl: acc=<number>` (the script reported "
              "val_loss; set `metric` to one of them?)\nTraceback ...")
    assert clip(reason, 200) == reason.splitlines()[0]
    short = clip(reason, 100)
    assert len(short) <= 100 and short.endswith("val_loss…")  # a whole word, then the ellipsis
    assert clip("x" * 50, 10) == "x" * 9 + "…" and clip("", 10) == ""
    assert (counted(1, "experiment"), counted(0, "experiment"), counted(2, "experiment")) == (
        "1 experiment", "0 experiments", "2 experiments")
