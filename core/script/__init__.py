"""The training script: reading its knobs (``reader``), the run's search space, the actions over it,
the observation a learning proposer sees, the candidates ``arrl inspect`` lists, and ``arrl init``.

The names below are the public surface that plugins use (``from arrl.script import extract``).
They load on first use (PEP 562), so that ``import arrl`` does not read libcst.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .reader import Program, ScriptError, apply_edit, apply_values, edit_observed, extract, unified_diff

__all__ = ["Program", "ScriptError", "apply_edit", "apply_values", "edit_observed", "extract", "unified_diff"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        return getattr(importlib.import_module(".reader", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
