"""Output names that break careless readers: a newline and invalid UTF-8 in names, a 255-byte name, a FIFO, a listening Unix socket, a folder arrl cannot enter (mode 000), a symlink loop."""
import os
import socket

W: dict = {}

out = os.environ["ARRL_OUTPUT_DIR"].encode()
for name in (b"line\nbreak.txt", b"bad-\xff\xfe.txt", b"x" * 255):
    with open(os.path.join(out, name), "w") as handle:
        handle.write("x")
os.mkfifo(os.path.join(out, b"fifo"))
listener = socket.socket(socket.AF_UNIX)
listener.bind(os.path.join(out, b"sock").decode())
os.makedirs(os.path.join(out, b"locked", b"inner"))
os.chmod(os.path.join(out, b"locked"), 0)
os.symlink(b"loop", os.path.join(out, b"loop"))
print("arrl: val_loss=1.0")
