"""Landlock inside the sandbox: a second wall, kept by the kernel on the experiment's process.

bubblewrap's mount namespace decides what the experiment can see. Landlock, applied by the
experiment's own first process once bubblewrap has built that namespace (a Landlock domain
forbids mounting, so it cannot come earlier), decides what it may do there, and nothing it runs
later can lift it:

- the system, the interpreter and the declared data folders: read and execute;
- its workspace, its output, ``/tmp`` and ``/dev/shm``: read and write, but **never execute**,
  so a program an experiment writes or downloads cannot be started (a compiled extension is
  still loaded: Landlock governs ``execve``, not ``mmap``, which torch.compile's kernels need);
- ``/dev``, ``/proc``: read and write existing files (``/dev/null``, a GPU's ioctls), create nothing;
- with ABI 6 and later, no abstract Unix socket and no signal reaches a process outside it.

The launcher is a few lines of Python given to the sandbox's interpreter with ``-c`` (arrl's own
files are not inside the sandbox), which set the rules and then ``execv`` the script's command.
"""

from __future__ import annotations

import ctypes
import functools
import json
from collections.abc import Sequence

# Access rights, by the ABI that introduced them (linux/landlock.h).
EXECUTE, WRITE_FILE, READ_FILE, READ_DIR = 1 << 0, 1 << 1, 1 << 2, 1 << 3
REMOVE_DIR, REMOVE_FILE, MAKE_CHAR, MAKE_DIR = 1 << 4, 1 << 5, 1 << 6, 1 << 7
MAKE_REG, MAKE_SOCK, MAKE_FIFO, MAKE_BLOCK, MAKE_SYM = 1 << 8, 1 << 9, 1 << 10, 1 << 11, 1 << 12
REFER, TRUNCATE, IOCTL_DEV = 1 << 13, 1 << 14, 1 << 15  # ABI 2, 3 and 5

READ_EXECUTE = EXECUTE | READ_FILE | READ_DIR
WRITE_NO_EXECUTE = (WRITE_FILE | READ_FILE | READ_DIR | REMOVE_DIR | REMOVE_FILE | MAKE_DIR | MAKE_REG
                    | MAKE_SOCK | MAKE_FIFO | MAKE_SYM | REFER | TRUNCATE)
DEVICES = READ_FILE | READ_DIR | WRITE_FILE | TRUNCATE | IOCTL_DEV
PSEUDO_FILES = READ_FILE | READ_DIR | WRITE_FILE | TRUNCATE
FILE_RIGHTS = EXECUTE | WRITE_FILE | READ_FILE | TRUNCATE | IOCTL_DEV  # what a rule on a file may grant
SCOPE_ABSTRACT_UNIX_SOCKET, SCOPE_SIGNAL = 1 << 0, 1 << 1  # ABI 6

# The launcher, run as ``python -I -S -c LAUNCHER RULES COMMAND...``. Syscalls 444-446 have one
# number on every architecture (they came after the tables were unified).
LAUNCHER = r"""
import ctypes, json, os, sys
rules = json.loads(sys.argv[1])
libc = ctypes.CDLL(None, use_errno=True)
def fail(what):
    sys.stderr.write(f"arrl: Landlock could not be applied in the sandbox: {what}: {os.strerror(ctypes.get_errno())}\n")
    sys.exit(126)
handled = rules["handled"]
fields = [handled, 0] + ([rules["scoped"]] if rules["scoped"] else [])
attr = (ctypes.c_uint64 * len(fields))(*fields)
ruleset = libc.syscall(444, ctypes.byref(attr), ctypes.sizeof(attr), 0)
if ruleset < 0:
    fail("landlock_create_ruleset")
class Beneath(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]
for path, access in rules["paths"]:
    try:
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    except OSError:
        continue  # not in this sandbox (an absent /lib32, a GPU node of another machine)
    if not os.path.isdir(path):
        access &= rules["file_rights"]
    rule = Beneath(access & handled, fd)
    if libc.syscall(445, ruleset, 1, ctypes.byref(rule), 0) != 0:
        fail(f"landlock_add_rule({path})")
    os.close(fd)
if libc.prctl(38, 1, 0, 0, 0) != 0:
    fail("prctl(PR_SET_NO_NEW_PRIVS)")
if libc.syscall(446, ruleset, 0) != 0:
    fail("landlock_restrict_self")
os.close(ruleset)
os.execv(sys.argv[2], sys.argv[2:])
"""


@functools.cache
def abi() -> int:
    """The kernel's Landlock ABI version, 0 where it has none (or not this architecture's libc)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        version = libc.syscall(444, None, 0, 1)  # LANDLOCK_CREATE_RULESET_VERSION
    except (OSError, AttributeError):
        return 0
    return max(int(version), 0)


def status() -> str:
    """What a record's details say about Landlock."""
    version = abi()
    if version == 0:
        return "off (this kernel has no Landlock)"
    return f"on (ABI {version}{'; signals and abstract sockets scoped' if version >= 6 else ''})"


def handled(version: int) -> int:
    """The rights a ruleset rules on a kernel of Landlock ABI ``version``: every one it knows."""
    rights = (1 << 13) - 1
    for right, since in ((REFER, 2), (TRUNCATE, 3), (IOCTL_DEV, 5)):
        rights |= right if version >= since else 0
    return rights


def wrap(python: str, command: Sequence[str], readable: Sequence[str], writable: Sequence[str]) -> list[str]:
    """``command`` run under the Landlock rules: ``readable`` paths read and executed, ``writable``
    ones written and never executed (paths as the sandbox shows them)."""
    paths = [(path, READ_EXECUTE) for path in readable]
    paths += [("/dev", DEVICES), ("/proc", PSEUDO_FILES), ("/sys", READ_FILE | READ_DIR)]
    paths += [(path, WRITE_NO_EXECUTE) for path in writable]
    version = abi()
    scoped = SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL if version >= 6 else 0
    rules = json.dumps({"handled": handled(version), "scoped": scoped, "file_rights": FILE_RIGHTS, "paths": paths})
    return [python, "-I", "-S", "-c", LAUNCHER, rules, *command]
