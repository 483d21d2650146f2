"""Connect to an abstract Unix socket (no file, shared by the whole network namespace): list the namespace's abstract names in /proc/net/unix, then connect to the host's by its name."""
# corpus: unsandboxed-safe
import socket

W: dict = {}

try:
    names = [line.split()[7] for line in open("/proc/net/unix").read().splitlines()[1:]
             if len(line.split()) > 7 and line.split()[7].startswith("@")]
    print("abstract names seen:", len(names), W["abstract_name"] in {n[1:] for n in names})
except OSError as error:
    print(error)
for attempt in range(2):
    try:
        with socket.socket(socket.AF_UNIX) as connection:
            connection.settimeout(1)
            connection.connect("\0" + W["abstract_name"])
    except OSError as error:
        print(attempt, error)
print("arrl: val_loss=1.0")
