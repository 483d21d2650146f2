"""Connect to the host's TCP listener on 127.0.0.1 and on localhost."""
# corpus: unsandboxed-safe
import socket

W: dict = {}

for host in ("127.0.0.1", "localhost"):
    try:
        socket.create_connection((host, W["tcp_port"]), timeout=1).close()
    except OSError as error:
        print(host, error)
print("arrl: val_loss=1.0")
