"""Read the data the way nanoGPT reads train.bin: np.memmap of the committed file, read-only."""
EDITS = [
    ("import torch\n", "import numpy as np\nimport torch\n"),
    ('data = torch.frombuffer(bytearray(Path(__file__).with_name("corpus.txt").read_bytes()), dtype=torch.uint8).long()',
     """raw = np.memmap(Path(__file__).with_name("corpus.txt"), dtype=np.uint8, mode="r")
data = torch.from_numpy(raw.astype(np.int64))"""),
]
