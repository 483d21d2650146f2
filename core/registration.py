"""The record a role hook returns for each implementation it offers."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import attrs

_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")


@attrs.frozen
class NoOptions:
    """Options class of an implementation that takes none: any option given is an error."""


def _check_name(_: object, __: attrs.Attribute, value: str) -> None:
    if not _NAME.match(value):
        raise ValueError(
            f"plugin name {value!r} must be lower-case letters, digits, '-', '_' or '.'"
        )


@attrs.frozen
class Registration:
    """One implementation of a role.

    ``factory(options, context)`` builds it, where ``options`` is an instance of ``options``
    (an attrs class whose fields users set from the config file or ``-o ROLE.FIELD=VALUE``) and
    ``context`` is an :class:`arrl.roles.PluginContext`. Build lazily: import heavy libraries
    inside the factory so that listing plugins stays cheap.

    ``role``, ``plugin``, ``package`` and ``version`` are filled in by the plugin manager.
    """

    name: str = attrs.field(converter=lambda s: str(s).strip().lower(), validator=_check_name)
    factory: Callable[[Any, Any], Any]
    summary: str = ""
    options: type = NoOptions
    role: str = ""
    plugin: str = ""
    package: str = ""
    version: str = ""

    @property
    def provider(self) -> str:
        return f"{self.package} {self.version}".strip() or self.plugin
