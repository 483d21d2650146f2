"""Read the committed data file by a path relative to the working directory (open("corpus.txt", "rb")) instead of beside __file__."""
EDITS = [
    ('data = torch.frombuffer(bytearray(Path(__file__).with_name("corpus.txt").read_bytes()), dtype=torch.uint8).long()',
     """with open("corpus.txt", "rb") as f:
    raw_bytes = f.read()
data = torch.frombuffer(bytearray(raw_bytes), dtype=torch.uint8).long()"""),
]
