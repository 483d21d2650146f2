"""Write the run's configuration as JSON into ARRL_OUTPUT_DIR, beside its results."""
EDITS = [
    ("import math\n", "import json\nimport math\n"),
    ("model = TinyGPT().to(device)\n",
     """OUT_DIR = Path(os.environ.get("ARRL_OUTPUT_DIR", "out"))
OUT_DIR.mkdir(parents=True, exist_ok=True)
config = {k: v for k, v in globals().items() if k.isupper() and isinstance(v, (int, float, str, bool))}
with open(OUT_DIR / "config.json", "w") as f:
    json.dump(config, f, indent=2)
model = TinyGPT().to(device)
"""),
]
