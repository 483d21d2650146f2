"""Which other constants of a script look tunable: the candidates ``arrl inspect`` lists.

A candidate is a literal where a configuration lives (a module constant, a config-class field,
an argparse default, a config-dict key) holding a number, a bool, or a string from a known
vocabulary (a dtype, an optimizer or activation name, a pattern). Schema fields already found
are not candidates again, and neither is anything hands-off:

- evaluation: eval iterations and intervals, the validation or test split, the seed, metrics,
  and any line inside a frozen region (``# arrl: frozen``): tuning them games the metric;
- plumbing: paths, file and run names, logging, checkpointing, devices, workers, compilation,
  the time budget, the vocabulary size;
- values replaced before use (shown by ``inspect`` as overridden);
- names the user excluded (``exclude = [...]``).

:func:`find_candidates` returns them with a suggested ``[space]`` entry each;
:func:`arrl.script.space.space_toml` writes the table.
"""

from __future__ import annotations

import ast
import posixpath
import re
from collections.abc import Sequence

import attrs

from .reader import EVALUATION_WORDS, Extraction, spells_a_field, words
from .space import SpaceEntry, space_toml, suggested_entry

# Name parts that mark plumbing, not hyperparameters.
PLUMBING_WORDS = frozenset({
    "log", "logs", "logging", "logger", "wandb", "tensorboard", "print", "save", "saving", "checkpoint",
    "checkpoints", "ckpt", "out", "output", "dir", "path", "file", "filename", "url", "name", "project", "run",
    "device", "devices", "backend", "resume", "from", "dataset", "data", "workers", "verbose", "debug",
    "compile", "cuda", "mps", "cpu", "gpu", "gpus", "accelerator", "nodes", "rank", "world", "port", "master",
    "budget", "time", "seconds", "timeout", "dry", "profile", "profiler", "vocab", "sample", "samples",
    "generate", "tokenizer", "cache", "download", "host", "pin", "ddp", "distributed", "local", "only",
    "push", "hub", "token", "report", "overwrite", "progress", "bar", "deterministic", "benchmark", "version",
    "flops", "peak", "mfu", "h100", "a100", "tflops", "wall", "verbosity", "folder", "shuffle",
})
# Name parts that mark the task itself (how many classes, how big or hard the data is): changing
# them changes what is measured, so a lower loss would not be a better model. Noise counts only as
# the data's or the labels' (label_noise), not an algorithm's (TD3's policy_noise, noise_std
# augmentation).
TASK_WORDS = frozenset({"classes", "labels", "corpus", "subset", "difficulty", "corruption"})
_NOISY_THINGS = frozenset({"label", "labels", "data", "target", "targets", "input", "inputs"})
# Name parts under which a string is a hyperparameter (an activation, a window pattern).
STRING_KNOB_WORDS = frozenset({"act", "activation", "optim", "optimizer", "opt", "sched", "scheduler", "schedule",
                               "dtype", "precision", "pattern", "norm", "pooling", "pool", "attention", "attn",
                               "init"})
RATE_WORDS = frozenset({"lr", "rate", "eps", "epsilon", "decay"})
FRACTION_WORDS = frozenset({"ratio", "frac", "fraction", "beta", "beta1", "beta2", "momentum", "smoothing",
                            "prob", "p", "dropout", "gamma", "ema"})
_KNOWN_STRINGS = frozenset({
    "adam", "adamw", "sgd", "lion", "rmsprop", "adagrad", "muon", "relu", "gelu", "silu", "tanh", "swish",
    "leaky_relu", "elu", "mish", "relu2", "cosine", "linear", "constant", "warmup_cosine", "step", "exponential",
    "onecycle", "wsd", "float32", "bfloat16", "float16", "fp16", "bf16", "fp32", "16-mixed", "bf16-mixed",
    "32-true", "layernorm", "rmsnorm", "batchnorm",
})
_ALTERNATIVES = {
    "float32": ("bfloat16", "float16"), "bfloat16": ("float32", "float16"), "float16": ("float32", "bfloat16"),
    "adam": ("adamw", "sgd"), "adamw": ("adam", "sgd"), "sgd": ("adam", "adamw"),
    "relu": ("gelu", "silu"), "gelu": ("relu", "silu"), "silu": ("relu", "gelu"),
    "cosine": ("linear", "constant"), "linear": ("cosine", "constant"), "constant": ("cosine", "linear"),
}
_PATH_LIKE = re.compile(r"[/\\]|\.(pt|pth|bin|txt|json|csv|npy|npz|ckpt|safetensors|yaml|yml|toml|py|tar|gz)$", re.I)


