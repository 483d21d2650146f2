"""A seccomp filter for sandboxed experiments: defence in depth under bubblewrap's namespaces.

The namespaces and the dropped capabilities are the wall; this filter takes away the kernel
interfaces a training script never needs and that local privilege escalations keep going
through: keyrings, eBPF, perf events, io_uring, userfaultfd, ptrace and cross-process memory
access, module and kexec loading, mounts and new namespaces, and faking terminal input
(``ioctl(TIOCSTI)``). A denied call fails with EPERM, as under Docker's default profile, so a
library that probes for one of them carries on.

The filter is classic BPF, built here byte by byte (no libseccomp binding is needed), and
handed to ``bwrap --seccomp FD``. It knows x86_64 and aarch64; on another machine there is no
filter and the sandbox record says so.
"""

from __future__ import annotations

import contextlib
import errno
import os
import platform
import struct
from collections.abc import Iterator

# <linux/audit.h>: AUDIT_ARCH_* = EM_* | __AUDIT_ARCH_64BIT | __AUDIT_ARCH_LE
AUDIT_ARCH = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}

# Syscall numbers by architecture (asm/unistd_64.h; aarch64 uses the generic table).
DENIED: dict[str, dict[str, int]] = {
    "x86_64": {
        "ptrace": 101, "process_vm_readv": 310, "process_vm_writev": 311,
        "add_key": 248, "request_key": 249, "keyctl": 250,
        "bpf": 321, "perf_event_open": 298, "userfaultfd": 323,
        "io_uring_setup": 425, "io_uring_enter": 426, "io_uring_register": 427,
        "init_module": 175, "finit_module": 313, "delete_module": 176,
        "kexec_load": 246, "kexec_file_load": 320,
        "mount": 165, "umount2": 166, "pivot_root": 155, "fsopen": 430, "fsmount": 432, "move_mount": 429,
        "open_tree": 428, "unshare": 272, "setns": 308,
        "open_by_handle_at": 304, "name_to_handle_at": 303,
        "swapon": 167, "swapoff": 168, "reboot": 169, "acct": 163, "quotactl": 179,
    },
    "aarch64": {
        "ptrace": 117, "process_vm_readv": 270, "process_vm_writev": 271,
        "add_key": 217, "request_key": 218, "keyctl": 219,
        "bpf": 280, "perf_event_open": 241, "userfaultfd": 282,
        "io_uring_setup": 425, "io_uring_enter": 426, "io_uring_register": 427,
        "init_module": 105, "finit_module": 273, "delete_module": 106,
        "kexec_load": 104, "kexec_file_load": 294,
        "mount": 40, "umount2": 39, "pivot_root": 41, "fsopen": 430, "fsmount": 432, "move_mount": 429,
        "open_tree": 428, "unshare": 97, "setns": 268,
        "open_by_handle_at": 265, "name_to_handle_at": 264,
        "swapon": 224, "swapoff": 225, "reboot": 142, "acct": 89, "quotactl": 60,
    },
}
IOCTL = {"x86_64": 16, "aarch64": 29}
TIOCSTI = 0x5412
X32_SYSCALL_BIT = 0x40000000

# BPF opcodes (linux/filter.h) and seccomp return values (linux/seccomp.h).
BPF_LD_W_ABS = 0x20
BPF_JEQ_K = 0x15
BPF_JGE_K = 0x35
BPF_RET_K = 0x06
SECCOMP_RET_ALLOW = 0x7FFF0000
SECCOMP_RET_KILL_PROCESS = 0x80000000
SECCOMP_RET_ERRNO = 0x00050000
# struct seccomp_data: int nr; __u32 arch; __u64 instruction_pointer; __u64 args[6];
OFFSET_NR, OFFSET_ARCH, OFFSET_ARG1_LOW = 0, 4, 16 + 8  # little-endian: the low half first


def _op(code: int, jt: int = 0, jf: int = 0, k: int = 0) -> bytes:
    return struct.pack("<HBBI", code, jt, jf, k)


def machine() -> str:
    return platform.machine()


def supported(arch: str | None = None) -> bool:
    return (arch or machine()) in DENIED


def denied_calls(arch: str | None = None) -> tuple[str, ...]:
    return tuple(sorted(DENIED.get(arch or machine(), {}))) + (("ioctl(TIOCSTI)",) if supported(arch) else ())


def program(arch: str | None = None) -> bytes:
    """The filter for ``arch`` (this machine's by default), as ``bwrap --seccomp`` reads it."""
    arch = arch or machine()
    if arch not in DENIED:
        raise ValueError(f"no seccomp filter for {arch}")
    deny = SECCOMP_RET_ERRNO | errno.EPERM
    numbers = sorted(DENIED[arch].values())
    ops: list[bytes] = [
        _op(BPF_LD_W_ABS, k=OFFSET_ARCH),
        # Another architecture's calling convention (a 32-bit binary) is not filtered: kill it.
        _op(BPF_JEQ_K, 1, 0, AUDIT_ARCH[arch]),
        _op(BPF_RET_K, k=SECCOMP_RET_KILL_PROCESS),
        _op(BPF_LD_W_ABS, k=OFFSET_NR),
    ]
    if arch == "x86_64":  # the x32 ABI reaches the same calls under other numbers
        ops += [_op(BPF_JGE_K, 0, 1, X32_SYSCALL_BIT), _op(BPF_RET_K, k=deny)]
    for number in numbers:
        ops += [_op(BPF_JEQ_K, 0, 1, number), _op(BPF_RET_K, k=deny)]
    ops += [
        _op(BPF_JEQ_K, 0, 3, IOCTL[arch]),
        _op(BPF_LD_W_ABS, k=OFFSET_ARG1_LOW),
        _op(BPF_JEQ_K, 0, 1, TIOCSTI),
        _op(BPF_RET_K, k=deny),
        _op(BPF_RET_K, k=SECCOMP_RET_ALLOW),
    ]
    return b"".join(ops)


@contextlib.contextmanager
def filter_descriptor(enabled: bool = True) -> Iterator[int | None]:
    """The filter in an anonymous in-memory file, open for ``bwrap --seccomp FD`` (pass it with
    ``pass_fds``); None where there is no filter for this machine or ``enabled`` is False."""
    if not (enabled and supported()):
        yield None
        return
    fd = os.memfd_create("arrl-seccomp", 0)
    try:
        os.write(fd, program())
        os.lseek(fd, 0, os.SEEK_SET)
        yield fd
    finally:
        os.close(fd)
