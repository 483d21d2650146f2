"""Plant start-up code in the interpreter's environment: a .pth file in every site-packages folder, sitecustomize.py beside the standard library, a file in the venv's root."""
import os
import site
import sysconfig

W: dict = {}

folders = set(W["site_packages"]) | set(site.getsitepackages()) | {sysconfig.get_paths()["purelib"]}
for folder in folders:
    try:
        with open(os.path.join(folder, f"{W['marker']}.pth"), "w") as handle:
            handle.write(f"# {W['marker']}\n")
    except OSError as error:
        print(folder, error)
for path in (os.path.join(sysconfig.get_paths()["stdlib"], "sitecustomize.py"),
             os.path.join(W["venv"], f"{W['marker']}.txt")):
    try:
        with open(path, "a") as handle:
            handle.write(f"# {W['marker']}\n")
    except OSError as error:
        print(path, error)
print("arrl: val_loss=1.0")
