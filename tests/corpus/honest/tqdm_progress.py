"""Show a tqdm progress bar on stderr over the training steps."""
EDITS = [
    ("import torch\n", "import torch\nfrom tqdm import tqdm\n"),
    ("for step in range(1, TRAIN_STEPS + 1):\n", "for step in tqdm(range(1, TRAIN_STEPS + 1), mininterval=1.0):\n"),
]
