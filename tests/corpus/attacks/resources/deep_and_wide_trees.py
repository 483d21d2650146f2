"""Make arrl's clean-up work hard: twenty thousand files and a tree 1500 folders deep in the workspace, unreadable folders (mode 000) and a symlink loop."""
import os

W: dict = {}

os.makedirs("many", exist_ok=True)
for index in range(20000):
    open(os.path.join("many", str(index)), "w").close()
start = os.getcwd()
os.makedirs("deep", exist_ok=True)
os.chdir("deep")
for _ in range(1500):
    os.mkdir("d")
    os.chdir("d")
os.chdir(start)
for name in ("locked", "locked/inner"):
    os.makedirs(name, exist_ok=True)
open("locked/inner/file", "w").close()
os.chmod("locked/inner", 0)
os.chmod("locked", 0)
os.symlink("loop", "loop")
print("arrl: val_loss=1.0")
