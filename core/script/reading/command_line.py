"""The script's command line: the ``args`` setting (arrl.toml), which every runner passes to the
script, is the last override layer. A flag it sets replaces that flag's argparse default: the
default is shown with the value that wins, read-only (arrl edits the script, not the settings),
and never proposed. Remove the flag from ``args`` to tune the value.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .findings import Findings


def flags_set(args: Sequence[str]) -> dict[str, str | None]:
    """Flag -> the value the command line gives it (None: a bare flag, as ``--amp``)."""
    found: dict[str, str | None] = {}
    index = 0
    while index < len(args):
        token = args[index]
        index += 1
        if not token.startswith("-") or token == "--" or _is_number(token):
            continue
        if "=" in token:
            flag, value = token.split("=", 1)
            found[flag] = value
            continue
        following = args[index] if index < len(args) else None
        if following is not None and (not following.startswith("-") or _is_number(following)):
            found[token] = following
            index += 1
        else:
            found[token] = None
    return found


def _is_number(token: str) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True


def replaced_defaults(found: Findings, args: Sequence[str]) -> tuple[dict[int, str], dict[int, Any]]:
    """The argparse defaults ``args`` replaces: id -> why, and id -> the value that wins."""
    given = flags_set(args)
    replaced: dict[int, str] = {}
    winning: dict[int, Any] = {}
    for candidate in found.assignments:
        if candidate.style != "argparse":
            continue
        flags = found.argparse_flags.get(candidate.path, (candidate.path,))
        hit = next((flag for flag in flags if flag in given), None)
        if hit is None:
            continue
        value = given[hit]
        said = f"{hit} {value}" if value is not None else hit
        replaced[id(candidate)] = f"set by `args` in the configuration ({said}), whose value wins"
        if value is not None:
            winning[id(candidate)] = _typed(value, candidate.value)
    return replaced, winning


def _typed(text: str, default: Any) -> Any:
    """The command line's text as the default's type (argparse's ``type=`` does the same)."""
    for kind in (bool, int, float):
        if isinstance(default, kind):
            if kind is bool:
                return text.lower() in ("1", "true", "yes", "on")
            try:
                return kind(text)
            except ValueError:
                return text
    return text
