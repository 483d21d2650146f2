"""Plot the training loss with matplotlib (Agg backend) and save the figure into ARRL_OUTPUT_DIR."""
EDITS = [
    ("import torch\n", "import matplotlib\n\nmatplotlib.use(\"Agg\")\nimport matplotlib.pyplot as plt\nimport torch\n"),
    ("start = time.time()\n", "losses = []\nstart = time.time()\n"),
    ("    optimizer.step()\n", "    optimizer.step()\n    losses.append(loss.item())\n"),
    ('print(f"trained {TRAIN_STEPS} steps in {time.time() - start:.1f} s")',
     """print(f"trained {TRAIN_STEPS} steps in {time.time() - start:.1f} s")
fig, ax = plt.subplots(figsize=(6, 4))
ax.plot(losses)
ax.set_xlabel("step")
ax.set_ylabel("train loss")
fig.savefig(Path(os.environ["ARRL_OUTPUT_DIR"]) / "loss.png", dpi=80)"""),
]
