"""Fingerprint the data (hashlib.sha256 of the file) and log it, to tell runs on different data apart."""
EDITS = [
    ("import math\n", "import hashlib\nimport math\nimport sys\n"),
    ("split = int(0.9 * len(data))\n",
     """data_sha = hashlib.sha256(Path(__file__).with_name("corpus.txt").read_bytes()).hexdigest()
print(f"data sha256 {data_sha[:16]}", file=sys.stderr)
split = int(0.9 * len(data))
"""),
]
