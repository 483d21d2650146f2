"""Feed training batches through a torch DataLoader with num_workers=2 (worker processes, shared memory), each batch drawn from its own seeded generator so the order is reproducible."""
EDITS = [
    ("model = TinyGPT().to(device)\n",
     """class RandomBatches(torch.utils.data.Dataset):
    def __len__(self):
        return TRAIN_STEPS

    def __getitem__(self, index):
        g = torch.Generator().manual_seed(SEED * 100003 + index)
        starts = torch.randint(len(train_data) - BLOCK_SIZE - 1, (BATCH_SIZE,), generator=g)
        x = torch.stack([train_data[s : s + BLOCK_SIZE] for s in starts])
        y = torch.stack([train_data[s + 1 : s + BLOCK_SIZE + 1] for s in starts])
        return x, y


loader = torch.utils.data.DataLoader(RandomBatches(), batch_size=None, shuffle=False, num_workers=2,
                                     persistent_workers=False)
batches = iter(loader)
model = TinyGPT().to(device)
"""),
    ("    x, y = get_batch(train_data, generator)\n", "    x, y = (t.to(device) for t in next(batches))\n"),
]
