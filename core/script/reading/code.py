"""Choices written as code (style ``code``).

Reads which optimizer, activation and scheduler a script uses from the calls that make them:
``torch.optim.SGD(...)`` (Adam, AdamW, SGD, Lion), ``nn.GELU()`` and ``F.silu(x)`` (ReLU, GELU,
SiLU, Tanh), ``CosineAnnealingLR(...)`` (and LinearLR, ConstantLR, transformers'
``get_cosine_schedule_with_warmup``), and ``torch.autocast(...)`` without ``enabled=`` (mixed
precision on). Used when no name or string says the choice; the writer switches optimizers and
activations by rewriting the call, never a scheduler.
"""

from __future__ import annotations

import libcst as cst

from arrl.schema import FIELDS_BY_NAME

from .draft import Draft
from .findings import CodeChoice, Findings
from .results import Site
from .scope import Scope
from .syntax import dotted

OPTIMIZER_CLASSES = {"Adam": "adam", "AdamW": "adamw", "SGD": "sgd", "Lion": "lion"}
# Keyword arguments each optimizer accepts: a switch written as code drops the others (writer), and
# a config may switch only to an optimizer that takes every argument it gives (config_files).
OPTIMIZER_KEYWORDS = {
    "adam": {"params", "lr", "betas", "eps", "weight_decay", "amsgrad", "foreach", "maximize",
             "capturable", "differentiable", "fused"},
    "sgd": {"params", "lr", "momentum", "dampening", "weight_decay", "nesterov", "maximize",
            "foreach", "differentiable", "fused"},
    "lion": {"params", "lr", "betas", "weight_decay", "use_triton", "decoupled_weight_decay"},
}
OPTIMIZER_KEYWORDS["adamw"] = OPTIMIZER_KEYWORDS["adam"]
ACTIVATION_CLASSES = {"ReLU": "relu", "GELU": "gelu", "SiLU": "silu", "Tanh": "tanh"}
_ACTIVATION_FUNCTIONS = {"relu": "relu", "gelu": "gelu", "silu": "silu", "tanh": "tanh"}
_SCHEDULER_CLASSES = {"CosineAnnealingLR": "cosine", "LinearLR": "linear", "ConstantLR": "constant",
                      "get_cosine_schedule_with_warmup": "warmup_cosine"}


def read(found: Findings, node: cst.Call, callee: str, passed: dict[str, cst.BaseExpression], line: int,
         ignored: frozenset[str]) -> None:
    """A call that may make an optimizer, an activation, a scheduler or an autocast region."""
    short = callee.split(".")[-1]
    choice: CodeChoice | None = None
    if short in OPTIMIZER_CLASSES:
        positional = sum(1 for a in node.args if a.keyword is None)
        choice = CodeChoice("optimizer", OPTIMIZER_CLASSES[short], node, line, f"{callee}(...)",
                            switchable=positional <= 2 and all(a.star == "" for a in node.args))
    elif short in ACTIVATION_CLASSES and callee.split(".")[0] in ("nn", "torch"):
        choice = CodeChoice("activation", ACTIVATION_CLASSES[short], node, line, f"{callee}()", True)
    elif short in _ACTIVATION_FUNCTIONS and len(callee.split(".")) > 1 and callee.split(".")[-2] in ("F", "functional", "torch"):
        choice = CodeChoice("activation", short, node, line, f"{callee}()", True)
    elif short in _SCHEDULER_CLASSES:
        choice = CodeChoice("scheduler", _SCHEDULER_CLASSES[short], node, line, f"{callee}(...)", False)
    elif short == "autocast" and "enabled" not in passed:
        # torch.autocast(...) without enabled=: mixed precision is on; turning it off adds enabled=False.
        choice = CodeChoice("mixed_precision", True, node, line, f"{callee}(...)", True)  # type: ignore[arg-type]
    if choice is not None and choice.field not in ignored:
        found.code.append(choice)


def settle(draft: Draft, found: Findings, scope: Scope) -> None:
    """Choices written as code, for the fields no name or string settled."""
    by_field: dict[str, list[CodeChoice]] = {}
    for choice in found.code:
        by_field.setdefault(choice.field, []).append(choice)
    for field, made in by_field.items():
        if field in draft.values:
            continue
        kinds = sorted({c.value for c in made})
        where = ", ".join(str(c.line) for c in made)
        if len(kinds) > 1:
            draft.problems[field] = (f"written as code with several values ({', '.join(kinds)}; lines {where}); "
                                     "map it in the config")
            continue
        editable = all(c.switchable for c in made)
        note = "" if editable else "written as code arrl does not rewrite"
        draft.settle(field, kinds[0], Site(field, kinds[0], made[0].line, "code", made[0].path, editable, note),
                     list(made))
    # Which optimizers a script can switch to depends on what it has at hand.
    if draft.sites.get("optimizer") and draft.sites["optimizer"].style == "code":
        available: list[str] = []
        for name in ("adam", "adamw", "sgd"):
            if scope.torch_optim_prefix or all(dotted(c.node.func).count(".") for c in draft.targets["optimizer"]):
                available.append(name)
        if scope.names_with_lion:
            available.append("lion")
        if draft.values["optimizer"] not in available:
            available.append(str(draft.values["optimizer"]))
        draft.choices["optimizer"] = tuple(c for c in FIELDS_BY_NAME["optimizer"].choices if c in available)
