"""argparse defaults (style ``argparse``).

Reads ``parser.add_argument("--lr", type=float, default=3e-4)``: the ``default=`` of a flag,
named by its long flag (``--lr``; ``dest=`` names the field when given). The flag's ``choices=``
(a list, or a module-level list by name: ``choices=ACTS``) are the values a choice field may
take, spelled as the script spells them.
"""

from __future__ import annotations

import libcst as cst

from .findings import Findings
from .syntax import keyword, string_value, strings


def read(found: Findings, node: cst.Call) -> None:
    """An ``add_argument(...)`` call."""
    flags = [s for s in (string_value(a.value) for a in node.args if a.keyword is None) if s]
    default = keyword(node, "default")
    dest = string_value(keyword(node, "dest"))
    if not flags or default is None:
        return
    long = next((f for f in flags if f.startswith("--")), flags[0])
    found.add(long, dest or long, default, "argparse")
    found.argparse_flags[long] = tuple(flags)
    listed = keyword(node, "choices")
    items = found.string_lists.get(listed.value) if isinstance(listed, cst.Name) else strings(listed)
    if items:
        found.argparse_choices[long] = tuple(items)
