"""The extraction while the rules settle it: each field's value, its site, and the nodes an edit
of it rewrites, with the problems and choices found on the way. The rules run in order of
precedence (:mod:`.extraction`), and a later one skips what an earlier one settled."""

from __future__ import annotations

from typing import Any

import attrs

from arrl.schema import FIELDS_BY_NAME, Value

from .results import Site


def normalise(field: str, value: Any) -> Any:
    """A choice is matched in lower case (``"AdamW"`` is adamw)."""
    return value.lower() if isinstance(value, str) and FIELDS_BY_NAME[field].kind == "choice" else value


@attrs.define
class Draft:
    """The fields settled so far, and what the rules noted on the way."""

    values: dict[str, Value] = attrs.Factory(dict)
    sites: dict[str, Site] = attrs.Factory(dict)
    targets: dict[str, list[Any]] = attrs.Factory(dict)  # per field, the nodes (or code choices) an edit rewrites
    problems: dict[str, str] = attrs.Factory(dict)
    choices: dict[str, tuple[Value, ...]] = attrs.Factory(dict)
    spelled_as: dict[str, dict[str, str]] = attrs.Factory(dict)  # field -> value -> the script's spelling
    overridden: dict[str, Site] = attrs.Factory(dict)
    # Literals replaced before use, by id: why (``replaced``), and the value that replaces it where
    # known (``winning``).
    replaced: dict[int, str] = attrs.Factory(dict)
    winning: dict[int, Any] = attrs.Factory(dict)
    own_knobs: list[str] = attrs.Factory(list)  # names that spell a field but are knobs of their own

    def settle(self, field: str, value: Value, site: Site, targets: list[Any]) -> None:
        self.values[field] = value
        self.sites[field] = site
        self.targets[field] = targets
