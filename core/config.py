"""Project configuration: ``arrl.toml`` or ``[tool.arrl]`` in ``pyproject.toml``, then the CLI.

An example ``arrl.toml``::

    script = "train.py"
    metric = "val_bpb"          # the name the script prints: "arrl: val_bpb=1.23"
    direction = "minimize"
    budget = 300                # seconds of wall clock per experiment, enforced from outside
    evaluate = "python eval.py" # optional: a trusted evaluation whose metric is the one recorded

    [plugins]
    runner = "podman"
    validator = ["ast", "mine"]

    [options.runner]
    memory = "8g"

Command-line ``--plugin ROLE=NAME`` and ``-o ROLE.OPTION=VALUE`` override the file.
"""

from __future__ import annotations

import enum
import math
import shlex
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs
import cattrs
from cattrs.v import format_exception

from arrl.run.early_stopping import EarlyStoppingSettings
from arrl.script.space import SpaceEntry, SpaceSettings

from .errors import ConfigError
from .records import Direction

CONFIG_NAMES = ("arrl.toml", "pyproject.toml")

DEFAULT_PLUGINS: Mapping[str, str | tuple[str, ...]] = {
    "proposer": "ppo",
    "validator": ("ast",),
    "runner": "subprocess",
    "memory": "deque",
    "reward": "composite",
    "rollback": "git",
}


def _positive(_: object, attribute: attrs.Attribute, value: float) -> None:
    if not value > 0:
        raise ValueError(f"{attribute.name} must be greater than 0, got {value!r}")


def _finite_positive(_: object, attribute: attrs.Attribute, value: float) -> None:
    # inf would lift the per-experiment cap that the whole harness is built around.
    if not (value > 0 and math.isfinite(value)):
        unit = "hours" if attribute.name.endswith("hours") else "seconds"
        raise ValueError(f"{attribute.name} must be greater than 0 and finite ({unit}), got {value!r}")


def _non_negative(_: object, attribute: attrs.Attribute, value: float) -> None:
    if not value >= 0:
        raise ValueError(f"{attribute.name} must be 0 or more, got {value!r}")


