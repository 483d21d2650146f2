"""A seeded family of simulated training scripts: the objective the search benchmark tunes.

Standard library only: the benchmark copies this file next to each member's ``train.py``, which
imports it, so one definition serves both the script arrl runs and the benchmark's scoring.

A member (one seed) is a task. What differs between members, the way real tasks differ:

- the best learning rate (log-uniform over 2.3 decades for AdamW at batch 32; SGD wants ~10x
  more, Lion ~3x less; larger batches a little more);
- the compute budget and the data: how many steps fit the fixed wall clock, and how strongly
  model size and tokens seen lower the loss, so the best width and depth move;
- which optimizer, activation and scheduler suit it, the best dropout (more for bigger models),
  weight decay, gradient clip and head width;
- the divergence threshold (3x to 30x the best learning rate; mixed precision lowers it) and the
  memory limit (crashes for large width x depth x batch; mixed precision halves activations).

Bigger models take slower steps in the fixed budget, so they see fewer tokens. A run prints
``POINTS`` evaluations of its learning curve (noisy), diverges to nan when the learning rate is
past the threshold, or crashes at start when it does not fit in memory.

The family behind these tables in docs/benchmarks.md: "Search: proposers on held-out members of a
simulated family" (and its subsections); "Early stopping on the family's curves"; "Search quality
per wall-clock hour at 1 and 2 workers". ``main`` is what a member's train.py calls, not a
benchmark of its own; benchmarks/common/simloop.py computes the same curves in-process.
"""

from __future__ import annotations

import math
import random
import sys
import time
from typing import Any

POINTS = 30
WIDTHS = (64, 128, 256, 512, 1024)
BATCHES = (8, 16, 32, 64, 128, 256)
OPTIMIZERS = ("adam", "adamw", "sgd", "lion")
ACTIVATIONS = ("relu", "gelu", "silu", "tanh")
SCHEDULERS = ("cosine", "linear", "constant", "warmup_cosine")
REFERENCE_MEMORY = 128 * 4 * 32

BASELINE: dict[str, Any] = {
    "num_layers": 4, "hidden_dim": 128, "attention_heads": 4, "activation": "gelu", "dropout_rate": 0.1,
    "optimizer": "adamw", "learning_rate": 1e-3, "weight_decay": 0.01, "scheduler": "cosine",
    "batch_size": 32, "gradient_clip": 1.0, "mixed_precision": False,
}


def _penalties(rng: random.Random, names: tuple[str, ...], spread: float) -> dict[str, float]:
    values = {n: rng.uniform(0, spread) for n in names}
    values[rng.choice(names)] = 0.0
    return values


def member(seed: int) -> dict[str, Any]:
    """The task of one seed."""
    rng = random.Random(f"simfamily:{seed}")
    m: dict[str, Any] = {
        "seed": seed,
        "lr_star": 10 ** rng.uniform(-4.0, -1.7),
        "lr_curvature": rng.uniform(0.15, 0.35),  # loss per decade squared away from the best
        "optimizer_lr": {"adam": 1.0, "adamw": 1.0, "sgd": 10 ** rng.uniform(0.7, 1.3),
                         "lion": 10 ** rng.uniform(-0.8, -0.3)},
        "optimizer_penalty": _penalties(rng, OPTIMIZERS, 0.08),
        "activation_penalty": _penalties(rng, ACTIVATIONS, 0.04),
        "scheduler_penalty": _penalties(rng, SCHEDULERS, 0.06),
        "steps": 10 ** rng.uniform(2.7, 3.7),  # steps the reference model makes in the budget
        "floor": rng.uniform(1.5, 3.0),
        "capacity_scale": rng.uniform(0.3, 0.9),
        "capacity_power": rng.uniform(0.25, 0.6),
        "width_share": rng.uniform(0.6, 1.2),  # how much of a model's capacity width buys ...
        "depth_share": rng.uniform(0.6, 1.4),  # ... and depth, per unit of compute
        "batch_best": rng.choice(BATCHES),
        "batch_curvature": rng.uniform(0.005, 0.03),
        "precision_penalty": rng.uniform(0.0, 0.15),
        "depth_best": 2 ** rng.uniform(0.0, 4.0),  # past it, depth is harder to optimise
        "depth_curvature": rng.uniform(0.01, 0.05),
        "data_scale": rng.uniform(2.0, 8.0),
        "data_power": rng.uniform(0.3, 0.55),
        "dropout_base": rng.uniform(-0.1, 0.25),
        "dropout_curvature": rng.uniform(0.2, 1.0),
        "weight_decay_best": rng.uniform(0.0, 0.1),
        "weight_decay_curvature": rng.uniform(0.005, 0.03),
        "clip_best": 10 ** rng.uniform(-0.5, 0.5),
        "clip_curvature": rng.uniform(0.005, 0.03),
        "head_width_best": rng.choice((16, 32, 64)),
        "divergence": 10 ** rng.uniform(0.5, 1.5),
        "memory": REFERENCE_MEMORY * 10 ** rng.uniform(0.5, 1.5),
        "noise": rng.uniform(0.003, 0.02),
        "diverge_at": rng.uniform(0.2, 0.6),
    }
    # The unmodified script must run on every member: its learning rate never diverges.
    baseline_best = best_learning_rate(BASELINE, m)
    m["divergence"] = max(m["divergence"], 2.0 * BASELINE["learning_rate"] / baseline_best)
    return m


