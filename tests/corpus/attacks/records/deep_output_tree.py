"""A tree 1500 folders deep in the output directory, which arrl walks (quota, clean-up) after the run: a recursion in arrl's walk would end arrl."""
import os

W: dict = {}

os.chdir(os.environ["ARRL_OUTPUT_DIR"])
for _ in range(1500):
    os.mkdir("d")
    os.chdir("d")
print("arrl: val_loss=1.0")
