"""Memory and process-count limits for a local experiment, held by the kernel's cgroups.

A script that allocates without end, or forks without end, must end itself, not arrl nor the
machine: the kernel's OOM killer, left to choose, may pick arrl (unattended for days) or a job
beside it. So each experiment of the subprocess runner gets a memory limit (its sandbox's
``/tmp`` and ``/dev/shm`` are memory, and count) and a cap on its tasks (processes and
threads), in whichever cgroup hierarchy this machine lets arrl write:

- **cgroup v2**: in the experiment's own cgroup (the containment's), when the ``memory`` and
  ``pids`` controllers can be enabled for it (root, or a delegated subtree with them).
- **cgroup v1**: as root on a v1 or hybrid machine, in ``memory`` and ``pids`` groups of the
  experiment's own, below arrl's own groups (so the limits of whatever holds arrl still hold),
  which the reaper joins before it starts the script.
- otherwise the limit is **not held**, and the record says so and why (an unprivileged user on
  a v1 machine; macOS). Never ``RLIMIT_AS``: it counts address space, and CUDA reserves far more
  than it uses.

The record's ``details`` say which held: ``memory_limit`` and ``pids_limit``.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import attrs

from .containment import CGROUP_PARENT, kill_cgroup, remove_cgroup

CGROUP_ROOT = Path("/sys/fs/cgroup")


def machine_memory() -> int:
    """Bytes of physical memory (0 when unknown)."""
    with contextlib.suppress(OSError, ValueError):
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return 0


def default_memory() -> int:
    """``memory = "auto"``: three quarters of the machine, so that arrl and the system keep room."""
    return machine_memory() * 3 // 4


@attrs.define
class Limits:
    """The limits one experiment runs under, and where they are held."""

    join: list[Path] = attrs.Factory(list)  # cgroups v1 the reaper joins before starting the script
    memory_files: list[Path] = attrs.Factory(list)  # where the kernel counts OOM kills
    details: dict[str, str] = attrs.Factory(dict)

    def reaper_args(self) -> list[str]:
        return [arg for path in self.join for arg in ("--cgroup", str(path))]

    def out_of_memory(self) -> bool:
        """Did the kernel end a process of the experiment at its memory limit?"""
        for path in self.memory_files:
            with contextlib.suppress(OSError, ValueError):
                for line in path.read_text().splitlines():
                    key, _, value = line.partition(" ")
                    if key == "oom_kill" and int(value) > 0:
                        return True
        return False

    def close(self) -> None:
        """End what is left in the v1 groups (the containment ends the rest) and remove them."""
        for path in self.join:
            kill_cgroup(path)
            remove_cgroup(path)


def impose(name: str, memory: int, pids: int, v2_group: Path | None) -> Limits:
    """Limits of ``memory`` bytes and ``pids`` tasks (0: none asked) for the experiment ``name``,
    in its cgroup v2 ``v2_group`` (the containment's) where it can take them, else in groups v1
    of its own."""
    limits = Limits()
    wanted = {"memory": memory, "pids": pids}
    for controller, amount in wanted.items():
        key = f"{controller}_limit"
        if amount <= 0:
            limits.details[key] = "none (runner option set to none)"
            continue
        shown = _show(controller, amount)
        where = _in_v2(v2_group, controller, amount, limits) if v2_group is not None else None
        if where is None:
            where = _in_v1(name, controller, amount, limits)
        limits.details[key] = f"{shown}, held (cgroup {where})" if where else f"{shown}, not held: {_why_not(v2_group)}"
    return limits


def _show(controller: str, amount: int) -> str:
    if controller == "pids":
        return f"{amount} tasks"
    return f"{amount / (1 << 30):.1f} GiB" if amount >= 1 << 30 else f"{amount / (1 << 20):.0f} MiB"


def _why_not(v2_group: Path | None) -> str:
    if v2_group is None:
        return ("no cgroup arrl may write (run as root, or give arrl a delegated cgroup v2 subtree with "
                "the memory and pids controllers)")
    return ("the memory and pids controllers cannot be enabled below arrl's cgroup v2 (a cgroup that holds "
            "a process, as arrl's own does, cannot give them to its children: run arrl in a delegated subtree, "
            "e.g. `systemd-run --user --scope -p Delegate=yes arrl run`), and there is no cgroup v1 arrl may write")


def _in_v2(group: Path, controller: str, amount: int, limits: Limits) -> str | None:
    if not _enable_v2(group.parent, controller):
        return None
    try:
        if controller == "memory":
            (group / "memory.max").write_text(str(amount))
            with contextlib.suppress(OSError):
                (group / "memory.swap.max").write_text("0")  # the limit is of memory, not of swap
            limits.memory_files.append(group / "memory.events")
        else:
            (group / "pids.max").write_text(str(amount))
    except OSError:
        return None
    return "v2"


def _enable_v2(parent: Path, controller: str) -> bool:
    """Make ``controller`` available to the children of ``parent`` (arrl's own subtree, which
    holds no process itself: the kernel allows that only there)."""
    try:
        if controller in (parent / "cgroup.subtree_control").read_text().split():
            return True
        if controller not in (parent / "cgroup.controllers").read_text().split():
            return False
        (parent / "cgroup.subtree_control").write_text(f"+{controller}")
        return True
    except OSError:
        return False


def _in_v1(name: str, controller: str, amount: int, limits: Limits) -> str | None:
    base = _v1_base(controller)
    if base is None:
        return None
    group = base / name
    try:
        group.mkdir(exist_ok=True)
        if controller == "memory":
            (group / "memory.limit_in_bytes").write_text(str(amount))
            with contextlib.suppress(OSError):  # absent without swap accounting
                (group / "memory.memsw.limit_in_bytes").write_text(str(amount))
            limits.memory_files.append(group / "memory.oom_control")
        else:
            (group / "pids.max").write_text(str(amount))
    except OSError:
        remove_cgroup(group)
        return None
    limits.join.append(group)
    return "v1"


def _v1_base(controller: str) -> Path | None:
    """``<v1 mount of controller><arrl's own group>/arrl``, where arrl may make groups."""
    mount = CGROUP_ROOT / controller
    if not (mount / "cgroup.procs").exists():
        return None  # not a v1 hierarchy here
    own = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            _, controllers, path = line.split(":", 2)
            if controller in controllers.split(","):
                own = path.strip().lstrip("/")
    base = mount / own / CGROUP_PARENT
    try:
        base.mkdir(exist_ok=True)
    except OSError:
        return None
    return base if os.access(base, os.W_OK) else None


def stale_groups(run_id: str) -> list[Path]:
    """Groups v1 a killed arrl left for this run's experiments."""
    found: list[Path] = []
    for controller in ("memory", "pids"):
        base = _v1_base(controller)
        if base is not None:
            found += base.glob(f"arrl-{run_id}-*")
    return found
