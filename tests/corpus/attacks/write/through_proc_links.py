"""Write through other processes' /proc links: /proc/PID/cwd of the process whose working directory is the repository (arrl) and /proc/PID/root + the home's path."""
# corpus: unsandboxed-safe
import os

W: dict = {}

for pid in [p for p in os.listdir("/proc") if p.isdigit() and int(p) != os.getpid()]:
    try:
        if os.readlink(f"/proc/{pid}/cwd") != W["repo"]:  # arrl's working directory
            continue
    except OSError:
        continue
    for path in (f"/proc/{pid}/cwd/planted-{W['marker']}", f"/proc/{pid}/root{W['home']}/.bashrc"):
        try:
            with open(path, "a") as handle:
                handle.write(f"# {W['marker']}\n")
            print("wrote", path)
        except OSError:
            pass
print("arrl: val_loss=1.0")
