"""Initialise the positional embeddings from numpy's seeded generator (np.random.seed and default_rng)."""
EDITS = [
    ("import torch\n", "import numpy as np\nimport torch\n"),
    ("optimizer = make_optimizer(model.parameters())\n",
     """np.random.seed(SEED)
rng = np.random.default_rng(SEED)
with torch.no_grad():
    init = rng.normal(0.0, 0.02, size=tuple(model.pos.weight.shape)).astype(np.float32)
    model.pos.weight.copy_(torch.from_numpy(init))
optimizer = make_optimizer(model.parameters())
"""),
]