@attrs.frozen
class Candidate:
    name: str  # the script's own name: what a [space] entry is keyed by
    value: object
    line: int
    style: str
    entry: SpaceEntry  # a suggested [space] entry
    file: str = ""  # the config file it is written in, relative to the script's folder; "" the script


@attrs.frozen
class HandsOff:
    name: str
    value: object
    line: int
    reason: str
    file: str = ""


def _is_data_size(parts: set[str]) -> bool:
    """How much data, or what resolution, the task has (n_train, --num-train, train_size,
    --img-size): not how long or in what batches training runs (num_train_epochs, max_train_steps)."""
    amount = bool(parts & {"n", "num", "size", "samples", "examples", "count", "frac", "fraction", "ratio", "split",
                           "pct", "percent"})
    if "train" in parts and amount and not parts & {"steps", "iters", "epochs", "batch", "step", "iter", "epoch",
                                                      "crop"}:
        return True  # a train fraction moves the validation split too
    if parts & {"n", "num"} and parts & {"features", "informative", "redundant"}:
        return True  # a synthetic data set's own width (make_classification's n_features)
    if parts & {"input", "output"} and parts & {"size", "dim", "features"} and len(parts) == 2:
        return True  # the data's width and the class count, as a model's input_size and output_size
    return parts == {"resolution"} or (bool(parts & {"img", "image", "resolution"})
                                       and bool(parts & {"size", "res", "height", "width"}))


# Name parts of how long training runs, and the words that may qualify it (max_iters,
# num_train_epochs). Any other word makes the name a part of the schedule (warmup_iters,
# lr_decay_iters, whiten_bias_epochs), an accumulation or an interval, not the length itself.
_LENGTH_WORDS = frozenset({"epochs", "epoch", "iters", "iter", "iterations", "steps"})
_LENGTH_QUALIFIERS = frozenset({"max", "num", "n", "total", "train", "training", "number", "of"})


def _is_training_length(parts: set[str]) -> bool:
    """How long training runs (epochs, max_iters, TRAIN_STEPS): more of it wins by itself, so it
    is a knob only where the user declares it in [space]."""
    return bool(parts & _LENGTH_WORDS) and parts <= _LENGTH_WORDS | _LENGTH_QUALIFIERS


def hands_off_reason(name: str) -> str:
    """Why ``name`` must never be tuned (evaluation, plumbing), or "" when it may be."""
    parts = set(words(name))
    if parts & EVALUATION_WORDS or {"early", "stop"} <= parts or {"early", "stopping"} <= parts or "tta" in parts:
        return "evaluation: tuning it would game the metric"  # tta: test-time augmentation
    if parts & TASK_WORDS or parts == {"noise"} or ("noise" in parts and parts & _NOISY_THINGS) \
            or _is_data_size(parts):
        return "the task, not the model: changing it changes what is measured"
    if _is_training_length(parts):
        return "training length: more training wins by itself; declare it in [space] to tune it"
    if parts & PLUMBING_WORDS or parts in ({"train"}, {"do", "train"}):  # whether it trains at all
        return "plumbing, not a hyperparameter"
    if "start" in parts and parts <= _LENGTH_WORDS | {"start", "step"}:  # --start-epoch: where a resumed run begins
        return "plumbing: where a resumed run starts, not a hyperparameter"
    return ""


# Sections of a config file whose every value is evaluation or plumbing ([validation] freq,
# [checkpoint] interval, [compile] enable), whatever the key's own name says.
_PLUMBING_SECTIONS = frozenset({"checkpoint", "checkpointing", "compile", "logging", "logger", "job", "profiling",
                                "profiler", "wandb", "tensorboard", "hydra", "paths", "callbacks"})


