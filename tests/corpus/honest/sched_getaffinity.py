"""Threads from the CPUs this process may run on (os.sched_getaffinity(0)), capped by OMP_NUM_THREADS."""
EDITS = [
    ("torch.manual_seed(SEED)\n",
     """usable_cpus = len(os.sched_getaffinity(0))
torch.set_num_threads(max(1, min(usable_cpus, int(os.environ.get("OMP_NUM_THREADS", usable_cpus)))))
torch.manual_seed(SEED)
"""),
]
