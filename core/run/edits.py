"""An edit changes exactly the knobs it names. A proposer that writes no code (``writes_code =
False``: the built-in knob proposers) promises a script that differs from its parent only where
the values its edit names are written; a proposal that rewrites any other line (another group's
learning rate an edit once moved along, a line of code) is refused before it runs, by
construction rather than by a rule per spelling.
"""

from __future__ import annotations

from arrl.records import Proposal
from arrl.schema import SchemaError
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
    allowed = {line for name in proposal.edit.changes for line in sites[name].lines or (sites[name].line,)}
    stray = sorted(set(changed_lines(parent_script, proposal.script)) - allowed)
    if not stray:
        return ""
    named = ", ".join(sorted(proposal.edit.changes))
    return (f"the edit names {named} but also rewrites line{'s' if len(stray) > 1 else ''} "
            f"{', '.join(map(str, stray[:8]))}{' ...' if len(stray) > 8 else ''}")
