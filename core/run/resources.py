"""An experiment's share of the machine: CPU threads (and the variables that tell its libraries)
and the GPU it may see.

Numerical libraries start one thread per core they can see, whatever else runs on the machine:
two experiments side by side (or one beside any other busy process) then fight over the cores
and run many times slower than with one thread each. arrl gives every experiment a thread
count equal to its CPU share: the CPUs arrl may use divided by the number of workers, or
``cpus_per_worker`` when set. A variable the user has already exported (non-empty) in arrl's
environment is left as the user set it: that is how to override one library's count.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping

# OpenMP (torch's intra-op pool reads it at start-up), MKL, OpenBLAS, numexpr, Apple Accelerate,
# and ARRL_NUM_THREADS for scripts that call torch.set_num_threads themselves.
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS",
                    "VECLIB_MAXIMUM_THREADS", "ARRL_NUM_THREADS")


def available_cpus() -> int:
    """The CPUs this process may run on (its affinity mask, which containers and taskset narrow)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def cpu_share(workers: int, cpus_per_worker: float | None = None) -> float:
    """Each worker's CPUs: ``cpus_per_worker`` when given, else an equal share of the machine."""
    if cpus_per_worker is not None:
        return cpus_per_worker
    return max(available_cpus() // max(workers, 1), 1)


def thread_count(cpus: float) -> int:
    """Threads for a share of ``cpus`` CPUs: a fractional share still gets one thread."""
    return max(math.floor(cpus), 1)


# OpenMP threads that wait for work sleep instead of spinning. On a busy machine a spinning
# thread burns the time slice its partner needs: the tiny GPT with two threads beside other work
# (load 9 on 2 cores) took 240 s for 60 steps spinning, 28 s sleeping, 40 s on one thread.
WAIT_POLICY = {"OMP_WAIT_POLICY": "PASSIVE"}


def thread_env(cpus: float, inherited: Mapping[str, str] | None = None) -> dict[str, str]:
    """The thread variables for an experiment with ``cpus`` CPUs, and OpenMP's wait policy,
    except those the user set."""
    inherited = os.environ if inherited is None else inherited
    count = str(thread_count(cpus))
    wanted = {**{name: count for name in THREAD_VARIABLES}, **WAIT_POLICY}
    return {name: value for name, value in wanted.items() if not inherited.get(name)}


def threads_used(env: Mapping[str, str], inherited: Mapping[str, str] | None = None) -> str:
    """The thread counts an experiment ran with, given the variables arrl set (``env``) over the
    ones it inherited: one number when they agree, else each variable's. Two runs of one program
    with other thread counts may differ in the last digits (reductions add in another order), so
    a result is compared with its parent's only at the same count (arrl.run.effect)."""
    inherited = os.environ if inherited is None else inherited
    counts = {name: env.get(name) or inherited.get(name, "") for name in THREAD_VARIABLES}
    distinct = set(counts.values())
    return distinct.pop() if len(distinct) == 1 else ",".join(f"{k}={v}" for k, v in counts.items())


def gpu_ids(text: str) -> list[str]:
    """``"0,1"`` -> ``["0", "1"]``: the GPUs named by ``--gpus``, one per worker."""
    return [g.strip() for g in text.split(",") if g.strip()]
