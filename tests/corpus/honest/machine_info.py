"""Log the machine's shape: os.cpu_count(), torch.get_num_threads(), os.getloadavg(), the memory in /proc/meminfo."""
EDITS = [
    ("import math\n", "import math\nimport sys\n"),
    ("torch.manual_seed(SEED)\n",
     """with open("/proc/meminfo") as meminfo:
    total_kib = int(meminfo.readline().split()[1])
print(f"cpus {os.cpu_count()}, torch threads {torch.get_num_threads()}, load {os.getloadavg()[0]:.2f}, "
      f"memory {total_kib >> 20} GiB", file=sys.stderr)
torch.manual_seed(SEED)
"""),
]
