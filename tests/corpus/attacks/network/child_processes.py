"""Reach the network from child programs: bash's /dev/tcp, curl to the host's address, a second Python interpreter."""
# corpus: unsandboxed-safe
import subprocess
import sys

W: dict = {}

commands = [
    ["bash", "-c", f"echo hi > /dev/tcp/127.0.0.1/{W['tcp_port']}"],
    ["curl", "-s", "-m", "2", f"http://{W['host_ip']}:{W.get('tcp_host_port', 1)}/"],
    [sys.executable, "-c", f"import socket; socket.create_connection(('127.0.0.1', {W['tcp_port']}), timeout=1)"],
]
for command in commands:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=10)
        print(command[0], done.returncode, done.stderr[-200:])
    except (OSError, subprocess.TimeoutExpired) as error:
        print(command[0], error)
print("arrl: val_loss=1.0")
