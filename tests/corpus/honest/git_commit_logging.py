"""Record the code version the run used: `git rev-parse HEAD` (subprocess.check_output), written with the run's notes into ARRL_OUTPUT_DIR."""
EDITS = [
    ("import math\n", "import math\nimport subprocess\n"),
    ("torch.manual_seed(SEED)\n",
     """GIT_COMMIT = subprocess.check_output(["git", "rev-parse", "HEAD"], text=True).strip()
(Path(os.environ.get("ARRL_OUTPUT_DIR", ".")) / "version.txt").write_text(GIT_COMMIT + "\\n")
torch.manual_seed(SEED)
"""),
]
