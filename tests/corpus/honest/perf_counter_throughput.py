"""Time every step with time.perf_counter and report tokens per second to stderr."""
EDITS = [
    ("import math\n", "import math\nimport sys\n"),
    ("    x, y = get_batch(train_data, generator)\n",
     """    step_started = time.perf_counter()
    x, y = get_batch(train_data, generator)
"""),
    ("    optimizer.step()\n",
     """    optimizer.step()
    tokens_per_second = BATCH_SIZE * BLOCK_SIZE / (time.perf_counter() - step_started)
    if step % 10 == 0:
        print(f"{tokens_per_second:.0f} tokens/s", file=sys.stderr)
"""),
]
