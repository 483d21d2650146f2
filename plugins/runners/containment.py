"""Holding every process of one local experiment, whatever it does to its parent.

The reaper (``reaper.py``) is a child subreaper: orphans of the script come back to it and die
with it. But the script can kill the reaper itself. Its orphans -- a ``setsid`` daemon with an
empty environment (so without arrl's token), still holding the output pipes -- would then go to
init and outlive the experiment. One more layer holds them:

- **cgroup** (preferred): the reaper joins a cgroup v2 of its own before it starts the script, so
  every descendant is in it whatever it does to its session, parent or environment; ending the
  experiment is one write to ``cgroup.kill``. Needs a writable cgroup v2 hierarchy (root, or a
  delegated subtree as systemd gives a user session).
- **subreaper** (everywhere else on Linux): arrl marks itself a child subreaper for the time of
  the experiment, so when the reaper dies its orphans are reparented to arrl, which finds them
  among its own children (those it did not start) and kills and reaps them.

Either way the experiment is over only when no process of it is left.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import time
from pathlib import Path

from .reaper import children_by_parent, descendants

PR_SET_CHILD_SUBREAPER = 36
CGROUP_PARENT = "arrl"
KILL_WAIT_SECONDS = 5.0


def cgroup2_base() -> Path | None:
    """Where arrl may create experiment cgroups: ``<cgroup2 mount><own cgroup>/arrl``, if
    that can be created and written; else None."""
    mount = None
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/mounts").read_text().splitlines():
            fields = line.split()
            if len(fields) > 2 and fields[2] == "cgroup2":
                mount = Path(fields[1])
                break
    if mount is None:
        return None
    own = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            if line.startswith("0::"):
                own = line[3:].strip().lstrip("/")
    base = mount / own / CGROUP_PARENT
    try:
        base.mkdir(exist_ok=True)
    except OSError:
        return None
    # Moving the reaper in needs write access to both ends of the move: our cgroup and the new one.
    if not all(os.access(path, os.W_OK) for path in (base, base / "cgroup.procs", mount / own / "cgroup.procs")):
        return None
    return base


class CgroupContainment:
    kind = "cgroup"

    def __init__(self, base: Path, name: str) -> None:
        self.path = base / name
        self.path.mkdir()

    def reaper_args(self) -> list[str]:
        return ["--cgroup", str(self.path)]

    def kill_all(self, reaper_pid: int) -> int:
        return kill_cgroup(self.path)

    def close(self) -> None:
        remove_cgroup(self.path)


def kill_cgroup(path: Path) -> int:
    """SIGKILL every process in the cgroup; return once it is empty (or after a few seconds)."""
    try:
        pids = [int(p) for p in (path / "cgroup.procs").read_text().split()]
    except OSError:
        return 0
    if not pids:
        return 0
    kill_file = path / "cgroup.kill"
    if kill_file.exists():
        with contextlib.suppress(OSError):
            kill_file.write_text("1")
    deadline = time.monotonic() + KILL_WAIT_SECONDS
    while time.monotonic() < deadline:
        try:
            left = [int(p) for p in (path / "cgroup.procs").read_text().split()]
        except OSError:
            break
        if not left:
            break
        for pid in left:  # kernels before 5.14 have no cgroup.kill; a fork race needs a repeat
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.01)
    return len(pids)


def remove_cgroup(path: Path) -> None:
    for _ in range(100):  # the kernel empties a killed cgroup asynchronously
        try:
            path.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError:
            time.sleep(0.01)


def stale_cgroups(run_id: str) -> list[Path]:
    base = cgroup2_base()
    return list(base.glob(f"arrl-{run_id}-*")) if base is not None else []


class SubreaperContainment:
    kind = "subreaper"

    def __init__(self) -> None:
        _set_child_subreaper(True)
        # Children arrl has of its own before the experiment: never the experiment's.
        self.own_children = set(children_of(os.getpid()))

    def reaper_args(self) -> list[str]:
        return []

    def kill_all(self, reaper_pid: int) -> int:
        """Kill and reap what the experiment left with arrl: orphans reparented to it after
        the reaper died, and their descendants."""
        me = os.getpid()
        killed = 0
        for _ in range(1000):
            strays = [p for p in children_of(me) if p not in self.own_children and p != reaper_pid]
            if not strays:
                break
            for pid in strays + [d for p in strays for d in descendants(p)]:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                    killed += 1
            for pid in strays:  # only these are arrl's children: never waitpid(-1), which
                with contextlib.suppress(ChildProcessError):  # would steal a Popen's status
                    os.waitpid(pid, os.WNOHANG)
            time.sleep(0.005)
        return killed

    def close(self) -> None:
        # Off between experiments: orphans of arrl's own git commands go to init as usual.
        _set_child_subreaper(False)


def children_of(parent: int) -> list[int]:
    return children_by_parent().get(parent, [])


def _set_child_subreaper(on: bool) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1 if on else 0, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER) failed")


Containment = CgroupContainment | SubreaperContainment


def contain(choice: str, name: str) -> Containment:
    """The containment for one experiment: ``auto`` takes a cgroup where the machine allows it."""
    if choice in ("auto", "cgroup"):
        base = cgroup2_base()
        if base is not None:
            return CgroupContainment(base, name)
        if choice == "cgroup":
            raise OSError("no writable cgroup v2 hierarchy here (runner option containment=cgroup); "
                          "use containment=auto or subreaper")
    return SubreaperContainment()
