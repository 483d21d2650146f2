"""An edit changes exactly the knobs it names, and a config file only where its knobs are. A proposer that writes no code (``writes_code =
False``: the built-in knob proposers) promises a script that differs from its parent only where
the values its edit names are written; a proposal that rewrites any other line (another group's
learning rate an edit once moved along, a line of code) is refused before it runs, by
construction rather than by a rule per spelling.

A proposal's config files (``Proposal.files``) are judged for every proposer: only files the
script reads, and in them only the values of the run's knobs, to values in their domains
(:mod:`arrl.script.configs.judge`).
"""

from __future__ import annotations

from collections.abc import Mapping

from arrl.records import Proposal
from arrl.schema import SchemaError, Value
from arrl.script.configs.judge import judge
from arrl.script.reader import ScriptError, changed_lines

from .workbench import Workbench


def stray_lines(bench: Workbench, parent_script: str, proposal: Proposal) -> str:
    """Why ``proposal`` rewrites more than its edit names ("" when it does not, or when its
    proposer may write code)."""
    if bench.components.proposer.writes_code or proposal.edit is None:
        return ""
    try:
        sites = bench.extract(parent_script).sites
    except (ScriptError, SchemaError):
        return ""  # unreadable: the validator chain says why
    unknown = sorted(name for name in proposal.edit.changes if name not in sites)
    if unknown:
        return f"the edit names {', '.join(unknown)}, which the script does not set where arrl can edit it"
    # A value written in a config file allows no line of the script (its line is the file's).
    allowed = {line for name in proposal.edit.changes if not sites[name].file
               for line in sites[name].lines or (sites[name].line,)}
    stray = sorted(set(changed_lines(parent_script, proposal.script)) - allowed)
    if not stray:
        return ""
    named = ", ".join(sorted(proposal.edit.changes))
    return (f"the edit names {named} but also rewrites line{'s' if len(stray) > 1 else ''} "
            f"{', '.join(map(str, stray[:8]))}{' ...' if len(stray) > 8 else ''}")


def config_refusals(bench: Workbench, parent_script: str, parent_files: Mapping[str, str], proposal: Proposal) -> str:
    """Why the config files ``proposal`` rewrites are refused ("" when they are not, or it rewrites none)."""
    if not proposal.files:
        return ""
    strange = sorted(set(proposal.files) - set(parent_files))
    if strange:
        return (f"the proposal writes {', '.join(strange)}, which {'is' if len(strange) == 1 else 'are'} not among "
                f"the config files the script reads ({', '.join(sorted(parent_files)) or 'none'})")
    try:
        parent = bench.extract(parent_script, parent_files)
        proposed = bench.extract(proposal.script, {**parent_files, **proposal.files}).values
    except (ScriptError, SchemaError) as error:
        return f"the proposal cannot be read: {error}"
    sites = parent.sites
    editable = {name for name in sites if name in bench.space and sites[name].editable}

    def check(knob: str, written: Value) -> str:
        # The value as the reader takes it ("torch.optim.SGD" is the optimizer sgd), among the
        # parent's choices (a group's targets), in the run's domain, of the type written.
        value = proposed.get(knob, written)
        if knob in parent.choices and value not in parent.choices[knob]:
            return f"{written!r} is not among the choices here ({', '.join(map(str, parent.choices[knob]))})"
        return outside_domain(bench, knob, value if isinstance(written, str) else written)

    problems: list[str] = []
    for name, text in sorted(proposal.files.items()):
        knobs = {site.path.rsplit(":", 1)[1]: knob for knob, site in sites.items()
                 if site.file == name and knob in editable}
        problems += judge(name, parent_files[name], text, knobs, check)
    return "; ".join(problems)


def outside_domain(bench: Workbench, knob: str, value: Value) -> str:
    """Why ``value`` is not one ``knob`` may take, as written: 32.0 for an integer is refused,
    though it equals 32, because the script gets a float."""
    try:
        taken = bench.space[knob].check(value)
    except SchemaError as error:
        return str(error)
    if type(taken) is not type(value) and not (isinstance(taken, float) and type(value) is int):
        return f"{value!r} is written as a {type(value).__name__}, where {knob} takes a {type(taken).__name__}"
    return ""
