"""Module-level constants (style ``constant``).

Reads ``N_LAYERS = 6``, ``LR: float = 3e-4`` and ``BATCH = 2**5`` at module level; the last
assignment of a name wins. A constant that holds a dict is read by :mod:`.dicts`. Also notes, for
other rules, the module-level values that are not literals: a dict keyed by strings (a dispatch
table, :mod:`.dispatch`), a list of strings (``choices=ACTS``, :mod:`.argparse_defaults`) and an
instance (``H = HParams()``, whose attributes :mod:`.tracing` follows).
"""

from __future__ import annotations

import libcst as cst

from . import dicts
from .findings import Findings
from .syntax import string_value, strings


def read(found: Findings, name: str, value: cst.BaseExpression) -> None:
    """``name = value`` at module level."""
    if isinstance(value, cst.Dict):
        keys = [string_value(e.key) for e in value.elements if isinstance(e, cst.DictElement)]
        if keys and all(k is not None for k in keys):
            found.string_tables[name] = [k for k in keys if k is not None]
    items = None if isinstance(value, cst.Set) else strings(value)
    if items:
        found.string_lists[name] = items  # for choices=ACTS
    if isinstance(value, cst.Call):
        found.instances[name] = value
    if found.add(name, name, value, "constant") is None:
        dicts.read(found, name, value)
