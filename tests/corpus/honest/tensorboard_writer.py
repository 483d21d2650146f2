"""Log scalars to TensorBoard with torch.utils.tensorboard.SummaryWriter under ARRL_OUTPUT_DIR."""
EDITS = [
    ("import torch.nn.functional as F\n",
     "import torch.nn.functional as F\nfrom torch.utils.tensorboard import SummaryWriter\n"),
    ("start = time.time()\n",
     """writer = SummaryWriter(log_dir=os.path.join(os.environ["ARRL_OUTPUT_DIR"], "tb"))
start = time.time()
"""),
    ("    optimizer.step()\n", "    optimizer.step()\n    writer.add_scalar(\"train/loss\", loss.item(), step)\n"),
    ("final = evaluate(model, 4 * EVAL_BATCHES)\n",
     "final = evaluate(model, 4 * EVAL_BATCHES)\nwriter.add_scalar(\"val/bpb\", final, TRAIN_STEPS)\nwriter.close()\n"),
]
