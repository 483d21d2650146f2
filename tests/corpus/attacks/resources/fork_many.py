"""Start three hundred sleeping processes (a bounded fork bomb) and exit, leaving them to the machine."""
# corpus: unsandboxed-safe
import os
import subprocess

W: dict = {}

started = 0
for _ in range(300):
    try:
        subprocess.Popen(["sh", "-c", "sleep 3600", W["marker"]], start_new_session=True)
        started += 1
    except OSError as error:
        print(error)
        break
print("started:", started, "pid:", os.getpid())
print("arrl: val_loss=1.0")
