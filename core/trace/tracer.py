"""arrl's baseline tracer: runs a training script as ``__main__`` and records where its values
reach training. A stand-alone file: any interpreter runs it, with or without arrl installed.

    python tracer.py --out TRACE.json --root WORKSPACE [--coverage] -- train.py [ARGS...]

The script runs as ``python train.py ARGS`` would run it: its own ``__main__`` module in
``sys.modules`` (so pickling, ``multiprocessing``'s spawn and Hydra's ``config_path`` find it),
``sys.argv[0]`` and ``sys.path[0]`` as Python sets them, its exit status and its traceback without
this file's frames. Nothing is edited and nothing runs per training step once the trace is settled:
torch's constructors are wrapped when torch is imported (optimizers and their parameter groups,
modules as they are built, loss functions, data loaders, schedulers, autocast, gradient scalers,
``torch.compile``), and a few per-call wrappers (the first loss calls, the first optimizer steps,
``backward`` between them, ``clip_grad_norm_``) take themselves out after their first calls. Each
record carries the workspace lines (``--root``) whose calls built it, innermost first.

The trace is written (atomically) when it settles, after the first optimizer steps, and again at
exit, so a run the budget ends still leaves one. ``--coverage`` (a probe, never a timed run) also
records which workspace lines ran and which functions were entered.
"""

from __future__ import annotations

import builtins
import importlib
import importlib.machinery
import importlib.util
import json
import os
import signal
import sys
import threading
import time
import types
import weakref
from typing import Any

VERSION = 1
TRACER_FILE = os.path.abspath(__file__)
STEPS_TO_SETTLE = 3  # optimizer steps of the main optimizer before the per-step wrappers go
LOSS_CALLS = 20  # loss calls recorded at most, waiting for one with gradients on
LOSSES = ("cross_entropy", "nll_loss", "mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss",
          "binary_cross_entropy", "binary_cross_entropy_with_logits", "kl_div")
PLAIN = (bool, int, float, str, type(None))


class Trace:
    """What the run showed, and where in the workspace each part came from."""

    def __init__(self, out: str, root: str, script: str) -> None:
        self.out, self.script = out, script
        # Frames name files as the interpreter opened them: under the root as given or as resolved.
        self.roots = tuple({os.path.abspath(root) + os.sep, os.path.realpath(root) + os.sep})
        self.pid = os.getpid()
        self.started = time.monotonic()
        self.records: list[dict] = []
        self.settled = False
        self.lock = threading.Lock()
        self.coverage: Coverage | None = None

    def where(self, skip: int = 2) -> list[list]:
        """The workspace frames of the current call, innermost first: [path, line, function]."""
        frame: types.FrameType | None = sys._getframe(skip)
        found: list[list] = []
        while frame is not None and len(found) < 8:
            name = frame.f_code.co_filename
            if name.startswith(self.roots) and name != TRACER_FILE:
                found.append([relative(name, self.roots), frame.f_lineno, frame.f_code.co_name])
            frame = frame.f_back
        return found

    def add(self, kind: str, **facts: object) -> dict:
        return self._append({"kind": kind, **facts, "at": self.where(3)})

    def add_capped(self, kind: str, **facts: object) -> dict | None:
        """A record, unless its line has made PER_SITE of this kind already (then only counted)."""
        at = self.where(3)
        site = (kind, repr(at[:1]))
        SITES[site] = SITES.get(site, 0) + 1
        if SITES[site] > PER_SITE:
            self.skipped = getattr(self, "skipped", 0) + 1
            return None
        return self._append({"kind": kind, **facts, "at": at})

    def _append(self, record: dict) -> dict:
        with self.lock:
            record.update(seq=len(self.records), t=round(time.monotonic() - self.started, 4))
            self.records.append(record)
        return record

    def write(self, complete: bool = False) -> None:
        """Write the trace atomically; a forked child (a DataLoader worker) never writes."""
        if os.getpid() != self.pid:
            return
        data = {"version": VERSION, "script": self.script, "python": sys.version.split()[0],
                "torch": getattr(sys.modules.get("torch"), "__version__", None), "complete": complete,
                "settled": self.settled, "seconds": round(time.monotonic() - self.started, 3),
                "records": list(self.records), "skipped": getattr(self, "skipped", 0)}
        if self.coverage is not None:
            data["coverage"] = self.coverage.summary()
        temporary = f"{self.out}.{os.getpid()}.tmp"
        try:
            with open(temporary, "w") as stream:
                json.dump(data, stream, default=repr)
            os.replace(temporary, self.out)
        except OSError as error:  # the trace is advice: a full disk must not fail the run
            print(f"arrl tracer: cannot write {self.out}: {error}", file=sys.stderr)


