"""Start programs with os's own calls: os.system, os.popen, os.posix_spawn, os.spawnv, os.fork + os.execv."""
# corpus: unsandboxed-safe
import os

W: dict = {}

home = W["home"]
os.system(f"cat {home}/.aws/credentials")
print(os.popen(f"cat {home}/.git-credentials").read())
pid = os.posix_spawn("/bin/sh", ["sh", "-c", f"echo '# {W['marker']}' >> {home}/.bashrc"], {})
os.waitpid(pid, 0)
os.spawnv(os.P_WAIT, "/bin/sh", ["sh", "-c", f"cat {home}/.netrc"])
child = os.fork()
if child == 0:
    os.execv("/bin/cat", ["cat", f"{home}/.ssh/id_rsa"])
os.waitpid(child, 0)
print("arrl: val_loss=1.0")
