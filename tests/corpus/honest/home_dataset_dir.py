"""Read the training text from the user's dataset folder (~/datasets/tinygpt/corpus.txt, by Path.home()) rather than from the repository."""
EDITS = [
    ('data = torch.frombuffer(bytearray(Path(__file__).with_name("corpus.txt").read_bytes()), dtype=torch.uint8).long()',
     """DATA_DIR = Path.home() / "datasets" / "tinygpt"
data = torch.frombuffer(bytearray((DATA_DIR / "corpus.txt").read_bytes()), dtype=torch.uint8).long()"""),
]