def best_learning_rate(config: dict[str, Any], m: dict[str, Any]) -> float:
    return m["lr_star"] * m["optimizer_lr"][config["optimizer"]] * (config["batch_size"] / 32) ** 0.5


def divergence_threshold(config: dict[str, Any], m: dict[str, Any]) -> float:
    return best_learning_rate(config, m) * m["divergence"] / (1.5 if config["mixed_precision"] else 1.0)


def crashes(config: dict[str, Any], m: dict[str, Any]) -> bool:
    memory = config["hidden_dim"] * config["num_layers"] * config["batch_size"]
    return memory * (0.5 if config["mixed_precision"] else 1.0) > m["memory"]


def diverges(config: dict[str, Any], m: dict[str, Any]) -> bool:
    return config["learning_rate"] > divergence_threshold(config, m)


def _size(config: dict[str, Any]) -> float:
    """Parameters relative to the reference model (width 128, depth 4)."""
    return (config["hidden_dim"] / 128) ** 2 * config["num_layers"] / 4


def _capacity(config: dict[str, Any], m: dict[str, Any]) -> float:
    return ((config["hidden_dim"] / 128) ** (2 * m["width_share"])
            * (config["num_layers"] / 4) ** m["depth_share"])


def _offset(config: dict[str, Any], m: dict[str, Any]) -> float:
    """Everything but the tokens-seen term: capacity, and the cost of each knob off its best."""
    size = _size(config)
    lr_error = math.log10(config["learning_rate"] / best_learning_rate(config, m))
    dropout_best = min(max(m["dropout_base"] + 0.05 * math.log2(size), 0.0), 0.5)
    head_width = config["hidden_dim"] / config["attention_heads"]
    return (
        m["floor"]
        + m["capacity_scale"] / _capacity(config, m) ** m["capacity_power"]
        + m["batch_curvature"] * math.log2(config["batch_size"] / m["batch_best"]) ** 2
        + (m["precision_penalty"] if config["mixed_precision"] else 0.0)
        + m["depth_curvature"] * math.log2(config["num_layers"] / m["depth_best"]) ** 2
        + m["lr_curvature"] * lr_error ** 2
        + m["optimizer_penalty"][config["optimizer"]]
        + m["activation_penalty"][config["activation"]]
        + m["scheduler_penalty"][config["scheduler"]]
        + m["dropout_curvature"] * (config["dropout_rate"] - dropout_best) ** 2
        + m["weight_decay_curvature"] * ((config["weight_decay"] - m["weight_decay_best"]) / 0.1) ** 2
        + m["clip_curvature"] * math.log10(config["gradient_clip"] / m["clip_best"]) ** 2
        + 0.01 * math.log2(head_width / m["head_width_best"]) ** 2
    )


def tokens(config: dict[str, Any], m: dict[str, Any]) -> float:
    """Tokens seen in the budget (in reference batches): bigger models step more slowly."""
    step_time = _size(config) * (config["batch_size"] / 32) ** 0.7 * (0.6 if config["mixed_precision"] else 1.0)
    return m["steps"] / step_time * config["batch_size"] / 32


def curve(config: dict[str, Any], m: dict[str, Any]) -> list[float]:
    """The noise-free learning curve; empty when the run crashes, nan from where it diverges."""
    if crashes(config, m):
        return []
    offset, seen = _offset(config, m), tokens(config, m)
    values = [offset + m["data_scale"] / (seen * t / POINTS) ** m["data_power"] for t in range(1, POINTS + 1)]
    if diverges(config, m):
        at = max(int(POINTS * m["diverge_at"]), 1)
        values = values[:at] + [math.nan] * (POINTS - at)
    return values


def true_final(config: dict[str, Any], m: dict[str, Any]) -> float:
    """The noise-free final loss; inf for a run that crashes or diverges."""
    values = curve(config, m)
    return values[-1] if values and math.isfinite(values[-1]) else math.inf


