"""Cache the tokenised splits in a tempfile.TemporaryDirectory (torch.save, then torch.load with weights_only=True), as a preprocessing step would."""
EDITS = [
    ("import math\n", "import math\nimport tempfile\n"),
    ("train_data, val_data = data[:split], data[split:]\n",
     """with tempfile.TemporaryDirectory(prefix="tinygpt-") as cache:
    torch.save({"train": data[:split], "val": data[split:]}, os.path.join(cache, "splits.pt"))
    splits = torch.load(os.path.join(cache, "splits.pt"), weights_only=True)
train_data, val_data = splits["train"], splits["val"]
"""),
]
