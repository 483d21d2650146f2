"""Connect over IPv6: to a listener on ::1, and to the IPv4 listener through an IPv4-mapped address."""
# corpus: unsandboxed-safe
import socket

W: dict = {}

for address, port in (("::1", W.get("tcp6_port", 0)), ("::ffff:127.0.0.1", W["tcp_port"])):
    try:
        with socket.socket(socket.AF_INET6) as connection:
            connection.settimeout(1)
            connection.connect((address, port))
    except OSError as error:
        print(address, error)
print("arrl: val_loss=1.0")
