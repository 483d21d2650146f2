"""Ask torch for deterministic kernels (torch.use_deterministic_algorithms(True)) and set the matmul precision."""
EDITS = [
    ("torch.manual_seed(SEED)\n",
     """torch.use_deterministic_algorithms(True)
torch.set_float32_matmul_precision("highest")
torch.backends.cudnn.benchmark = False
torch.manual_seed(SEED)
"""),
]
