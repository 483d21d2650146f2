"""What the baseline tracer (arrl.trace) costs a run: the same script run plainly and under the
tracer, in pairs whose order alternates, on the digits example and on a script that builds a model
of 160 modules. The claim (issue #26): under 1 % of the run and under 0.3 s, the paired median.

Tables in docs/benchmarks.md: "What the baseline tracer costs".

    .venv/bin/python benchmarks/overhead/trace_cost.py              # idle
    .venv/bin/python benchmarks/overhead/trace_cost.py --busy 2     # beside two busy loops

Each run is a whole process, as a runner starts it (one torch thread, as the tests run), timed
from its start to its exit, in wall-clock seconds and in CPU seconds (user and system: what the
tracer adds is work, and CPU time moves less than the wall clock with the machine's other load);
the tracer's run also writes its trace. The coverage probe, which a
run makes once after the baseline and never times, is timed too, for the record.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from arrl.trace import TRACE_FILE, script_command

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "common"))
from measures import busy  # noqa: E402

MANY_MODULES = '''
import torch, torch.nn as nn, torch.nn.functional as F
torch.manual_seed(0)
blocks = [nn.Sequential(nn.Linear(64, 64), nn.LayerNorm(64), nn.GELU(), nn.Dropout(0.1)) for _ in range(40)]
model = nn.Sequential(nn.Linear(32, 64), *blocks, nn.Linear(64, 10))
print("modules", sum(1 for _ in model.modules()))
optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.01)
x, y = torch.randn(2048, 32), torch.randint(0, 10, (2048,))
for step in range(150):
    start = (step * 64) % 2048
    loss = F.cross_entropy(model(x[start:start + 64]), y[start:start + 64])
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    if step % 50 == 49:
        print(f"arrl: step={step + 1} val_loss={loss.item():.4f}")
'''


def timed(command: list[str], folder: Path, env: dict[str, str]) -> tuple[float, float]:
    """Wall-clock and CPU seconds (user + system, the process and its children) of one run."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(command, cwd=folder, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def measure(folder: Path, pairs: int) -> dict[str, float]:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "ARRL_OUTPUT_DIR": str(folder / "out")}
    (folder / "out").mkdir(exist_ok=True)
    plain = [sys.executable, "train.py"]
    traced = script_command(sys.executable, "train.py", (), "trace", output_dir=str(folder / "out"), root=str(folder))
    probe = script_command(sys.executable, "train.py", (), "coverage", output_dir=str(folder / "out"),
                           root=str(folder))
    timed(plain, folder, env)  # warm the page cache: torch's files, the data
    runs: dict[str, list[tuple[float, float]]] = {"plain": [], "traced": []}
    for pair in range(pairs):
        order = ("plain", "traced") if pair % 2 == 0 else ("traced", "plain")
        for which in order:
            runs[which].append(timed(plain if which == "plain" else traced, folder, env))
        assert (folder / "out" / TRACE_FILE).exists()
    probe_s = timed(probe, folder, env)[0]
    found: dict[str, float] = {"probe": probe_s}
    for index, measure_name in ((0, "wall"), (1, "cpu")):
        plain_s = [run[index] for run in runs["plain"]]
        differences = [t[index] - p[index] for t, p in zip(runs["traced"], runs["plain"], strict=True)]
        quartiles = statistics.quantiles(differences, n=4)
        found.update({f"{measure_name}": statistics.median(plain_s),
                      f"{measure_name}_difference": statistics.median(differences),
                      f"{measure_name}_low": quartiles[0], f"{measure_name}_high": quartiles[2]})
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=int, default=15)
    parser.add_argument("--busy", type=int, default=0, help="CPU-bound loops beside the runs")
    options = parser.parse_args()
    scripts = {"digits example (examples/digits/train.py)": None,
               "160 modules (an MLP of 40 blocks, 150 steps)": MANY_MODULES}
    rows = []
    with tempfile.TemporaryDirectory() as scratch, busy(options.busy):
        for name, text in scripts.items():
            folder = Path(scratch) / str(len(rows))
            if text is None:
                shutil.copytree(ROOT / "examples" / "digits", folder)
            else:
                folder.mkdir()
                (folder / "train.py").write_text(text)
            rows.append((name, measure(folder, options.pairs)))
    print(f"{options.pairs} pairs per script, order alternating; {options.busy} busy loop(s) beside; "
          f"{os.cpu_count()} CPUs; python {sys.version.split()[0]}\n")
    print("| script | measure | untraced (median s) | paired difference, traced - untraced (median s) "
          "| its quartiles (s) | relative | coverage probe (wall s, once) |")
    print("|---|---|---|---|---|---|---|")
    for name, m in rows:
        for key, label in (("wall", "wall clock"), ("cpu", "CPU time")):
            print(f"| {name} | {label} | {m[key]:.3f} | {m[key + '_difference']:+.3f} | "
                  f"{m[key + '_low']:+.3f} .. {m[key + '_high']:+.3f} | "
                  f"{100 * m[key + '_difference'] / m[key]:+.2f} % | {m['probe']:.2f} |")


if __name__ == "__main__":
    main()