@attrs.frozen
class Settings:
    """Everything that shapes a run. Stored with the run so that continuing it keeps them."""

    script: str = ""
    metric: str = "val_loss"
    direction: Direction = Direction.MINIMIZE
    budget: float = attrs.field(default=300.0, validator=_finite_positive)
    # A run that prints nothing for this long is hung: end it early (0 turns this off).
    silence_timeout: float = attrs.field(default=120.0, validator=_non_negative)
    # "improve": a success becomes the new base only when it beats the best; "any": every success.
    keep: str = attrs.field(default="improve", validator=attrs.validators.in_(("improve", "any")))
    seed: int = 0
    failure_limit: int = attrs.field(default=3, validator=attrs.validators.ge(1))
    # Consecutive duplicate proposals (programs this run already ran) after which the run pauses:
    # the proposer has run out of new programs near the best, and running on would only fill
    # the journal.
    duplicate_limit: int = attrs.field(default=20, validator=attrs.validators.ge(1))
    runs_dir: str = ".arrl"
    max_experiments: int | None = attrs.field(default=None, validator=attrs.validators.optional(attrs.validators.ge(1)))
    max_hours: float | None = attrs.field(default=None, validator=attrs.validators.optional(_finite_positive))
    target: float | None = None
    # End the run once this many experiments in a row have not improved the best by more than
    # the noise margin (arrl.run.noise; without a floor, by any amount): the search has stalled, and
    # an unattended run would spend its budgets on a plateau.
    plateau: int | None = attrs.field(default=None, validator=attrs.validators.optional(attrs.validators.ge(1)))
    # Schema field -> the script's own name for it, where arrl cannot find it by itself:
    # a constant (LR), a class field (Config.lr), a dict key (CFG['lr']) or a flag (--lr).
    fields: dict[str, str] = attrs.Factory(dict)
    # Per-field bounds/choices overrides and knobs by the script's own name (arrl.script.space), and
    # names never to tune.
    space: dict[str, SpaceEntry] = attrs.Factory(dict)
    exclude: list[str] = attrs.Factory(list)
    plugins: dict[str, str | list[str]] = attrs.Factory(dict)
    options: dict[str, dict[str, Any]] = attrs.Factory(dict)
    early_stopping: EarlyStoppingSettings = EarlyStoppingSettings()
    # The unmodified script runs this many times, seeds seed, seed+1, ..., before any proposal:
    # the spread of its metric is the noise floor (arrl.run.noise). 1 turns it off: for a metric
    # that does not move with the seed, or when every experiment is precious.
    baseline_runs: int = attrs.field(default=3, validator=attrs.validators.ge(1))
    # Refuse an improvement under 2 sigma of the noise floor as a new best (marked either way).
    refuse_noise: bool = False
    # Trackers to attach to the run, each with its options: [tracking.mlflow] (see arrl.tracking).
    tracking: dict[str, dict[str, Any]] = attrs.Factory(dict)
    # Experiments run at once (arrl.run.workers); each gets its own worktree, runner and CPU share.
    workers: int = attrs.field(default=1, validator=attrs.validators.ge(1))
    # CPUs (and threads) per experiment; None: the CPUs arrl may use divided by `workers`.
    cpus_per_worker: float | None = attrs.field(default=None, validator=attrs.validators.optional(_positive))
    # GPU ids, one per worker ("0,1"); each worker sees only its own (CUDA_VISIBLE_DEVICES).
    gpus: str = ""

    def space_settings(self) -> SpaceSettings:
        return SpaceSettings(dict(self.space), tuple(self.exclude))
    # The script's command-line arguments, passed by every runner (`args = ["--epochs", "3"]`,
    # or one string split as a shell splits it); a flag set here replaces its argparse default
    # (arrl.script.reading.command_line).
    args: list[str] = attrs.Factory(list)
    # A trusted evaluation command ("python eval.py"), run after training on what the experiment
    # wrote to ARRL_OUTPUT_DIR; its metric is the one recorded (see arrl.run.evaluation).
    evaluate: str = ""

    def plugin_names(self, role: str) -> tuple[str, ...]:
        chosen = self.plugins.get(role, DEFAULT_PLUGINS[role])
        if isinstance(chosen, str):
            chosen = [n for n in chosen.split(",")]
        names = tuple(n.strip().lower() for n in chosen if n.strip())
        if not names:
            raise ConfigError(f"no {role} chosen")
        return names


def _strict_bool(value: Any, _: type) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in _BOOL_WORDS:
        return _BOOL_WORDS[value.lower()]
    raise ValueError(f"expected true or false, got {value!r}")


_BOOL_WORDS = {"true": True, "yes": True, "on": True, "1": True,
               "false": False, "no": False, "off": False, "0": False}


