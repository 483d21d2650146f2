"""Install start-up entries in the user's home: a systemd user service enabled by a link, an XDG autostart entry (the throwaway home's, and the real user's)."""
import os

W: dict = {}

unit = f"[Service]\nExecStart=/bin/sh -c 'echo {W['marker']}'\n[Install]\nWantedBy=default.target\n"
desktop = f"[Desktop Entry]\nType=Application\nExec=sh -c 'echo {W['marker']}'\n"
for home in (W["home"], W["real_home"]):
    for relative, text in ((f".config/systemd/user/{W['marker']}.service", unit),
                           (f".config/autostart/{W['marker']}.desktop", desktop)):
        path = os.path.join(home, relative)
        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w") as handle:
                handle.write(text)
        except OSError as error:
            print(path, error)
    try:
        wants = os.path.join(home, ".config/systemd/user/default.target.wants")
        os.makedirs(wants, exist_ok=True)
        os.symlink(f"../{W['marker']}.service", os.path.join(wants, f"{W['marker']}.service"))
    except OSError as error:
        print(error)
try:
    with open(f"/etc/systemd/system/{W['marker']}.service", "w") as handle:
        handle.write(unit)
except OSError as error:
    print(error)
print("arrl: val_loss=1.0")
