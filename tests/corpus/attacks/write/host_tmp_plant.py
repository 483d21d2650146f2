"""Plant files in the host's shared temporary folders: /tmp, /var/tmp, /dev/shm and beside the host's Unix socket."""
# corpus: unsandboxed-safe
import os

W: dict = {}

for path in (f"/tmp/{W['marker']}-planted", f"/var/tmp/{W['marker']}-planted", f"/dev/shm/{W['marker']}-planted",
             os.path.join(W["host_tmp"], "planted")):
    try:
        with open(path, "w") as handle:
            handle.write(W["marker"])
    except OSError as error:
        print(path, error)
print("arrl: val_loss=1.0")
