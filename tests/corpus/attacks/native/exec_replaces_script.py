"""Replace the experiment's process with a shell (os.execv at the end): the shell prints the secrets, appends to ~/.bashrc and prints the metric itself."""
# corpus: unsandboxed-safe
import os

W: dict = {}

home = W["home"]
script = (f"cat {home}/.ssh/id_rsa; echo '# {W['marker']}' >> {home}/.bashrc; "
          "echo 'arrl: val_loss=1.0'")
os.execv("/bin/sh", ["sh", "-c", script])
