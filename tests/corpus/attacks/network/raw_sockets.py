"""Send a UDP datagram through a raw IP socket and a packet socket (both need CAP_NET_RAW), to the host's UDP listener."""
import socket
import struct

W: dict = {}

payload = b"raw " + W["marker"].encode()
header = struct.pack("!HHHH", 40000, W["udp_port"], 8 + len(payload), 0)
try:
    with socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_UDP) as raw:
        raw.sendto(header + payload, ("127.0.0.1", 0))
except OSError as error:
    print("raw:", error)
try:
    with socket.socket(socket.AF_PACKET, socket.SOCK_RAW) as packet:
        print("packet socket open:", packet)
except OSError as error:
    print("packet:", error)
print("arrl: val_loss=1.0")
