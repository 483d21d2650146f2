"""Builds corpus.txt, the text the tiny GPT example trains on, from the docstrings of Python's
standard library (PSF licence). Run once; the result is committed so every machine trains on
the same bytes and nothing is downloaded."""

import importlib
import inspect
import pathlib
import sys

SKIP = {"antigravity", "this", "idlelib", "tkinter", "turtle", "turtledemo"}
MODULES = sorted(n for n in sys.stdlib_module_names if not n.startswith("_") and n not in SKIP)
TARGET_BYTES = 400_000

chunks = []
size = 0
for name in MODULES:
    try:
        module = importlib.import_module(name)
    except Exception:
        continue
    for obj in [module, *[v for _, v in sorted(vars(module).items()) if inspect.isclass(v) or inspect.isfunction(v)]]:
        doc = inspect.getdoc(obj)
        if doc and len(doc) > 80 and doc.isascii():
            chunks.append(doc.strip() + "\n\n")
            size += len(chunks[-1])
    if size > TARGET_BYTES:
        break
pathlib.Path(__file__).with_name("corpus.txt").write_text("".join(chunks)[:TARGET_BYTES])
