"""Hypothesis strategies for property-testing arrl plugins: validators, rewards, memories.

Plugin authors use these the way arrl's own tests do::

    from hypothesis import given
    from arrl.testing import obfuscated_dangerous_code, records, reward_contexts

    @given(obfuscated_dangerous_code())
    def test_my_validator_rejects(snippet):
        assert not MyValidator().validate(BASE + snippet, BASE).accepted

    @given(records(), reward_contexts())
    def test_my_reward_is_finite(record, context):
        assert math.isfinite(MyReward().score(record, context))

Importing this module needs hypothesis (``pip install hypothesis``); arrl itself does not.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from .records import Direction, ExperimentRecord, HistoryEntry, MetricPoint, Outcome
from .roles import RewardContext
from .schema import FIELDS

# (module, function, call arguments) that new code must never reach.
DANGEROUS_TARGETS: tuple[tuple[str, str, str], ...] = (
    ("os", "system", "'id'"),
    ("os", "popen", "'id'"),
    ("os", "execv", "'/bin/sh', ['sh']"),
    ("os", "remove", "'data.txt'"),
    ("os", "kill", "1, 9"),
    ("subprocess", "run", "['id']"),
    ("subprocess", "Popen", "['id']"),
    ("socket", "create_connection", "('example.com', 80)"),
    ("urllib.request", "urlopen", "'http://example.com'"),
    ("shutil", "rmtree", "'/'"),
    ("pickle", "loads", "b''"),
    ("marshal", "loads", "b''"),
    ("ctypes", "CDLL", "'libc.so.6'"),
    ("importlib", "import_module", "'os'"),
    ("signal", "signal", "15, 1"),
    ("resource", "setrlimit", "0, (1, 1)"),
    ("torch", "load", "'weights.pt'"),
)


def _spellings(module: str, function: str, args: str, alias: str, style: int) -> str:
    top = module.split(".")[0]
    if style == 0:  # import module; module.function(...)
        return f"import {module}\n{module}.{function}({args})\n"
    if style == 1:  # import module as alias
        return f"import {module} as {alias}\n{alias}.{function}({args})\n"
    if style == 2:  # from module import function as alias
        return f"from {module} import {function} as {alias}\n{alias}({args})\n"
    if style == 3:  # getattr with a constant name
        return f"import {module}\ngetattr({module}, '{function}')({args})\n"
    if style == 4:  # getattr with a computed name
        half = len(function) // 2
        return f"import {module}\ngetattr({module}, '{function[:half]}' + '{function[half:]}')({args})\n"
    if style == 5:  # __import__
        return f"__import__('{module}').{function}({args})\n" if "." not in module else \
            f"__import__('{module}', fromlist=['{function}']).{function}({args})\n"
    if style == 6:  # a reference kept in a variable, called later
        return f"import {module}\n{alias} = {module}.{function}\n{alias}({args})\n"
    if style == 7:  # through a container
        return f"import {module}\n{alias} = [{module}.{function}]\n{alias}[0]({args})\n"
    if style == 8:  # eval / exec of the call
        return f"exec(\"import {top}; {module}.{function}({args.replace(chr(34), chr(39))})\")\n"
    return f"import importlib\nimportlib.import_module('{module}').{function}({args})\n"


def obfuscated_dangerous_code() -> st.SearchStrategy[str]:
    """Snippets that reach a dangerous function through one of ten spellings (aliases, getattr
    with built names, __import__, exec, containers, importlib, ...)."""
    aliases = st.sampled_from(["helper", "util", "_x", "run_step", "np2", "Tool"])
    def spell(target: tuple[str, str, str], alias: str, style: int) -> str:
        module, function, args = target
        return _spellings(module, function, args, alias, style)

    return st.builds(spell, st.sampled_from(DANGEROUS_TARGETS), aliases, st.integers(0, 9))


def schema_configs(partial: bool = True) -> st.SearchStrategy[dict[str, Any]]:
    """Configs inside the schema (heads always divide the width)."""
    import math

    def values(field):  # type: ignore[no-untyped-def]
        if field.kind == "bool":
            return st.booleans()
        if field.kind == "choice":
            return st.sampled_from(field.choices)
        if field.kind == "int":
            return st.integers(int(field.low), int(field.high))
        return st.floats(field.low, field.high, allow_nan=False).map(lambda x: float(f"{x:.6g}"))

    def fix(config: dict[str, Any]) -> dict[str, Any]:
        if "attention_heads" in config and "hidden_dim" in config:
            config["attention_heads"] = math.gcd(config["attention_heads"], config["hidden_dim"])
        return config

    fields = {f.name: values(f) for f in FIELDS}
    chosen = st.fixed_dictionaries({}, optional=fields) if partial else st.fixed_dictionaries(fields)
    return chosen.map(fix)


def _any_float() -> st.SearchStrategy[float]:
    return st.floats(allow_nan=True, allow_infinity=True)


def records(metric: str = "val_loss") -> st.SearchStrategy[ExperimentRecord]:
    """Experiment records of every outcome, with hostile numbers (nan, inf, huge, negative)."""
    return st.builds(
        lambda outcome, value, seconds, curve, direction: ExperimentRecord(
            id=1, parent_id=0, outcome=outcome, config={}, config_hash="c", program_hash="p",
            metric_name=metric, direction=direction, value=value, wall_clock_seconds=seconds,
            curve=[MetricPoint(metric, v) for v in curve]),
        st.sampled_from(list(Outcome)), _any_float(), st.floats(0, 1e7), st.lists(_any_float(), max_size=8),
        st.sampled_from(list(Direction)),
    )


def reward_contexts() -> st.SearchStrategy[RewardContext]:
    return st.builds(RewardContext, st.one_of(st.none(), _any_float()), st.floats(0.001, 1e6),
                     st.sampled_from(list(Direction)))


def history_entries() -> st.SearchStrategy[HistoryEntry]:
    """Memory entries whose program hashes collide often, to exercise deduplication."""
    return st.builds(
        lambda h, v, o: HistoryEntry(config_hash=f"c{h}", val_loss=v, wall_clock_seconds=1.0,
                                     early_stopped=o is Outcome.EARLY_STOPPED, program_hash=f"p{h}", outcome=o),
        st.integers(0, 40), _any_float(), st.sampled_from(list(Outcome)),
    )


def outcome_sequences(max_size: int = 6) -> st.SearchStrategy[list[str]]:
    """What a sequence of proposals does: improve, regress, crash, time out, or get rejected."""
    return st.lists(st.sampled_from(["improve", "regress", "crash", "timeout", "reject"]),
                    min_size=1, max_size=max_size)
