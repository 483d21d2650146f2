"""The baseline tracer (arrl.trace): the script runs as ``python train.py`` would run it, what it
records is what training used, and a traced run prints exactly what an untraced one prints."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from arrl.trace import TRACE_FILE, TRACER, facts, load, script_command

PYTHON = sys.executable


def traced(folder: Path, script: str = "train.py", *args: str, mode: str = "trace",
           python: str = PYTHON, timeout: float = 120) -> tuple[subprocess.CompletedProcess, dict | None]:
    """Run ``script`` in ``folder`` under the tracer, as a runner would; its output and trace."""
    out = folder / "out"
    out.mkdir(exist_ok=True)
    command = script_command(python, script, args, mode, output_dir=str(out), root=str(folder))
    done = subprocess.run(command, cwd=folder, capture_output=True, text=True, timeout=timeout)
    path = out / TRACE_FILE
    return done, (load(path) if path.exists() else None)


def plain(folder: Path, script: str = "train.py", *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([PYTHON, script, *args], cwd=folder, capture_output=True, text=True, timeout=120)


def write(folder: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(textwrap.dedent(text))
    return folder


def test_the_script_is_main_as_python_runs_it(tmp_path: Path) -> None:
    """``__main__`` semantics: pickling a class the script defines, ``sys.argv``, ``sys.path[0]``,
    ``__file__``, ``__name__``, the exit status and the traceback (no tracer frame in it)."""
    write(tmp_path, {"helper.py": "VALUE = 7\n", "train.py": """
        import os, pickle, sys
        import helper
        class Box:
            def __init__(self, n): self.n = n
        box = pickle.loads(pickle.dumps(Box(3)))
        print("box", type(box).__module__, box.n)
        print("argv", sys.argv)
        print("path0", sys.path[0] == os.path.dirname(os.path.abspath(__file__)))
        print("name", __name__, os.path.basename(__file__), helper.VALUE)
        print("main", sys.modules["__main__"].Box is Box)
        if "--fail" in sys.argv:
            raise ValueError("the script's own error")
        sys.exit(int(sys.argv[-1]) if sys.argv[-1].isdigit() else 0)
    """})
    for args in (("a", "--b=1"), ("3",), ("--fail",)):
        done, trace = traced(tmp_path, "train.py", *args)
        expected = plain(tmp_path, "train.py", *args)
        assert (done.returncode, done.stdout) == (expected.returncode, expected.stdout), args
        assert "box __main__ 3" in done.stdout and f"argv {['train.py', *args]}" in done.stdout
        assert "path0 True" in done.stdout and "name __main__ train.py 7" in done.stdout and "main True" in done.stdout
        if "--fail" in args:
            assert "ValueError: the script's own error" in done.stderr
            assert "tracer.py" not in done.stderr, "the tracer's frames stay out of the script's traceback"
        assert trace is not None and trace["complete"] and trace["script"] == "train.py"


def test_data_loader_workers_fork_and_spawn(tmp_path: Path) -> None:
    """DataLoader worker processes (forked, and spawned, which re-imports the script by its path
    as ``__mp_main__``) get the script's own classes; only the main process writes the trace."""
    write(tmp_path, {"train.py": """
        import sys, torch
        from torch.utils.data import DataLoader, Dataset
        class Squares(Dataset):
            def __len__(self): return 8
            def __getitem__(self, i): return torch.tensor([float(i * i)])
        if __name__ == "__main__":
            context = sys.argv[1]
            loader = DataLoader(Squares(), batch_size=4, num_workers=2, multiprocessing_context=context)
            print(context, sum(float(b.sum()) for b in loader))
    """})
    for context in ("fork", "spawn"):
        done, trace = traced(tmp_path, "train.py", context)
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == f"{context} 140.0"
        loaders = [r for r in trace["records"] if r["kind"] == "loader"]
        assert [(r["batch_size"], r["num_workers"], r["at"][0][:2]) for r in loaders] == [(4, 2, ["train.py", 9])]


def test_hydra_finds_its_config_path(tmp_path: Path) -> None:
    """Hydra resolves ``config_path`` from the calling script's file: under the tracer it finds
    conf/ beside train.py, and its overrides and output folder work as without."""
    pytest.importorskip("hydra", reason="hydra-core is in the test extra")
    write(tmp_path, {"conf/config.yaml": "optimizer:\n  lr: 0.01\nwidth: 16\n", "train.py": """
        import hydra
        from omegaconf import DictConfig
        @hydra.main(version_base=None, config_path="conf", config_name="config")
        def main(cfg: DictConfig) -> None:
            print("lr", cfg.optimizer.lr, "width", cfg.width)
        if __name__ == "__main__":
            main()
    """})
    args = ("optimizer.lr=0.5", "hydra.run.dir=out/hydra", "hydra/job_logging=disabled")
    done, trace = traced(tmp_path, "train.py", *args)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "lr 0.5 width 16" == plain(tmp_path, "train.py", *args).stdout.strip()
    assert trace is not None and trace["complete"]


