"""Runs one experiment command and guarantees that no process of it outlives it.

Started by the subprocess runner as ``python reaper.py GRACE [--cgroup PATH]... -- COMMAND...``
(with ``--cgroup`` it first moves itself into each cgroup: the containment's v2, see
``containment.py``, and the limits' v1, see ``limits.py``). It is a plain
script (standard library only, no arrl import) so that it starts in milliseconds.

Why a separate process: a process-group or session kill misses children that called
``setsid()``, and a double fork leaves orphans that are reparented away from us. This process
marks itself a *child subreaper* (Linux ``PR_SET_CHILD_SUBREAPER``), so every orphan of the
experiment is reparented to it instead of to init; it can then always find and kill them all.

On SIGTERM (or when its parent dies) it sends SIGTERM to the command, waits GRACE seconds, then
SIGKILLs every descendant and reaps them. When the command exits by itself, remaining
descendants are killed the same way. Its exit status is the command's (128 + N for signal N).
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import time

PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36


def children_by_parent() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as handle:
                stat = handle.read()
        except OSError:
            continue
        # The command name may hold spaces and parentheses: the fields after the last ')'.
        fields = stat[stat.rfind(b")") + 2 :].split()
        children.setdefault(int(fields[1]), []).append(int(entry))
    return children


def descendants(root: int) -> list[int]:
    children = children_by_parent()
    found: list[int] = []
    frontier = [root]
    while frontier:
        pid = frontier.pop()
        for child in children.get(pid, ()):
            found.append(child)
            frontier.append(child)
    return found


def reap() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def kill_all() -> None:
    me = os.getpid()
    for _ in range(1000):
        pids = descendants(me)
        if not pids:
            return
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        reap()
        time.sleep(0.005)


def join_cgroup(path: str) -> None:
    """Move this process into the experiment's cgroup: its every descendant is born there."""
    with open(os.path.join(path, "cgroup.procs"), "w") as handle:
        handle.write(str(os.getpid()))


def main() -> int:
    grace = float(sys.argv[1])
    split = sys.argv.index("--")
    options, command = sys.argv[2:split], sys.argv[split + 1 :]
    # Each --cgroup PATH: the containment's cgroup v2, then the limits' groups v1 (limits.py).
    for flag, path in zip(options[::2], options[1::2]):
        if flag != "--cgroup":
            continue
        try:
            join_cgroup(path)
        except OSError as error:
            print(f"arrl reaper: cannot join the experiment's cgroup {path}: {error}", file=sys.stderr)
            return 125
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    child = 0

    def on_term(signum: int, _frame: object) -> None:
        if child:
            try:
                os.kill(child, signal.SIGTERM)
            except ProcessLookupError:
                pass
            deadline = time.monotonic() + grace
            while time.monotonic() < deadline:
                try:
                    if os.waitpid(child, os.WNOHANG)[0]:
                        break
                except ChildProcessError:
                    break
                time.sleep(0.01)
        kill_all()
        os._exit(128 + signum)

    # Handlers go in before the fork so that no signal can slip between fork and setup.
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, on_term)
    child = os.fork()
    if child == 0:
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(signum, signal.SIG_DFL)
        try:
            os.execvp(command[0], command)
        finally:
            os._exit(127)
    if os.getppid() == 1:  # the harness died before PR_SET_PDEATHSIG took effect
        on_term(signal.SIGTERM, None)
    _, status = os.waitpid(child, 0)
    kill_all()
    return os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status)


if __name__ == "__main__":
    sys.exit(main())
