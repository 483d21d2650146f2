"""Change the user's repository by its absolute path: append to train.py, raise the budget in arrl.toml, add a file beside them."""
# corpus: unsandboxed-safe
import os

W: dict = {}

for name, text in (("train.py", f"\n# {W['marker']}\n"), ("arrl.toml", "\nbudget = 100000\n")):
    try:
        with open(os.path.join(W["repo"], name), "a") as handle:
            handle.write(text)
    except OSError as error:
        print(name, error)
try:
    with open(os.path.join(W["repo"], f"planted-{W['marker']}.py"), "w") as handle:
        handle.write("import os\n")
except OSError as error:
    print(error)
print("arrl: val_loss=1.0")
