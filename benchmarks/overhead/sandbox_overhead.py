"""What the sandbox costs per experiment: the subprocess runner sandboxed against opted out.

Tables in docs/benchmarks.md: "What the sandbox costs per experiment".

Three workloads, each run through the real subprocess runner (the workspace copy, bwrap's
namespaces and mounts, the seccomp filter, the teardown), sandboxed and not, taking turns in one
process so that the load falls on both alike:

    print    a script that prints one metric line: the fixed cost
    tinygpt  examples/tinygpt at 60 steps, with its 300 KB corpus in the workspace
    compile  a small MLP through torch.compile: inductor's caches start empty in the sandbox
             (a private /tmp), warm in the user's cache without it

Each experiment has one thread. Prints a Markdown table of medians (seconds from start to the end
of the run, as the loop records it). Usage:

    .venv/bin/python benchmarks/overhead/sandbox_overhead.py --repeats 5
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
from pathlib import Path

import arrl
from arrl.plugins.runners.subprocess_runner import SubprocessOptions, SubprocessRunner

ROOT = Path(__file__).resolve().parents[2]

PRINT = 'print("arrl: val_loss=1.0", flush=True)\n'

COMPILE = """
import torch
torch.manual_seed(0)
model = torch.nn.Sequential(torch.nn.Linear(64, 128), torch.nn.GELU(), torch.nn.Linear(128, 10))
compiled = torch.compile(model)
optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
x, y = torch.randn(256, 64), torch.randint(0, 10, (256,))
for step in range(30):
    loss = torch.nn.functional.cross_entropy(compiled(x), y)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
print(f"arrl: step=30 val_loss={loss.item():.4f}")
"""


class Quiet(arrl.RunMonitor):
    def on_metric(self, point: arrl.MetricPoint) -> bool:
        return True

    def should_abort(self) -> bool:
        return False


def workspace_for(workload: str, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    if workload == "tinygpt":
        for name in ("train.py", "corpus.txt"):
            shutil.copy(ROOT / "examples" / "tinygpt" / name, folder / name)
        script = (folder / "train.py").read_text()
        (folder / "train.py").write_text(script.replace("TRAIN_STEPS = 300", "TRAIN_STEPS = 60"))
    else:
        (folder / "train.py").write_text(PRINT if workload == "print" else COMPILE)
    return folder


def run_once(runner: SubprocessRunner, workspace: Path, root: Path, index: int) -> arrl.RunResult:
    experiment = root / "experiments" / str(index)
    threads = {name: "1" for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "ARRL_NUM_THREADS")}
    request = arrl.RunRequest(run_id="bench", experiment_id=index, script=workspace / "train.py",
                              workspace=workspace, workdir=workspace, output_dir=experiment / "output",
                              log_dir=experiment, budget_seconds=600, seed=0,
                              env={"ARRL_OUTPUT_DIR": str(experiment / "output"), **threads})
    result = runner.run(request, Quiet())
    if result.outcome is not arrl.Outcome.OK:
        raise SystemExit(f"{workspace.name} failed ({result.failure_reason}): {(experiment / 'stderr.log').read_text()[-800:]}")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--workloads", nargs="+", default=["print", "tinygpt", "compile"])
    args = parser.parse_args()
    runners = {"sandboxed": SubprocessRunner(SubprocessOptions(sandbox="on")),
               "opted out": SubprocessRunner(SubprocessOptions(sandbox="off"))}
    rows = []
    with tempfile.TemporaryDirectory(prefix="arrl-sandbox-bench-") as scratch:
        root = Path(scratch)
        for workload in args.workloads:
            workspace = workspace_for(workload, root / workload)
            seconds: dict[str, list[float]] = {name: [] for name in runners}
            for index in range(args.repeats):
                for name, runner in (runners.items() if index % 2 == 0 else reversed(runners.items())):
                    result = run_once(runner, workspace, root / name, index)
                    seconds[name].append(result.wall_clock_seconds)
            on, off = (statistics.median(seconds[name]) for name in runners)
            rows.append((workload, on, off))
    print("| workload | sandboxed (s) | opted out (s) | sandboxed / opted out | difference (s) |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for workload, on, off in rows:
        print(f"| {workload} | {on:.2f} | {off:.2f} | {on / off:.2f} | {on - off:+.2f} |")


if __name__ == "__main__":
    main()
