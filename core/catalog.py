"""What is installed, for ``arrl plugins``: each role's implementations, which one is the
default, and every option with its default value."""

from __future__ import annotations

from typing import Any

import attrs

from .config import DEFAULT_PLUGINS
from .registration import Registration


def is_default(registration: Registration) -> bool:
    default = DEFAULT_PLUGINS.get(registration.role, ())
    names = (default,) if isinstance(default, str) else tuple(default)
    return registration.name in names


def _type_name(field: attrs.Attribute) -> str:
    kind = field.type
    if isinstance(kind, type):
        return kind.__name__
    return str(kind or "").replace("typing.", "")


def options_of(registration: Registration) -> list[dict[str, Any]]:
    """Each option as ``{"name", "type", "default"}``; ``default`` is None when required."""
    rows = []
    for field in attrs.fields(registration.options):
        default = field.default
        if isinstance(default, attrs.Factory):  # type: ignore[arg-type]
            default = default.factory() if not default.takes_self else None
        elif default is attrs.NOTHING:
            default = None
        if hasattr(default, "value") and not isinstance(default, (int, float, str)):
            default = default.value  # enums: their value, as written in arrl.toml
        rows.append({"name": field.name, "type": _type_name(field), "default": default})
    return rows
