"""Attach to a process of the user's with ptrace (PTRACE_ATTACH, wait for its stop), then detach leaving it stopped (PTRACE_DETACH with SIGSTOP)."""
# corpus: unsandboxed-safe
import ctypes
import os
import signal

W: dict = {}

libc = ctypes.CDLL(None, use_errno=True)
libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
PTRACE_ATTACH, PTRACE_DETACH = 16, 17
for pid in (W["victim_pid"], W["memory_victim_pid"]):
    if libc.ptrace(PTRACE_ATTACH, pid, None, None) != 0:
        print(pid, "attach:", os.strerror(ctypes.get_errno()))
        continue
    try:
        os.waitpid(pid, 0x40000000)  # __WALL
    except OSError as error:
        print(pid, "wait:", error)
    if libc.ptrace(PTRACE_DETACH, pid, None, ctypes.c_void_p(int(signal.SIGSTOP))) != 0:
        print(pid, "detach:", os.strerror(ctypes.get_errno()))
print("arrl: val_loss=1.0")
