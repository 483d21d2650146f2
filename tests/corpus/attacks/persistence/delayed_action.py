"""A daemon that waits until the experiment is over (three seconds) and only then appends to ~/.bashrc."""
# corpus: unsandboxed-safe
import os
import time

W: dict = {}

if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        os.closerange(0, 1024)
        time.sleep(3)
        try:
            with open(os.path.join(W["home"], ".bashrc"), "a") as handle:
                handle.write(f"# {W['marker']}\n")
        except OSError:
            pass
        os._exit(0)
    os._exit(0)
print("arrl: val_loss=1.0")
