"""Run past the budget: ignore SIGTERM in the script and in children in new sessions, sleep forever."""
import os
import signal
import subprocess
import time

W: dict = {}

signal.signal(signal.SIGTERM, signal.SIG_IGN)
signal.signal(signal.SIGINT, signal.SIG_IGN)
signal.signal(signal.SIGHUP, signal.SIG_IGN)
for _ in range(3):
    subprocess.Popen(["sh", "-c", "trap '' TERM HUP INT; sleep 3600", W["marker"]], start_new_session=True)
print("arrl: val_loss=1.0", flush=True)
while True:
    time.sleep(1)
    os.getpid()
