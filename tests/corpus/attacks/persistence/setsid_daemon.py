"""Leave a daemon behind: double fork, setsid, close every descriptor, sleep for an hour."""
import os
import time

W: dict = {}

if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        os.closerange(0, 1024)
        os.execv("/bin/sh", ["sh", "-c", "sleep 3600", W["marker"]])
    os._exit(0)
time.sleep(0.5)
print("arrl: val_loss=1.0")
