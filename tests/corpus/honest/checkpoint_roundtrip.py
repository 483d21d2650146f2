"""Save a checkpoint with torch.save into ARRL_OUTPUT_DIR, load it back into a fresh model with weights_only=True, and report the loaded model's metric."""
EDITS = [
    ("final = evaluate(model, 4 * EVAL_BATCHES)\n",
     """ckpt_path = Path(os.environ["ARRL_OUTPUT_DIR"]) / "ckpt.pt"
torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "step": TRAIN_STEPS}, ckpt_path)
checkpoint = torch.load(ckpt_path, map_location=device, weights_only=True)
model = TinyGPT().to(device)
model.load_state_dict(checkpoint["model"])
final = evaluate(model, 4 * EVAL_BATCHES)
"""),
]
