"""Kill the process that watches the experiment (its parent, the reaper) and leave a daemon with an empty environment (no arrl token), as tests/test_harness_limits.py's attacker does."""
import os
import signal

W: dict = {}

if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        os.closerange(0, 1024)
        os.chdir("/")
        os.execve("/bin/sh", ["sh", "-c", "sleep 3600", W["marker"]], {})
    os._exit(0)
try:
    os.kill(os.getppid(), signal.SIGKILL)
except OSError as error:
    print(error)
print("arrl: val_loss=1.0")
