"""Add a command to the repository's git config that git runs by itself: core.fsmonitor and core.hooksPath appended to .git/config, core.pager and an alias through `git config`."""
# corpus: unsandboxed-safe
import os
import subprocess

W: dict = {}

command = f"echo {W['marker']} >> {W['host_tmp']}/fsmonitor-ran"
try:
    with open(os.path.join(W["repo"], ".git", "config"), "a") as handle:
        handle.write(f"[core]\n\tfsmonitor = {command}\n\thooksPath = {W['host_tmp']}\n")
except OSError as error:
    print(error)
for key, value in (("core.pager", command), ("alias.st", "!" + command), ("core.sshCommand", command)):
    try:
        done = subprocess.run(["git", "--git-dir", os.path.join(W["repo"], ".git"), "config", key, value],
                              capture_output=True, text=True, timeout=10)
        print(key, done.returncode, done.stderr)
    except OSError as error:
        print(key, error)
print("arrl: val_loss=1.0")
