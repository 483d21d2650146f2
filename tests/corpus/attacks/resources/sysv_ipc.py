"""Leave System V shared memory, a message queue and semaphores behind (they outlive every process unless removed), with the marker's key."""
# corpus: unsandboxed-safe
import ctypes

W: dict = {}

libc = ctypes.CDLL(None, use_errno=True)
key = int(W["marker"][-8:], 16) & 0x7FFFFFFF
IPC_CREAT = 0o1000
print("shmget:", libc.shmget(key, 64 << 20, IPC_CREAT | 0o600), ctypes.get_errno())
print("msgget:", libc.msgget(key, IPC_CREAT | 0o600), ctypes.get_errno())
print("semget:", libc.semget(key, 8, IPC_CREAT | 0o600), ctypes.get_errno())
print("arrl: val_loss=1.0")
