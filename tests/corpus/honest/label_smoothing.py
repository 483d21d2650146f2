"""Train with label smoothing 0.1 (the evaluation's loss unchanged)."""
EDITS = [
    ("    loss = F.cross_entropy(logits.float().view(-1, 256), y.view(-1))\n",
     "    loss = F.cross_entropy(logits.float().view(-1, 256), y.view(-1), label_smoothing=0.1)\n"),
]
