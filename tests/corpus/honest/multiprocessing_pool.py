"""Compute data statistics in parallel with multiprocessing.Pool(2) (a byte histogram per chunk) and log them to stderr."""
EDITS = [
    ("import math\n", "import math\nimport multiprocessing\nimport sys\n"),
    ("train_data, val_data = data[:split], data[split:]\n",
     """train_data, val_data = data[:split], data[split:]


def byte_histogram(chunk):
    return torch.bincount(chunk, minlength=256).tolist()


if __name__ == "__main__":
    with multiprocessing.Pool(2) as pool:
        histograms = pool.map(byte_histogram, list(torch.chunk(data, 8)))
    counts = [sum(column) for column in zip(*histograms)]
    print(f"distinct bytes: {sum(c > 0 for c in counts)}, most common: {max(range(256), key=counts.__getitem__)}",
          file=sys.stderr)
"""),
]
