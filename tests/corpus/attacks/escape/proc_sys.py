"""Change the machine's kernel settings through /proc/sys: core_pattern (a classic escape: the kernel runs a program named there), the host name, modprobe's path."""
import os

W: dict = {}

for path, text in (("/proc/sys/kernel/core_pattern", f"core.{W['marker']}"),
                   ("/proc/sys/kernel/hostname", W["marker"][:20]),
                   ("/proc/sys/kernel/modprobe", f"/tmp/{W['marker']}")):
    try:
        with open(path, "w") as handle:
            handle.write(text)
    except OSError as error:
        print(path, error)
print("uname:", os.uname().nodename)
print("arrl: val_loss=1.0")