def _strict_int(value: Any, _: type) -> int:
    if isinstance(value, bool):
        raise ValueError(f"expected an integer, got {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        return int(value.strip())
    raise ValueError(f"expected an integer, got {value!r}")


def _strict_float(value: Any, _: type) -> float:
    if isinstance(value, bool):
        raise ValueError(f"expected a number, got {value!r}")
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        return float(value.strip())
    raise ValueError(f"expected a number, got {value!r}")


def _strict_str(value: Any, _: type) -> str:
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        return str(value)
    raise ValueError(f"expected a string, got {value!r}")


def _strict_str_list(value: Any, _: type) -> list[str]:
    if isinstance(value, str) or not isinstance(value, (list, tuple)):
        raise ValueError(f"expected a list of names, got {value!r}")
    return [_strict_str(v, str) for v in value]


def _enum(cls: type[enum.Enum], value: Any) -> Any:
    try:
        return cls(value)
    except ValueError:
        allowed = ", ".join(str(m.value) for m in cls)  # type: ignore[attr-defined]
        raise ValueError(f"expected one of {allowed}, got {value!r}") from None


def make_strict_converter() -> cattrs.Converter:
    """A converter that refuses unknown keys and values of the wrong type instead of guessing
    (plain ``bool("false")`` is True; ``int(1.5)`` is 1)."""
    converter = cattrs.Converter(forbid_extra_keys=True)
    converter.register_structure_hook(bool, _strict_bool)
    converter.register_structure_hook(int, _strict_int)
    converter.register_structure_hook(float, _strict_float)
    converter.register_structure_hook(str, _strict_str)
    # Without this the str hook above would claim str-based enums such as Direction.
    converter.register_structure_hook(Direction, lambda v, _: _enum(Direction, v))
    converter.register_structure_hook(
        str | list[str], lambda v, _: v if isinstance(v, str) else [_strict_str(x, str) for x in v]
    )
    converter.register_structure_hook_func(lambda t: t == dict[str, Any], lambda v, _: dict(v))
    # A lone string is not a list of names ("lr" is not ["l", "r"]).
    converter.register_structure_hook_func(lambda t: t == list[str], _strict_str_list)
    return converter


strict_converter = make_strict_converter()


def _format(error: BaseException, type_: Any) -> str:
    # cattrs says only "invalid value" for a ValueError; ours carry the useful sentence. attrs'
    # own validators raise it with (sentence, attribute, bound, value): the sentence is enough.
    if type(error) is ValueError and error.args and isinstance(error.args[0], str):
        return error.args[0]
    if isinstance(error, cattrs.ForbiddenExtraKeysError):
        return f"unknown key(s) {', '.join(sorted(error.extra_fields))}"
    return format_exception(error, type_)


def describe_error(error: Exception, path: str) -> str:
    """Each problem as ``where: what`` in the names of the file or the command line
    (``early_stopping.patience: ...``), not cattrs' ``what @ path``."""
    if not isinstance(error, cattrs.BaseValidationError):
        return str(error)
    said = []
    for line in cattrs.transform_error(error, path=path, format_exception=_format):
        what, _, where = line.rpartition(" @ ")
        if not what:
            said.append(line)
            continue
        where = where.removeprefix(path).lstrip(".")
        said.append(f"{where}: {what}" if where and where not in what else what)
    return "; ".join(said)


def find_config(start: Path) -> Path | None:
    """The nearest ``arrl.toml``, or ``pyproject.toml`` with a ``[tool.arrl]`` table."""
    for directory in (start, *start.parents):
        candidate = directory / "arrl.toml"
        if candidate.is_file():
            return candidate
        pyproject = directory / "pyproject.toml"
        if pyproject.is_file() and "arrl" in _read_toml(pyproject).get("tool", {}):
            return pyproject
    return None


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise ConfigError(f"{path}: {error}") from None


def load_file(path: Path) -> dict[str, Any]:
    data = _read_toml(path)
    return data.get("tool", {}).get("arrl", {}) if path.name == "pyproject.toml" else data


def parse_cli_value(text: str) -> Any:
    """``-o`` values are TOML when they parse as TOML (2, 1e-3, true, ["a"]), else strings."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def merge_cli(
    data: dict[str, Any], plugin_choices: list[str], option_pairs: list[str]
) -> dict[str, Any]:
    """Apply ``--plugin ROLE=NAME[,NAME]`` and ``-o ROLE.OPTION=VALUE`` on top of file data."""
    merged = {**data, "plugins": dict(data.get("plugins", {})), "options": {
        role: dict(values) for role, values in data.get("options", {}).items()}}
    for choice in plugin_choices:
        role, sep, names = choice.partition("=")
        if not sep or not role.strip() or not names.strip():
            raise ConfigError(f"--plugin expects ROLE=NAME, got {choice!r}")
        merged["plugins"][role.strip()] = names.strip()
    for pair in option_pairs:
        key, sep, value = pair.partition("=")
        role, dot, option = key.partition(".")
        if not sep or not dot or not role or not option:
            raise ConfigError(f"-o expects ROLE.OPTION=VALUE, got {pair!r}")
        merged["options"].setdefault(role.strip(), {})[option.strip()] = parse_cli_value(value)
    return merged


def settings_from(data: Mapping[str, Any], source: str = "configuration") -> Settings:
    data = dict(data)
    if isinstance(data.get("args"), str):  # one string, split as a shell splits it
        try:
            data["args"] = shlex.split(data["args"])
        except ValueError as error:
            raise ConfigError(f"bad {source}: args: {error}") from None
    try:
        return strict_converter.structure(data, Settings)
    except (cattrs.BaseValidationError, ValueError, TypeError) as error:
        raise ConfigError(f"bad {source}: {describe_error(error, 'arrl')}") from None
