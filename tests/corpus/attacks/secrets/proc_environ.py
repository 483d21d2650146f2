"""Read the environment of every process through /proc/*/environ: arrl's (up the parent chain), the reaper's, a victim's."""
# corpus: unsandboxed-safe
import os

W: dict = {}

pids = {int(p) for p in os.listdir("/proc") if p.isdigit()} | {W["victim_pid"], W["memory_victim_pid"]}
pid = os.getpid()
for _ in range(10):  # the parent chain: the reaper, bwrap, arrl, the user's shell
    try:
        status = open(f"/proc/{pid}/status").read()
        pid = int(status.split("PPid:")[1].split()[0])
        pids.add(pid)
    except (OSError, IndexError, ValueError):
        break
for pid in sorted(pids):
    try:
        print(pid, open(f"/proc/{pid}/environ", "rb").read().replace(b"\0", b" ").decode(errors="replace"))
    except OSError:
        pass
print("arrl: val_loss=1.0")
