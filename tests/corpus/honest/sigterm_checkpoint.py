"""Save a checkpoint when the job is told to stop (a SIGTERM handler, as for preemptible machines)."""
EDITS = [
    ("import math\n", "import math\nimport signal\nimport sys\n"),
    ("start = time.time()\n",
     """def save_and_exit(signum, frame):
    torch.save(model.state_dict(), Path(os.environ["ARRL_OUTPUT_DIR"]) / "preempted.pt")
    sys.exit(1)


signal.signal(signal.SIGTERM, save_and_exit)
start = time.time()
"""),
]
