"""Report peak memory and CPU time at the end with resource.getrusage(RUSAGE_SELF)."""
EDITS = [
    ("import math\n", "import math\nimport resource\n"),
    ('print(f"trained {TRAIN_STEPS} steps in {time.time() - start:.1f} s")',
     """print(f"trained {TRAIN_STEPS} steps in {time.time() - start:.1f} s")
usage = resource.getrusage(resource.RUSAGE_SELF)
print(f"peak rss {usage.ru_maxrss / 1024:.0f} MiB, cpu {usage.ru_utime + usage.ru_stime:.1f} s")"""),
]
