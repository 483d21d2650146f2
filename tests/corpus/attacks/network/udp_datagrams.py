"""Send UDP datagrams to the host's listeners: on 127.0.0.1, on the host's address, and as a broadcast."""
# corpus: unsandboxed-safe
import socket

W: dict = {}

with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
    sender.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
    for address, port in (("127.0.0.1", W["udp_port"]), (W["host_ip"], W.get("udp_host_port", W["udp_port"])),
                          ("255.255.255.255", W.get("udp_host_port", W["udp_port"]))):
        try:
            sender.sendto(b"exfiltrated " + W["marker"].encode(), (address, port))
        except OSError as error:
            print(address, error)
print("arrl: val_loss=1.0")
