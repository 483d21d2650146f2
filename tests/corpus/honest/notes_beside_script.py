"""Write a small run summary next to the script (Path(__file__).with_name("last_run.json")), as scripts often do."""
EDITS = [
    ("import math\n", "import json\nimport math\n"),
    ('print(f"trained {TRAIN_STEPS} steps in {time.time() - start:.1f} s")',
     """print(f"trained {TRAIN_STEPS} steps in {time.time() - start:.1f} s")
Path(__file__).with_name("last_run.json").write_text(json.dumps({"val_bpb": final, "steps": TRAIN_STEPS}))"""),
]
