"""Config dicts (style ``dict``).

Reads the string keys of a dict literal assigned to a module-level constant,
``CONFIG = {"lr": 3e-4, "optim": {"wd": 0.1}}``, nested dicts included (``CONFIG['optim']['wd']``),
and the keywords of a ``dict(lr=3e-4)`` call written in their place.
"""

from __future__ import annotations

import libcst as cst

from .findings import Findings
from .syntax import dotted, string_value


def read(found: Findings, path: str, node: cst.BaseExpression) -> None:
    """The keys of the dict ``node`` (a literal or a ``dict(...)`` call) that ``path`` names."""
    if isinstance(node, cst.Dict):
        for element in node.elements:
            if isinstance(element, cst.DictElement):
                key = string_value(element.key)
                if key is not None:
                    _read_key(found, f"{path}[{key!r}]", key, element.value)
    elif isinstance(node, cst.Call) and dotted(node.func) == "dict":
        for arg in node.args:
            if arg.keyword is not None:
                _read_key(found, f"{path}[{arg.keyword.value!r}]", arg.keyword.value, arg.value)


def _read_key(found: Findings, path: str, key: str, value: cst.BaseExpression) -> None:
    if found.add(path, key, value, "dict") is None:
        read(found, path, value)
