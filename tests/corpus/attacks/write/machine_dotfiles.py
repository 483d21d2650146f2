"""Append a (harmless, commented) line to the real user's start-up files and to /etc/profile.d, found from the password database."""
import os
import pwd

W: dict = {}

homes = {W["real_home"], pwd.getpwuid(0).pw_dir}
for home in homes:
    for name in (".bashrc", ".profile"):
        try:
            with open(os.path.join(home, name), "a") as handle:
                handle.write(f"\n# {W['marker']}\n")
        except OSError as error:
            print(home, name, error)
try:
    with open(f"/etc/profile.d/{W['marker']}.sh", "w") as handle:
        handle.write(f"# {W['marker']}\n")
except OSError as error:
    print(error)
print("arrl: val_loss=1.0")