def optimum(m: dict[str, Any]) -> tuple[float, dict[str, Any]]:
    """The best final loss any configuration in the schema reaches on member ``m``."""
    best: tuple[float, dict[str, Any]] = (math.inf, {})
    activation = min(ACTIVATIONS, key=lambda a: m["activation_penalty"][a])
    scheduler = min(SCHEDULERS, key=lambda s: m["scheduler_penalty"][s])
    for width in WIDTHS:
        heads = min((h for h in range(1, 129) if width % h == 0),
                    key=lambda h: abs(math.log2(width / h / m["head_width_best"])))
        for depth in range(1, 65):
            for batch in BATCHES:
                for optimizer in OPTIMIZERS:
                    for precision in (False, True):
                        config = {**BASELINE, "hidden_dim": width, "num_layers": depth, "batch_size": batch,
                                  "optimizer": optimizer, "mixed_precision": precision, "attention_heads": heads,
                                  "activation": activation, "scheduler": scheduler,
                                  "weight_decay": m["weight_decay_best"], "gradient_clip": m["clip_best"]}
                        if crashes(config, m):
                            continue
                        size = _size(config)
                        config["dropout_rate"] = min(max(m["dropout_base"] + 0.05 * math.log2(size), 0.0), 0.5)
                        limit = divergence_threshold(config, m)
                        config["learning_rate"] = min(best_learning_rate(config, m), 0.999 * limit, 1.0)
                        value = true_final(config, m)
                        if value < best[0]:
                            best = (value, config)
    return best


def main(config: dict[str, Any], seed: int, run_seed: int = 0, seconds: float = 0.12) -> None:
    """What the member's train.py does: print a noisy curve over ``seconds``, or crash."""
    m = member(seed)
    if crashes(config, m):
        print("RuntimeError: CUDA out of memory (simulated)", file=sys.stderr)
        sys.exit(1)
    rng = random.Random(f"{run_seed}:{sorted(config.items())}")
    for value in curve(config, m):
        time.sleep(seconds / POINTS)
        noisy = value + rng.gauss(0.0, m["noise"]) if math.isfinite(value) else value
        print(f"arrl: val_loss={noisy}", flush=True)


def drawn_baseline(seed: int) -> dict[str, Any]:
    """Another starting script for member ``seed``: every knob drawn at random (a baseline that
    runs: it neither crashes nor diverges on the member). For checking that a search strategy
    is a way of moving, not a memory of where BASELINE's neighbours pay."""
    m = member(seed)
    rng = random.Random(f"simfamily-baseline:{seed}")
    while True:
        width = rng.choice(WIDTHS)
        config = {
            "num_layers": rng.randint(1, 16), "hidden_dim": width,
            "attention_heads": rng.choice([h for h in (1, 2, 4, 8, 16) if width % h == 0]),
            "activation": rng.choice(ACTIVATIONS), "dropout_rate": round(rng.uniform(0.0, 0.3), 2),
            "optimizer": rng.choice(OPTIMIZERS), "learning_rate": float(f"{10 ** rng.uniform(-4.5, -1.0):.2g}"),
            "weight_decay": round(rng.uniform(0.0, 0.1), 3), "scheduler": rng.choice(SCHEDULERS),
            "batch_size": rng.choice(BATCHES), "gradient_clip": float(f"{10 ** rng.uniform(-0.7, 0.7):.2g}"),
            "mixed_precision": rng.random() < 0.5,
        }
        if math.isfinite(true_final(config, m)):
            return config


def script(seed: int, baseline: dict[str, Any] | None = None) -> str:
    """The train.py of member ``seed``: the twelve knobs as constants (``baseline``, by default
    BASELINE), then the run."""
    knobs = {
        "NUM_LAYERS": "num_layers", "HIDDEN_DIM": "hidden_dim", "ATTENTION_HEADS": "attention_heads",
        "ACTIVATION": "activation", "DROPOUT": "dropout_rate", "OPTIMIZER": "optimizer",
        "LEARNING_RATE": "learning_rate", "WEIGHT_DECAY": "weight_decay", "SCHEDULER": "scheduler",
        "BATCH_SIZE": "batch_size", "GRAD_CLIP": "gradient_clip", "MIXED_PRECISION": "mixed_precision",
    }
    lines = ['"""A simulated training run (arrl benchmark family member)."""', "import os", "",
             "import simfamily", ""]
    lines += [f"{name} = {(baseline or BASELINE)[field]!r}" for name, field in knobs.items()]
    config = ", ".join(f"{field!r}: {name}" for name, field in knobs.items())
    lines += ["", f"CONFIG = {{{config}}}",
              f"simfamily.main(CONFIG, {seed}, int(os.environ.get('ARRL_SEED', '0')))", ""]
    return "\n".join(lines)
