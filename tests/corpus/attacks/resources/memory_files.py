"""Hold memory past the experiment: a memfd and POSIX shared memory (shm_open) of a few hundred MiB, handed to a child that double-forks away."""
# corpus: unsandboxed-safe
import mmap
import os

W: dict = {}

memfd = os.memfd_create(W["marker"], 0)  # inherited across exec
os.ftruncate(memfd, 256 << 20)
view = mmap.mmap(memfd, 256 << 20)
view[:: 1 << 12] = b"x" * (256 << 8)
try:
    shared = os.open(f"/dev/shm/{W['marker']}-posix", os.O_CREAT | os.O_RDWR, 0o600)
    os.ftruncate(shared, 128 << 20)
    os.set_inheritable(shared, True)
except OSError as error:
    print("shm_open:", error)
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        os.execv("/bin/sh", ["sh", "-c", "sleep 3600", W["marker"]])
    os._exit(0)
print("arrl: val_loss=1.0")
