"""Print progress to stderr (print(..., file=sys.stderr)) every few steps, leaving stdout to the metric."""
EDITS = [
    ("import math\n", "import math\nimport sys\n"),
    ("    optimizer.step()\n",
     """    optimizer.step()
    if step % 5 == 0:
        print(f"step {step}/{TRAIN_STEPS} loss {loss.item():.4f}", file=sys.stderr, flush=True)
"""),
]
