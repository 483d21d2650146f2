"""Fused AdamW where this torch has it, nanoGPT's idiom ('fused' in inspect.signature(torch.optim.AdamW).parameters), on CUDA only."""
EDITS = [
    ("import math\n", "import inspect\nimport math\n"),
    ("        return torch.optim.AdamW(params, lr=LEARNING_RATE, weight_decay=WEIGHT_DECAY)",
     """        fused_available = "fused" in inspect.signature(torch.optim.AdamW).parameters
        extra_args = dict(fused=True) if fused_available and device == "cuda" else dict()
        return torch.optim.AdamW(params, lr=LEARNING_RATE, weight_decay=WEIGHT_DECAY, **extra_args)"""),
]
