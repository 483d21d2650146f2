"""Accumulate gradients over two micro-batches of half the batch each."""
EDITS = [
    ("""    x, y = get_batch(train_data, generator)
    with autocast():
        logits = model(x)
    loss = F.cross_entropy(logits.float().view(-1, 256), y.view(-1))
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
""",
     """    x, y = get_batch(train_data, generator)
    optimizer.zero_grad(set_to_none=True)
    for micro_x, micro_y in zip(x.chunk(2), y.chunk(2)):
        with autocast():
            logits = model(micro_x)
        loss = F.cross_entropy(logits.float().view(-1, 256), micro_y.view(-1))
        (loss / 2).backward()
"""),
]
