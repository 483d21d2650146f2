"""Check free space with shutil.disk_usage before writing the final weights into ARRL_OUTPUT_DIR."""
EDITS = [
    ("import math\n", "import math\nimport shutil\n"),
    ("final = evaluate(model, 4 * EVAL_BATCHES)\n",
     """out_dir = Path(os.environ["ARRL_OUTPUT_DIR"])
if shutil.disk_usage(out_dir).free > 100 * 2**20:
    torch.save(model.state_dict(), out_dir / "model.pt")
final = evaluate(model, 4 * EVAL_BATCHES)
"""),
]
