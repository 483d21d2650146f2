"""How fast the command line answers when it has nothing heavy to do: a refusal of a new run
(not a repository, an uncommitted change, a syntax error), and `arrl --help` against Python
importing click alone.

Tables in docs/benchmarks.md: "How fast arrl refuses, and its --help".

    .venv/bin/python benchmarks/overhead/cli_latency.py            # beside two busy loops, as CI
    .venv/bin/python benchmarks/overhead/cli_latency.py --busy 0   # on a quiet machine

The refusals run in copies of the tiny GPT example's folder (its train.py, corpus and arrl.toml
as shipped), with the default proposer (the PPO, which imports torch once a run starts): each is
the median of five runs. `--help` and `python -c "import click"` alternate, ten of each.

Python caches the bytecode of the modules it imports (``__pycache__``), as on a user's machine,
unless ``--no-bytecode-cache`` (PYTHONDONTWRITEBYTECODE=1, which some CI machines set, with an empty
PYTHONPYCACHEPREFIX so that no cache written before is read either: then every module is compiled
again on every command).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "common"))
from measures import busy  # noqa: E402

EXAMPLE = ROOT / "examples" / "tinygpt"
ARRL = Path(sys.executable).with_name("arrl")
IDENTITY = ["-c", "user.name=bench", "-c", "user.email=bench@example.com"]


def git(folder: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(folder), *args], check=True, capture_output=True)


def prepare(case: str, folder: Path) -> None:
    shutil.copytree(EXAMPLE, folder, ignore=shutil.ignore_patterns(".arrl", "__pycache__"))
    if case == "not a repository":
        return
    git(folder, "init", "-q")
    git(folder, "add", ".")
    git(folder, *IDENTITY, "commit", "-qm", "baseline")
    if case == "uncommitted change":
        (folder / "train.py").write_text((folder / "train.py").read_text() + "# changed\n")
    elif case == "syntax error":
        (folder / "train.py").write_text((folder / "train.py").read_text() + "x = (\n")
        git(folder, *IDENTITY, "commit", "-qam", "broken")


ENVIRONMENT = dict(os.environ)


def timed(command: list[str], cwd: Path) -> tuple[float, subprocess.CompletedProcess[str]]:
    started = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, env=ENVIRONMENT)
    return time.perf_counter() - started, done


def refusal(case: str, scratch: Path) -> tuple[float, str]:
    times, said = [], ""
    for k in range(5):
        folder = scratch / f"{case.replace(' ', '-')}-{k}"
        prepare(case, folder)
        seconds, done = timed([str(ARRL), "run", "--max-experiments", "1"], folder)
        assert done.returncode != 0 and not (folder / ".arrl").exists(), done.stderr
        times.append(seconds)
        said = done.stderr.strip().splitlines()[-1]
    return statistics.median(times), said


def interleaved(first: Callable[[], float], second: Callable[[], float], rounds: int) -> tuple[float, float]:
    a, b = [], []
    for _ in range(rounds):
        a.append(first())
        b.append(second())
    return statistics.median(a), statistics.median(b)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--busy", type=int, default=2, help="CPU-bound processes beside the measurement")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--no-bytecode-cache", action="store_true", help="PYTHONDONTWRITEBYTECODE=1")
    args = parser.parse_args()
    ENVIRONMENT.pop("PYTHONDONTWRITEBYTECODE", None)
    if args.no_bytecode_cache:
        ENVIRONMENT["PYTHONDONTWRITEBYTECODE"] = "1"
        ENVIRONMENT["PYTHONPYCACHEPREFIX"] = tempfile.mkdtemp(prefix="arrl-no-pycache-")
    with tempfile.TemporaryDirectory(prefix="arrl-cli-latency-") as name, busy(args.busy):
        scratch = Path(name)
        cache = "off (PYTHONDONTWRITEBYTECODE=1)" if args.no_bytecode_cache else "on"
        print(f"beside {args.busy} busy loops, {time.strftime('%Y-%m-%d %H:%M')}, load "
              f"{Path('/proc/loadavg').read_text().split()[0]}, bytecode cache {cache}")
        if not args.no_bytecode_cache:  # once, untimed: a user's second command finds the cache
            timed([str(ARRL), "--help"], scratch)
            timed([str(ARRL), "run", "--max-experiments", "1"], scratch)
        print("\n| refusal | median of 5 | what it said |\n| --- | ---: | --- |")
        for case in ("not a repository", "uncommitted change", "syntax error"):
            seconds, said = refusal(case, scratch)
            print(f"| {case} | {seconds:.2f} s | {said[:110]} |")
        helped, clicked = interleaved(
            lambda: timed([str(ARRL), "--help"], scratch)[0],
            lambda: timed([sys.executable, "-c", "import click"], scratch)[0], args.rounds)
        print(f"\n| command | median of {args.rounds} |\n| --- | ---: |")
        print(f"| `arrl --help` | {helped:.3f} s |\n| `python -c \"import click\"` | {clicked:.3f} s |")
        print(f"| ratio | {helped / clicked:.2f} |")


if __name__ == "__main__":
    main()
