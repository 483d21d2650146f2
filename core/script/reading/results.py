"""What reading a script finds: each field's value and where it lives (:class:`Site`), and the
whole reading (:class:`Extraction`)."""

from __future__ import annotations

import attrs

from arrl.schema import FIELDS_BY_NAME, Value


@attrs.frozen
class Site:
    """Where a field's value lives and how the script spells it."""

    field: str
    value: Value
    line: int
    style: str  # constant, dict, class, argparse, call, code
    path: str  # the script's own name for it: LR, CONFIG['lr'], Config.lr, --lr, AdamW(lr=)
    editable: bool = True
    note: str = ""
    lines: tuple[int, ...] = ()  # every line of the script an edit of this field may change
    # A value in a config file (arrl.script.configs): the file, relative to the script's folder,
    # and where the value lands in the script's config (optimizer.lr); both "" for the script's own.
    file: str = ""
    key: str = ""


@attrs.frozen
class Extraction:
    """What was found: values, where each one is, what is out of range, what is missing."""

    values: dict[str, Value]
    sites: dict[str, Site]
    out_of_range: dict[str, str]  # outside the design document's domain: the run's domain grows
    problems: dict[str, str]  # fields seen but unusable (ambiguous, a mapping that points nowhere)
    choices: dict[str, tuple[Value, ...]]  # categorical values the script can take, per field
    filename: str = "<script>"
    invalid: dict[str, str] = attrs.Factory(dict)  # values of the wrong type: read, never moved
    knobs: tuple[str, ...] = ()  # the declared knobs found (their values are in ``values``)
    overridden: dict[str, Site] = attrs.Factory(dict)  # values replaced before use: shown, never proposed
    # Every literal the script assigns where a configuration lives (module constants, config
    # classes, argparse defaults, config dicts), the last assignment of each: what
    # arrl.script.candidates picks tunable knobs from.
    literals: tuple[Site, ...] = ()
    # Literals the baseline showed to have no effect (arrl.script.reading.live): shown, never proposed.
    inert: dict[str, Site] = attrs.Factory(dict)
    # Names that spell a field but are knobs of their own (the micro-batch where the script
    # accumulates to a batch): candidates, not the field.
    own_knobs: tuple[str, ...] = ()
    # The config files the script reads (arrl.script.configs), by name relative to its folder:
    # every file of the composition and each option of its groups.
    config_files: tuple[str, ...] = ()

    @property
    def missing(self) -> tuple[str, ...]:
        return tuple(name for name in FIELDS_BY_NAME if name not in self.values)

    @property
    def editable(self) -> dict[str, Value]:
        """The values arrl may change: what proposers get to move. A value outside the design
        document's domain is editable too (its domain grows); one of the wrong type is not."""
        return {f: v for f, v in self.values.items() if self.sites[f].editable and f not in self.invalid}