FIXED_STEPS = """
    import torch, torch.nn as nn, torch.nn.functional as F
    torch.manual_seed(0)
    torch.set_num_threads(1)
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = nn.Sequential(nn.Linear(8, 32), nn.GELU(), nn.Dropout(0.1), nn.Linear(32, 3))
        def forward(self, x):
            return self.body(x)
    def SGD(params, lr):  # never called
        return torch.optim.SGD(params, lr=lr, momentum=0.9)
    model = Net()
    optimizer = torch.optim.AdamW([{"params": model.body[0].parameters(), "lr": 0.3},
                                   {"params": model.body[3].parameters()}], lr=3e-3, weight_decay=0.1)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=10)
    x, y = torch.randn(64, 8), torch.randint(0, 3, (64,))
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=16)
    step = 0
    for epoch in range(3):
        for i, (xb, yb) in enumerate(loader):
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=False):
                loss = F.cross_entropy(model(xb), yb, label_smoothing=0.1) / 2
            loss.backward()
            if i % 2 == 1:
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                optimizer.step()
                optimizer.zero_grad()
                step += 1
                print(f"arrl: step={step} val_loss={loss.item():.8f}")
        scheduler.step()
"""


def test_traced_and_untraced_runs_print_the_same(tmp_path: Path) -> None:
    """Faithfulness: two untraced runs of a fixed-step script print the same lines, and so does a
    traced one (and a coverage probe)."""
    write(tmp_path, {"train.py": FIXED_STEPS})
    first, second = plain(tmp_path), plain(tmp_path)
    assert first.returncode == 0 and first.stdout == second.stdout and first.stdout.count("arrl:") == 6
    assert traced(tmp_path)[0].stdout == first.stdout
    assert traced(tmp_path, mode="coverage")[0].stdout == first.stdout


def test_what_training_used_is_recorded_where_it_was_built(tmp_path: Path) -> None:
    write(tmp_path, {"train.py": FIXED_STEPS})
    done, trace = traced(tmp_path)
    assert done.returncode == 0 and trace is not None and trace["settled"]
    by_kind: dict[str, list[dict]] = {}
    for record in trace["records"]:
        by_kind.setdefault(record["kind"], []).append(record)
    assert "tracer_error" not in by_kind
    (optimizer,) = by_kind["optimizer"]
    assert optimizer["class"] == "AdamW" and optimizer["at"][0][:2] == ["train.py", 14]
    assert [(g["parameters"], g["lr"], g["weight_decay"]) for g in optimizer["groups"]] == [(288, 0.3, 0.1),
                                                                                           (99, 0.003, 0.1)]
    assert optimizer["accumulation"] == 2 and optimizer["first_step"]["dtypes"] == ["torch.float32"]
    modules = [(r["class"], r["settings"]) for r in by_kind["module"]]
    assert ("Linear", {"in_features": 8, "out_features": 32}) in modules and ("Dropout", {"p": 0.1, "inplace": False}) \
        in modules and ("GELU", {"approximate": "none"}) in modules
    assert [r["class"] for r in by_kind["user_module"]] == ["Net"]
    loss = by_kind["loss_call"][0]
    assert (loss["function"], loss["options"], loss["shapes"], loss["grad"]) == \
        ("cross_entropy", {"label_smoothing": 0.1}, [[16, 3], [16]], True)
    assert by_kind["first_input"][0]["shapes"] == [[16, 8]]
    assert [(r["batch_size"], r["at"][0][1]) for r in by_kind["loader"]] == [(16, 18)]
    assert by_kind["scheduler"][0]["class"] == "CosineAnnealingLR" and by_kind["scheduler"][0]["settings"]["T_max"] == 10
    assert (by_kind["autocast"][0]["dtype"], by_kind["autocast"][0]["enabled"]) == ("torch.bfloat16", False)
    assert by_kind["clip_grad_norm"][0]["max_norm"] == 1.0
    found = facts(trace, "train.py")
    assert (found.micro_batch, found.accumulation, found.batch) == (16, 2, 32)
    assert found.main is not None and found.main.name == "AdamW" and not found.covered


