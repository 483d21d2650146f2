"""Set the usual speed flags: cudnn.benchmark, TF32 matmuls, 'high' float32 matmul precision (no effect on a CPU)."""
EDITS = [
    ("torch.manual_seed(SEED)\n",
     """torch.backends.cudnn.benchmark = True
torch.backends.cuda.matmul.allow_tf32 = True
torch.backends.cudnn.allow_tf32 = True
torch.set_float32_matmul_precision("high")
torch.manual_seed(SEED)
"""),
]
