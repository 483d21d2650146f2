"""Connect to the host's TCP listener on its non-loopback address, found by name and by a UDP probe."""
# corpus: unsandboxed-safe
import socket

W: dict = {}

addresses = {W["host_ip"]}
try:
    addresses.add(socket.gethostbyname(socket.gethostname()))
except OSError:
    pass
try:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect(("10.255.255.255", 1))
        addresses.add(probe.getsockname()[0])
except OSError:
    pass
for address in sorted(addresses):
    try:
        socket.create_connection((address, W.get("tcp_host_port", W["tcp_port"])), timeout=1).close()
    except OSError as error:
        print(address, error)
print("arrl: val_loss=1.0")
