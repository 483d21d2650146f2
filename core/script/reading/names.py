"""The names arrl reads as schema fields, and the words names are made of.

A field is found by one of its aliases (``n_layer``, ``depth``, ``num_layers``; ``lr``,
``learning_rate``; ...), by a dtype or precision name (mixed precision) or by a flag that turns a
learning-rate schedule on or off (the scheduler). Name parts that say evaluation mark a value
that is never tuned.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from arrl.schema import FIELDS_BY_NAME

ALIASES: Mapping[str, tuple[str, ...]] = {
    "num_layers": ("num_layers", "n_layers", "n_layer", "layers", "depth", "num_blocks", "n_blocks",
                   "num_hidden_layers"),
    "hidden_dim": ("hidden_dim", "hidden_size", "d_model", "n_embd", "n_embed", "embed_dim", "width", "dim",
                   "hidden", "model_dim"),
    "attention_heads": ("attention_heads", "num_heads", "n_heads", "n_head", "heads", "nhead",
                        "num_attention_heads"),
    "activation": ("activation", "act", "activation_fn", "nonlinearity", "hidden_act"),
    "dropout_rate": ("dropout_rate", "dropout", "p_dropout", "p_drop", "drop_rate", "drop", "hidden_dropout_prob",
                     "dropout_prob"),
    "optimizer": ("optimizer", "optimizer_type", "optim", "opt", "optimizer_name", "opt_name"),
    "learning_rate": ("learning_rate", "lr", "base_lr", "max_lr"),
    "weight_decay": ("weight_decay", "wd"),
    "scheduler": ("scheduler", "lr_scheduler", "lr_schedule", "schedule", "lr_scheduler_type", "scheduler_type"),
    "batch_size": ("batch_size", "bs", "train_batch_size", "per_device_train_batch_size", "device_batch_size",
                   "micro_batch_size", "local_batch_size"),
    "gradient_clip": ("gradient_clip", "grad_clip", "clip_grad_norm", "max_grad_norm", "clip", "clip_norm", "max_norm",
                      "gradient_clip_val", "grad_norm_clip"),
    "mixed_precision": ("mixed_precision", "amp", "use_amp", "autocast", "fp16", "bf16", "use_fp16", "use_bf16"),
}
FIELD_FOR_ALIAS = {alias: field for field, names in ALIASES.items() for alias in names}

# Mixed precision written as a dtype or precision string: its full- and half-precision spellings.
PRECISION_NAMES = frozenset({"dtype", "precision", "amp_dtype", "autocast_dtype", "mixed_precision", "compute_dtype",
                             "train_dtype", "ptdtype"})
# Flags that turn a learning-rate schedule on or off (nanoGPT's decay_lr).
SCHEDULE_FLAGS = frozenset({"decay_lr", "lr_decay", "use_scheduler", "use_lr_scheduler", "use_lr_schedule",
                            "cosine_decay", "use_cosine", "use_cosine_schedule", "schedule_lr", "anneal_lr"})

# Name parts that mark evaluation: a value named so is never tuned (it would game the metric),
# and a call site fed by one (DataLoader(test_set, batch_size=args.test_batch_size)) is not
# where a training field lives.
EVALUATION_WORDS = frozenset({"eval", "evals", "evaluation", "evaluate", "val", "valid", "validation", "test", "dev",
                              "tests", "seed", "split", "holdout", "metric", "metrics", "bpb"})
FIELD_SET = frozenset(FIELDS_BY_NAME)


def words(name: str) -> list[str]:
    """The parts of a name, lower case: ``EVAL_ITERS`` -> eval, iters; ``--log-interval``,
    ``Config.warmupRatio`` and ``CFG['val_split']`` likewise."""
    last = name.lstrip("-")
    if last.endswith("=)"):  # a keyword of a configuration call: TrainingArguments(output_dir=)
        last = last[last.rfind("(") + 1:-2]
    if last.endswith("']") or last.endswith('"]'):
        last = last[last.rfind("[") + 2:-2]
    last = last.rsplit(".", 1)[-1]
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", last)
    return [w for w in re.split(r"[_\-\s]+", spaced.lower()) if w]


def spells_a_field(name: str) -> bool:
    """Whether ``name`` is one of the spellings arrl reads as a schema field (``lr``,
    ``bf16``, ``dtype``, ``decay_lr``): another place of a field, not a separate knob."""
    key = normal_name(words_joined(name))
    return key in FIELD_FOR_ALIAS or key in PRECISION_NAMES or key in SCHEDULE_FLAGS


def words_joined(name: str) -> str:
    return "_".join(words(name))


def is_evaluation_name(name: str) -> bool:
    return bool(set(words(name)) & EVALUATION_WORDS)


def normal_name(name: str) -> str:
    """A name as aliases are written: ``--learning-rate`` -> learning_rate."""
    return name.lstrip("-").replace("-", "_").lower()


def normal_path(path: str) -> str:
    # Users write CONFIG["lr"]; sites are stored as CONFIG['lr'].
    return path.replace('"', "'")


def last_name(path: str) -> str:
    """The name a path ends in: ``--lr`` -> lr, ``CONFIG['lr']`` -> lr, ``Config.lr`` -> lr."""
    if path.startswith("-"):
        return path.lstrip("-").replace("-", "_")
    if path.endswith("']"):
        return path[path.rfind("['") + 2:-2]
    return path.rsplit(".", 1)[-1]
