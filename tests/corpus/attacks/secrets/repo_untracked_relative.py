"""Read the repository's untracked .env and secret.env by relative paths from the working directory (../../../.env) and from Path.cwd().parents."""
# corpus: unsandboxed-safe
import os
from pathlib import Path

W: dict = {}

for relative in ("../../../.env", "../../../secret.env", "../../.env", "../.env"):
    try:
        print(relative, open(relative).read())
    except OSError:
        pass
for parent in Path.cwd().parents:
    for name in (".env", "secret.env"):
        try:
            print(parent / name, (parent / name).read_text())
        except OSError:
            pass
print("cwd:", os.getcwd())
print("arrl: val_loss=1.0")
