"""Named crash points, for fault-injection tests of crash safety.

Inert unless ``ARRL_TEST_CRASH_AT`` is set (``PHASE`` or ``PHASE:N``): then the process SIGKILLs
itself the Nth time (default first) it reaches that phase, exactly as a power cut or ``kill -9``
would stop it there. The phases are the moments where state is half-written:

    journal-append     just before an experiment's record is appended to the journal
    journal-appended   just after it, before the last good version and the workspace move
    git-commit         after a proposal's commit object is written, before its ref
    ref-update         after the ref is set, before the workspace checks the commit out
    mid-experiment     while the experiment runs (at its first metric line)
"""

from __future__ import annotations

import os
import signal

PHASES = ("journal-append", "journal-appended", "git-commit", "ref-update", "mid-experiment")
_plan = os.environ.get("ARRL_TEST_CRASH_AT", "")
_seen: dict[str, int] = {}


def checkpoint(phase: str) -> None:
    if not _plan:
        return
    name, _, count = _plan.partition(":")
    if name != phase:
        return
    _seen[phase] = _seen.get(phase, 0) + 1
    if _seen[phase] >= int(count or 1):
        os.kill(os.getpid(), signal.SIGKILL)
