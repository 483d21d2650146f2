"""Fill /tmp past its size with many files, and leave them there."""
# corpus: unsandboxed-safe

W: dict = {}

chunk = b"x" * (1 << 20)
written = 0
try:
    for index in range(W["fill_mib"] // 64 + 1):
        with open(f"/tmp/{W['marker']}-fill-{index}", "wb") as handle:
            for _ in range(64):
                handle.write(chunk)
                written += 1
except OSError as error:
    print("tmp:", error, written)
print("arrl: val_loss=1.0")