def _section_reason(key: str) -> str:
    """Why a config value is hands-off by the section it is in ("" when it is not)."""
    sections = {word for part in key.split(".")[:-1] for word in words(part)}
    if sections & EVALUATION_WORDS:
        return "evaluation: tuning it would game the metric"
    if sections & _PLUMBING_SECTIONS:
        return "plumbing, not a hyperparameter"
    return ""


def _frozen_lines(source: str) -> set[int]:
    # The validator owns the frozen-region markers; read them the way it does.
    from arrl.plugins.validator.ast_validator import frozen_regions

    return {n for start, end, _ in frozen_regions(source) for n in range(start, end + 1)}


def _state_names(source: str) -> set[str]:
    """Names the script changes as it runs (``step += 1`` in the training loop, assigned in a
    loop or through ``global``): counters and state, not configuration. A one-off adjustment
    outside loops (``gradient_accumulation_steps //= world_size``) leaves a knob a knob."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set()
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Global):
            names.update(node.names)
        elif isinstance(node, (ast.For, ast.While)):
            for inner in ast.walk(node):
                if isinstance(inner, ast.Assign):
                    names.update(t.id for t in inner.targets if isinstance(t, ast.Name))
                elif isinstance(inner, ast.AugAssign) and isinstance(inner.target, ast.Name):
                    names.add(inner.target.id)
    return names


def _string_is_knob(name: str, value: str) -> bool:
    if _PATH_LIKE.search(value) or not value:
        return False
    return value.lower() in _KNOWN_STRINGS or bool(set(words(name)) & STRING_KNOB_WORDS)


def find_candidates(source: str, extraction: Extraction,
                    exclude: Sequence[str] = ()) -> tuple[list[Candidate], list[HandsOff]]:
    """The tunable-looking literals of a script not already read as fields or knobs, and the
    hands-off ones (with why), in file order."""
    taken = {site.path for site in extraction.sites.values()} | set(extraction.knobs)
    frozen = _frozen_lines(source)
    state = _state_names(source)
    found: list[Candidate] = []
    hands_off: list[HandsOff] = []
    for site in sorted(extraction.literals, key=lambda s: (s.file, s.line)):
        name, value = site.path, site.value
        # A config file's value is judged by where it lands in the script's config (data.noise).
        said = site.key or name
        if name in taken or (not site.file and name in state) or (name.startswith("_") and "." not in name) \
                or len(name) == 1:
            continue
        if name in exclude or said in exclude or site.path.rsplit(".", 1)[-1] in exclude:
            hands_off.append(HandsOff(name, value, site.line, "excluded in the config", site.file))
            continue
        if not site.file and site.line in frozen:
            hands_off.append(HandsOff(name, value, site.line, "inside a frozen region"))
            continue
        reason = hands_off_reason(said) or (_section_reason(site.key) if site.file else "")
        if reason:
            hands_off.append(HandsOff(name, value, site.line, reason, site.file))
            continue
        if isinstance(value, str) and not _string_is_knob(said, value):
            continue
        if spells_a_field(said) and name not in extraction.own_knobs:
            continue  # another spelling of a schema field (bf16 next to precision): inspect shows the field
        alternatives = _ALTERNATIVES.get(value.lower(), ()) if isinstance(value, str) else ()
        parts = set(words(said))
        scale = "rate" if parts & RATE_WORDS else "fraction" if parts & FRACTION_WORDS else ""
        entry = suggested_entry(value, alternatives, scale)  # type: ignore[arg-type]
        found.append(Candidate(name, value, site.line, site.style, entry, site.file))
    return found, hands_off


def candidates_toml(candidates: Sequence[Candidate], path: str) -> str:
    """The ``[space]`` table that tunes ``candidates``, each entry noting where it is and its
    value now: the one writer behind ``arrl inspect --space`` and ``arrl init``."""
    return space_toml({c.name: c.entry for c in candidates},
                      {c.name: f"{_where(path, c.file)}:{c.line}, now {c.value!r}" for c in candidates})


def _where(script: str, file: str) -> str:
    """Where a value is written: the script, or a config file beside it."""
    return posixpath.join(posixpath.dirname(script), file) if file else script
