"""Attributes of a config object (style ``attribute``).

Reads ``C.trainer.learning_rate = 5e-4`` (minGPT's CfgNode) and ``_C.SOLVER.BASE_LR = 0.001``
(yacs, detectron2), named by their dotted path: settings when assigned at module level or in a
function that builds a configuration (``def get_config``, ``def get_default_config``), not in a
dataset's, never on ``self``, an imported module or an evaluation section (``_C.TEST``).
A config attribute *passed* to a call (``nn.Dropout(H.p_drop)``) is followed by :mod:`.tracing`.
"""

from __future__ import annotations

import libcst as cst

from .findings import Findings
from .names import words
from .scope import CONFIG_SCOPE_WORDS, DATA_SCOPE_WORDS, EVALUATION_SCOPE_WORDS, Scope
from .syntax import dotted, literal


def read(found: Findings, scope: Scope, target: cst.Attribute, value: cst.BaseExpression) -> None:
    """``target = value`` for an attribute chain ``target``."""
    path = dotted(target)
    root = path.split(".")[0]
    if not path or root in ("self", "cls") or root in scope.imported or literal(found.module, value) is None:
        return
    if any(set(words(part)) & EVALUATION_SCOPE_WORDS for part in path.split(".")[:-1]):
        return  # _C.TEST.BATCH_SIZE, C.eval.max_iters: the evaluation's, never the training's
    scopes = [set(words(name)) for name, _ in scope.enclosing]
    if any(parts & DATA_SCOPE_WORDS for parts in scopes):
        return
    if scope.depth == 0 or any(parts & CONFIG_SCOPE_WORDS for parts in scopes):
        found.add(path, target.attr.value, value, "attribute")