def test_coverage_probe_sees_which_functions_ran(tmp_path: Path) -> None:
    write(tmp_path, {"train.py": FIXED_STEPS})
    done, trace = traced(tmp_path, mode="coverage")
    found = facts(trace, "train.py", trace)
    assert found.covered and found.complete
    assert 11 not in found.entered and {5, 9} <= found.entered  # SGD never called; Net built and run


def test_torch_compile_and_a_script_without_torch(tmp_path: Path) -> None:
    write(tmp_path, {"train.py": """
        import torch
        model = torch.compile(torch.nn.Linear(2, 2), backend="eager")
        print(float(model(torch.ones(1, 2)).sum()) == float(model._orig_mod(torch.ones(1, 2)).sum()))
    """, "plain.py": "print('no torch here')\n"})
    done, trace = traced(tmp_path)
    assert done.stdout.strip() == "True", done.stderr
    (compiled,) = [r for r in trace["records"] if r["kind"] == "compile"]
    assert compiled["options"] == {"backend": "eager"} and compiled["decorates"] == "Linear"
    done, trace = traced(tmp_path, "plain.py")
    assert done.stdout == "no torch here\n" and trace["records"] == [] and trace["torch"] is None
    assert "torch" not in json.dumps(trace["records"])


def test_the_tracer_stands_alone(tmp_path: Path) -> None:
    """Any interpreter runs it: isolated mode (-I: no site-packages of arrl, no PYTHONPATH) and
    a copy of the file outside the package."""
    write(tmp_path, {"train.py": "import sys\nprint('ran', sys.argv[1:])\n"})
    alone = tmp_path / "elsewhere" / "tracer.py"
    alone.parent.mkdir()
    alone.write_text(TRACER.read_text())
    out = tmp_path / "out"
    command = [PYTHON, "-I", str(alone), "--out", str(out / TRACE_FILE), "--root", str(tmp_path), "--", "train.py", "x"]
    out.mkdir()
    done = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert done.stdout == "ran ['x']\n" and load(out / TRACE_FILE)["complete"]


PHASES = """
import torch, torch.nn as nn, torch.nn.functional as F
torch.manual_seed(0)
body, head = nn.Linear(8, 64), nn.Linear(64, 3)
x, y = torch.randn(64, 8), torch.randint(0, 3, (64,))

@torch.compile(fullgraph=True, backend="eager")
def loss_of(xb, yb):
    return F.cross_entropy(head(torch.relu(body(xb))), yb)

probe = torch.optim.Adam(head.parameters(), lr=0.01)  # a linear probe first: the head alone
for step in range(4):
    probe.zero_grad(); loss_of(x, y).backward(); probe.step()
tune = torch.optim.AdamW(list(body.parameters()) + list(head.parameters()), lr=1e-4)  # then all of it
scheduler = torch.optim.lr_scheduler.StepLR(tune, step_size=2)
critic = torch.optim.SGD(nn.Linear(3, 1).parameters(), lr=0.1)
for step in range(6):
    tune.zero_grad(); loss_of(x, y).backward(); tune.step(); scheduler.step()
    critic.zero_grad(); torch.ones(1, requires_grad=True).sum().backward(); critic.step()  # a second loss, its own step
for step in range(30):
    loss = nn.CrossEntropyLoss()  # a module built at every step
print("keys", sorted(scheduler.state_dict()))
print(f"arrl: val_loss={loss_of(x, y).item():.6f}")
"""


def test_phases_compiled_code_and_a_second_loss(tmp_path: Path) -> None:
    """A linear probe's optimizer, then the fine-tune's with the most parameters: the main one is
    the fine-tune's even though the probe's stepped first, and neither is 'never stepped'. A
    function compiled with fullgraph=True runs under the tracer (its wrappers stay out of the
    graph). A second loss stepped by its own optimizer is not gradient accumulation. Objects are
    not marked (a scheduler's state_dict is as without the tracer), and a module built at every
    step is recorded a bounded number of times."""
    write(tmp_path, {"train.py": PHASES})
    done, trace = traced(tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout == plain(tmp_path).stdout
    found = facts(trace, "train.py")
    assert found.main is not None and found.main.name == "AdamW" and found.complete
    assert [(o.name, o.steps) for o in found.optimizers] == [("Adam", 4), ("AdamW", 6), ("SGD", 6)]
    assert found.accumulation == 1
    assert len([r for r in trace["records"] if r["kind"] == "loss"]) <= 20 and trace["skipped"] > 0
