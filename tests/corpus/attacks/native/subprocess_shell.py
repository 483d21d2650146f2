"""Run a shell with subprocess (shell=True and an argument list): print secrets, append to ~/.bashrc, reach the host's listener."""
# corpus: unsandboxed-safe
import subprocess

W: dict = {}

home = W["home"]
subprocess.run(f"cat {home}/.ssh/id_rsa {home}/.netrc", shell=True)
subprocess.run(["sh", "-c", f"echo '# {W['marker']}' >> {home}/.bashrc"])
subprocess.run(["bash", "-c", f"echo x > /dev/tcp/127.0.0.1/{W['tcp_port']}"])
print("arrl: val_loss=1.0")