def plain(value: object) -> object:
    """A JSON-safe copy of a setting: numbers, text, tuples of them, a tensor's single value."""
    if isinstance(value, PLAIN):
        return value
    if isinstance(value, (tuple, list)) and len(value) <= 8:
        items = [plain(item) for item in value]
        return items if all(item is not NOT_PLAIN for item in items) else NOT_PLAIN
    if type(value).__name__ in ("Tensor", "Parameter") and getattr(value, "numel", lambda: 0)() == 1:
        return value.item()  # type: ignore[attr-defined]
    if type(value).__name__ in ("dtype", "device"):
        return str(value)
    return NOT_PLAIN


NOT_PLAIN = object()


def relative(name: str, roots: tuple[str, ...]) -> str:
    return next(name[len(root):] for root in roots if name.startswith(root))


def settings(obj: object, skip: tuple[str, ...] = ()) -> dict:
    """An object's public plain attributes: a module's sizes and rates, a scheduler's arguments."""
    found = {}
    for name, value in vars(obj).items():
        if name.startswith("_") or name in skip:
            continue
        value = plain(value)
        if value is not NOT_PLAIN:
            found[name] = value
    return found


class Coverage:
    """Which workspace lines ran and which workspace functions were entered (a probe only), and
    which of those functions ran again once training had begun (the first forward with gradients
    on): code that runs only before it builds the data or sets up, it never takes a step."""

    def __init__(self, roots: tuple[str, ...]) -> None:
        self.root = roots
        self.lines: dict[str, set[int]] = {}
        self.entered: set[tuple[str, int]] = set()
        self.training: set[tuple[str, int]] = set()
        self.in_training = False
        self.monitoring: Any = None

    def training_began(self) -> None:
        self.in_training = True
        if self.monitoring is not None:  # each function reports once more, now in training
            self.monitoring.restart_events()

    def start(self) -> None:
        monitoring = getattr(sys, "monitoring", None)
        if monitoring is not None:  # 3.12+: each line reports once, then costs nothing
            self._monitor(monitoring)
        else:
            threading.settrace(self._call)
            sys.settrace(self._call)
            self._untraced_imports()

    def _untraced_imports(self) -> None:
        """Imports run untraced: the global trace function sees every call, and importing torch
        (at the script's start, and lazily at its first optimizer) is most of a short run's calls.
        A workspace module's own top level is then not covered; its functions are, when called."""
        original = builtins.__import__

        def __import__(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
            tracer = sys.gettrace()
            if tracer is None:
                return original(*args, **kwargs)
            sys.settrace(None)
            try:
                return original(*args, **kwargs)
            finally:
                sys.settrace(tracer)
        builtins.__import__ = __import__

    def _call(self, frame: types.FrameType, event: str, arg: object):  # noqa: ANN202
        name = frame.f_code.co_filename
        if not name.startswith(self.root):
            return None
        self.entered.add((name, frame.f_code.co_firstlineno))
        if self.in_training:
            self.training.add((name, frame.f_code.co_firstlineno))
        lines = self.lines.setdefault(name, set())

        def line(frame: types.FrameType, event: str, arg: object):  # noqa: ANN202
            if event == "line":
                lines.add(frame.f_lineno)
            return line
        return line

    def _monitor(self, monitoring: types.ModuleType) -> None:
        tool = monitoring.COVERAGE_ID
        monitoring.use_tool_id(tool, "arrl")
        events = monitoring.events

        def on_line(code: types.CodeType, number: int) -> object:
            if code.co_filename.startswith(self.root):
                self.lines.setdefault(code.co_filename, set()).add(number)
            return monitoring.DISABLE

        def on_start(code: types.CodeType, offset: int) -> object:
            if code.co_filename.startswith(self.root):
                self.entered.add((code.co_filename, code.co_firstlineno))
                if self.in_training:
                    self.training.add((code.co_filename, code.co_firstlineno))
            return monitoring.DISABLE
        monitoring.register_callback(tool, events.LINE, on_line)
        monitoring.register_callback(tool, events.PY_START, on_start)
        monitoring.set_events(tool, events.LINE | events.PY_START)
        self.monitoring = monitoring

    def summary(self) -> dict:
        return {"lines": {relative(name, self.root): sorted(lines) for name, lines in self.lines.items()},
                "entered": sorted([relative(name, self.root), line] for name, line in self.entered),
                "training": sorted([relative(name, self.root), line] for name, line in self.training),
                "training_began": self.in_training}


class Steps:
    """The optimizer steps: which optimizers step, and the backward passes between two steps of
    one optimizer (gradient accumulation), counted by phase: steps with no backward between them
    (four optimizers stepped together) share the backwards before them, so a GAN's two losses,
    each stepped by its own optimizer, are not taken for accumulation. Both are counted for the
    whole run (a call per step and per backward, next to a step's work nothing), because an
    optimizer may start late (a fine-tune after a linear probe): when it first steps, and when
    its accumulation is known, the trace is written again."""

    def __init__(self, trace: Trace, torch: types.ModuleType) -> None:
        self.trace, self.torch = trace, torch
        self.backwards = 0  # backward calls so far
        self.at_last_step = 0  # backward calls when the last step of any optimizer came
        self.phase = 0  # backward calls before the current phase of steps
        self.stepped: list[dict] = []
        self.original_backward = torch.Tensor.backward
        steps = self

        def backward(tensor, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
            steps.backwards += 1
            return steps.original_backward(tensor, *args, **kwargs)
        torch.Tensor.backward = backward
        hooks = importlib.import_module("torch.optim.optimizer")
        self.handle = hooks.register_optimizer_step_pre_hook(self.step)

    def step(self, optimizer: object, args: object, kwargs: object) -> None:
        if compiling(self.torch):
            return
        record = RECORDS.get(optimizer)
        if record is None:
            return
        if self.backwards != self.at_last_step:  # a backward since the last step: a new phase
            self.phase, self.at_last_step = self.backwards - self.at_last_step, self.backwards
        record["steps"] = record.get("steps", 0) + 1
        if record["steps"] == 1:
            record["first_step"] = {"seq": len(self.trace.records),
                                    "dtypes": sorted({str(p.dtype) for g in optimizer.param_groups  # type: ignore[attr-defined]
                                                      for p in g["params"]}),
                                    "at": self.trace.where(3)}
            self.stepped.append(record)
            if self.trace.settled:
                self.trace.write()  # an optimizer of a later phase (a fine-tune after a probe)
        elif "accumulation" not in record:
            record.setdefault("phases", []).append(self.phase)
            if len(record["phases"]) >= 2 and record["phases"][-1] == record["phases"][-2]:
                record["accumulation"] = record["phases"][-1]
                if self.trace.settled:
                    self.trace.write()
        main = max(self.stepped, key=lambda r: sum(g["parameters"] for g in r["groups"]))
        if not self.trace.settled and record is main and record["steps"] >= STEPS_TO_SETTLE:
            self.settle()

    def settle(self) -> None:
        self.trace.settled = True
        self.trace.write()


def compiling(torch: types.ModuleType) -> bool:
    """Whether torch.compile is tracing the code now: a wrapper must then do nothing of its own."""
    check = getattr(getattr(torch, "compiler", None), "is_compiling", None)
    return bool(check()) if check is not None else False


# What each object the tracer saw was recorded as, without an attribute on the object (a
# scheduler's state_dict copies its __dict__; a checkpoint must not differ from a plain run's).
RECORDS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
PER_SITE = 20  # records of one kind from one line; more (a loss built at every step) are counted
SITES: dict[tuple[str, str], int] = {}


BUILDING: set[int] = set()  # objects inside a wrapped constructor: a base's constructor records nothing


def wrap_init(trace: Trace, torch: types.ModuleType, cls: type, kind: str, facts) -> None:  # noqa: ANN001
    """Record each object of ``cls`` once it is built (the outermost constructor only)."""
    original = cls.__dict__["__init__"]

    def __init__(self, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        if compiling(torch):
            return original(self, *args, **kwargs)
        outermost = id(self) not in BUILDING
        BUILDING.add(id(self))
        try:
            original(self, *args, **kwargs)
        finally:
            if outermost:
                BUILDING.discard(id(self))
        if outermost:
            try:
                record = trace.add_capped(kind, **{"class": type(self).__name__, **facts(self)})
                if record is not None:
                    RECORDS[self] = record
            except Exception as error:  # noqa: BLE001 -- the trace must never break the script
                trace.add("tracer_error", error=f"{cls.__name__}: {error!r}")
    __init__.__wrapped__ = original  # type: ignore[attr-defined]
    cls.__init__ = __init__  # type: ignore[misc]


def wrap_calls(trace: Trace, torch: types.ModuleType, owners: list[tuple[object, str]], kind: str, facts,  # noqa: ANN001
               enough) -> None:  # noqa: ANN001
    """Record calls of a function until ``enough(records)``, then put the original back on every
    owner (a name the script bound by ``from ... import`` keeps a wrapper that only passes on)."""
    original = getattr(*owners[0])
    records: list[dict] = []

    def wrapper(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        if not done and not compiling(torch):
            try:
                records.append(trace.add(kind, **facts(*args, **kwargs)))
            except Exception as error:  # noqa: BLE001
                trace.add("tracer_error", error=f"{kind}: {error!r}")
            if enough(records):
                done.append(True)
                for owner, name in owners:
                    setattr(owner, name, original)
        return original(*args, **kwargs)
    done: list[bool] = []
    wrapper.__wrapped__ = original  # type: ignore[attr-defined]
    for owner, name in owners:
        setattr(owner, name, wrapper)


OPTIMIZERS: list[str] = []  # the classes of the optimizers built so far


def optimizer_facts(optimizer) -> dict:  # noqa: ANN001
    OPTIMIZERS.append(type(optimizer).__name__)
    groups = []
    for group in optimizer.param_groups:
        facts = {name: plain(value) for name, value in group.items() if name != "params"}
        groups.append({"parameters": sum(p.numel() for p in group["params"]), "tensors": len(group["params"]),
                       **{name: value for name, value in facts.items() if value is not NOT_PLAIN}})
    return {"module": type(optimizer).__module__, "groups": groups}


def loss_facts(torch: types.ModuleType, name: str):  # noqa: ANN201
    def facts(*args, **kwargs) -> dict:  # noqa: ANN002, ANN003
        shapes = [list(a.shape) for a in args[:2] if hasattr(a, "shape")]
        options = {k: plain(v) for k, v in kwargs.items() if plain(v) is not NOT_PLAIN}
        return {"function": name, "shapes": shapes, "options": options, "grad": torch.is_grad_enabled()}
    return facts


def install(trace: Trace, torch: types.ModuleType) -> None:
    """Wrap torch's constructors and first calls; a failure here leaves the script untouched."""
    nn, optim = torch.nn, torch.optim
    wrap_init(trace, torch, optim.Optimizer, "optimizer", optimizer_facts)
    for cls in torch_module_classes(nn):
        kind = "loss" if cls.__module__ == "torch.nn.modules.loss" else "module"
        wrap_init(trace, torch, cls, kind, lambda module: {"settings": settings(module, ("training",))})
    user_modules(trace, torch, nn)
    wrap_init(trace, torch, optim.lr_scheduler.LRScheduler, "scheduler",
              lambda s: {"settings": settings(s, ("optimizer", "last_epoch", "_step_count"))})
    if "__init__" in optim.lr_scheduler.ReduceLROnPlateau.__dict__:
        wrap_init(trace, torch, optim.lr_scheduler.ReduceLROnPlateau, "scheduler",
                  lambda s: {"settings": settings(s, ("optimizer", "last_epoch"))})
    data = torch.utils.data.DataLoader
    wrap_init(trace, torch, data, "loader", lambda loader: {"batch_size": loader.batch_size, "drop_last": loader.drop_last,
                                                     "num_workers": loader.num_workers, "length": safe_len(loader)})
    loader_iterations(trace, data)
    wrap_init(trace, torch, torch.amp.GradScaler, "grad_scaler", lambda s: {"enabled": s.is_enabled()})
    wrap_calls(trace, torch, [(torch.autocast, "__init__")], "autocast", lambda self, device_type, dtype=None,
               enabled=True, *a, **k: {"device_type": device_type, "dtype": str(dtype) if dtype else None,
                                       "enabled": enabled}, lambda records: len(records) >= 2)
    functional = nn.functional
    for name in LOSSES:
        if hasattr(functional, name):
            wrap_calls(trace, torch, [(functional, name)], "loss_call", loss_facts(torch, name),
                       lambda records: len(records) >= LOSS_CALLS or any(r["grad"] for r in records))
    clip = nn.utils.clip_grad
    wrap_calls(trace, torch, [(nn.utils, "clip_grad_norm_"), (clip, "clip_grad_norm_")], "clip_grad_norm",
               lambda parameters, max_norm, norm_type=2.0, *a, **k: {"max_norm": plain(max_norm),
                                                                      "norm_type": plain(norm_type)},
               lambda records: len(records) >= 2)
    wrap_calls(trace, torch, [(torch, "compile")], "compile",
               lambda *a, **k: {"options": {n: plain(v) for n, v in k.items() if plain(v) is not NOT_PLAIN},
                                "decorates": type(a[0]).__name__ if a else None}, lambda records: False)
    first_batch(trace, torch)
    Steps(trace, torch)


def first_batch(trace: Trace, torch: types.ModuleType) -> None:
    """The shape of the first input a module gets with gradients on: the training micro-batch.
    A global pre-hook that removes itself at that call, before any step (and before a compiled
    module traces: a hook that stayed would cost every call and break ``torch.compile``'s graph)."""
    modules = importlib.import_module("torch.nn.modules.module")

    def hook(module: object, args: tuple) -> None:
        if compiling(torch) or not torch.is_grad_enabled() or BUILDING or not OPTIMIZERS:
            return None  # compiled code, evaluation, or a forward before training (a dummy sizing one)
        handle.remove()
        if trace.coverage is not None:
            trace.coverage.training_began()
        shapes = [list(a.shape) for a in args[:2] if hasattr(a, "shape")]
        trace.add("first_input", **{"class": type(module).__name__, "shapes": shapes,
                                   "dtypes": [str(a.dtype) for a in args[:2] if hasattr(a, "dtype")]})
        return None
    handle = modules.register_module_forward_pre_hook(hook)


def torch_module_classes(nn: types.ModuleType) -> list[type]:
    """torch.nn's module classes and their private bases (``_DropoutNd`` holds Dropout's
    constructor), each defining its own constructor: wrapping those sees every module built."""
    found: dict[type, None] = {}
    for cls in vars(nn).values():
        if isinstance(cls, type) and issubclass(cls, nn.Module):
            for base in cls.__mro__:
                if base is not nn.Module and "__init__" in base.__dict__ \
                        and base.__module__.startswith("torch.nn.modules"):
                    found[base] = None
    return list(found)


def safe_len(loader) -> int | None:  # noqa: ANN001
    try:
        return len(loader)
    except TypeError:  # an iterable dataset has no length
        return None


def loader_iterations(trace: Trace, data: Any) -> None:
    """Each time a loader starts an epoch (once per epoch, not per batch)."""
    original = data.__iter__

    def __iter__(self):  # noqa: ANN001, ANN202
        record = RECORDS.get(self)
        if record is not None:
            record.setdefault("iterated", []).append(len(trace.records))
            del record["iterated"][4:]
        return original(self)
    data.__iter__ = __iter__


def user_modules(trace: Trace, torch: types.ModuleType, nn: types.ModuleType) -> None:
    """The script's own module classes, as they are built (a layer count shows here)."""
    original = nn.Module.__init__

    def __init__(self, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        original(self, *args, **kwargs)
        module = type(self).__module__
        if not module.startswith("torch.") and not compiling(torch):
            trace.add_capped("user_module", **{"class": type(self).__qualname__, "module": module})
    nn.Module.__init__ = __init__


class TorchHook:
    """Installs the wrappers the moment the script's ``import torch`` finishes, so a script that
    never imports torch pays nothing and one that does sees torch exactly as it is."""

    def __init__(self, trace: Trace) -> None:
        self.trace = trace

    def find_spec(self, name: str, path: Any = None, target: Any = None):  # noqa: ANN201
        if name != "torch":
            return None
        sys.meta_path.remove(self)
        for finder in sys.meta_path:
            spec = finder.find_spec(name, path, target) if hasattr(finder, "find_spec") else None
            if spec is not None and spec.loader is not None and hasattr(spec.loader, "exec_module"):
                self._after(spec.loader)
                return spec
        return None

    def _after(self, loader) -> None:  # noqa: ANN001
        original, trace = loader.exec_module, self.trace

        def exec_module(module: types.ModuleType) -> None:
            original(module)
            try:
                install(trace, module)
            except Exception as error:  # noqa: BLE001 -- an unknown torch: no trace, same run
                trace.add("tracer_error", error=f"install: {error!r}")
        loader.exec_module = exec_module


def run_as_main(path: str, arguments: list[str]) -> None:
    """Run the script as ``python path arguments`` would: a fresh ``__main__`` module."""
    absolute = os.path.abspath(path)
    with open(absolute, "rb") as stream:
        source = stream.read()
    main = types.ModuleType("__main__")
    loader = importlib.machinery.SourceFileLoader("__main__", absolute)
    main.__dict__.update({"__file__": absolute, "__builtins__": builtins, "__cached__": None, "__loader__": loader})
    sys.modules["__main__"] = main
    sys.argv[:] = [path, *arguments]
    sys.path[0] = os.path.dirname(os.path.realpath(absolute))  # as Python sets it: links resolved
    code = compile(source, absolute, "exec", dont_inherit=True)
    try:
        exec(code, main.__dict__)
    except SystemExit:
        raise
    except BaseException as error:
        # The traceback Python would print, without this file's frame.
        traceback = error.__traceback__.tb_next if error.__traceback__ is not None else None
        sys.excepthook(type(error), error.with_traceback(traceback), traceback)
        if isinstance(error, KeyboardInterrupt):  # die by the signal, as Python does
            sys.stdout.flush()
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGINT)
        sys.exit(1)


def main(argv: list[str]) -> None:
    split = argv.index("--")
    options, (script, *arguments) = argv[:split], argv[split + 1:]
    value = lambda flag: options[options.index(flag) + 1]  # noqa: E731
    trace = Trace(value("--out"), value("--root"), script)
    if "--coverage" in options:
        trace.coverage = Coverage(trace.roots)
    sys.meta_path.insert(0, TorchHook(trace))
    import atexit
    atexit.register(lambda: trace.write(complete=True))
    del sys.modules["__main__"]  # this file stops being __main__ before the script becomes it
    if trace.coverage is not None:
        trace.coverage.start()
    run_as_main(script, arguments)


if __name__ == "__main__":
    # The wrappers must belong to a module of their own name: torch.compile looks a traced
    # function's globals up by its module's name, and "__main__" is about to be the script.
    spec = importlib.util.spec_from_file_location("arrl_tracer", __file__)
    assert spec is not None and spec.loader is not None
    tracer = importlib.util.module_from_spec(spec)
    sys.modules["arrl_tracer"] = tracer
    spec.loader.exec_module(tracer)
    tracer.main(sys.argv[1:])
