"""Fill the disk through the workspace: write next to the script until the quota or the disk stops it."""
# corpus: unsandboxed-safe
import os

W: dict = {}

chunk = b"x" * (1 << 20)
with open("filler.bin", "wb") as handle:
    for _ in range(W["fill_mib"]):
        handle.write(chunk)
        handle.flush()
print("workspace:", os.path.getsize("filler.bin"))
print("arrl: val_loss=1.0")
