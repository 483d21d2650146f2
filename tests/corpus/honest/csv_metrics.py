"""Write every step's loss and learning rate to metrics.csv in ARRL_OUTPUT_DIR with the csv module."""
EDITS = [
    ("import math\n", "import csv\nimport math\n"),
    ("start = time.time()\n",
     """metrics_file = open(Path(os.environ["ARRL_OUTPUT_DIR"]) / "metrics.csv", "w", newline="")
metrics = csv.writer(metrics_file)
metrics.writerow(["step", "loss", "lr"])
start = time.time()
"""),
    ("    optimizer.step()\n",
     """    optimizer.step()
    metrics.writerow([step, f"{loss.item():.6f}", optimizer.param_groups[0]["lr"]])
"""),
    ("final = evaluate(model, 4 * EVAL_BATCHES)\n", "metrics_file.close()\nfinal = evaluate(model, 4 * EVAL_BATCHES)\n"),
]
