"""Fill /dev/shm (memory-backed, shared with the host when not private) past its size, and leave the file there."""
# corpus: unsandboxed-safe
import os

W: dict = {}

chunk = b"x" * (1 << 20)
try:
    with open(f"/dev/shm/{W['marker']}-fill", "wb") as handle:
        for _ in range(W["fill_mib"]):
            handle.write(chunk)
except OSError as error:
    print("shm:", error)
print("shm:", os.statvfs("/dev/shm").f_bavail)
print("arrl: val_loss=1.0")
