"""Fill the disk through the output directory, past the output quota, with preallocated and sparse files too."""
# corpus: unsandboxed-safe
import os

W: dict = {}

out = os.environ["ARRL_OUTPUT_DIR"]
with open(os.path.join(out, "sparse.bin"), "wb") as handle:
    handle.truncate(1 << 40)  # a terabyte that takes no block
try:
    with open(os.path.join(out, "preallocated.bin"), "wb") as handle:
        os.posix_fallocate(handle.fileno(), 0, W["fill_mib"] << 20)
except OSError as error:
    print("fallocate:", error)
chunk = b"x" * (1 << 20)
with open(os.path.join(out, "filler.bin"), "wb") as handle:
    for _ in range(W["fill_mib"]):
        handle.write(chunk)
        handle.flush()
print("arrl: val_loss=1.0")
