"""Resolve dotted names to the objects they denote, in a separate interpreter.

The validator must judge the object a name denotes, not its spelling: ``torch.os.system`` *is*
``os.system`` and ``from torch.serialization import load`` *is* ``torch.load``. Only the
interpreter the experiment will use can say what a library exports, so a small worker process of
that interpreter imports the *libraries* a script names and walks attribute chains with ``getattr``.

What the worker never does: import the workspace's own modules (it runs isolated, ``python -I``,
from an empty directory, so neither the script's directory nor ``PYTHON*`` variables reach its
``sys.path``), import a module the validator has already refused, or see the proposal's code: it is
sent module names and attribute names, nothing else. It gets an empty environment, and anything a
library prints while being imported goes to stderr, which is discarded.

One worker per interpreter is kept for the life of the process, and every answer is cached, so
only the first proposal that names a heavy library (torch: seconds) pays for importing it.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import select
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs

from arrl.errors import ConfigError
from arrl.output import remove_tree

# Where the CPython implementation module of a public module lives, named the way users spell it,
# so ``posix.system`` is judged as ``os.system``.
CANONICAL_MODULES: dict[str, str] = {
    "posix": "os", "nt": "os", "posixpath": "os.path", "ntpath": "os.path", "genericpath": "os.path",
    "_io": "io", "_pickle": "pickle", "_socket": "socket", "_ctypes": "ctypes", "_signal": "signal",
    "_operator": "operator", "_functools": "functools", "_collections_abc": "collections.abc",
    "_sitebuiltins": "builtins", "_posixsubprocess": "subprocess", "_thread": "threading",
    "_codecs": "codecs", "_weakref": "weakref", "_abc": "abc", "_imp": "importlib",
}

# The worker: reads one JSON request per line ({"module", "attrs"}), answers one JSON line.
_WORKER = r'''
import importlib, json, os, sys, types
sys.path[1:1] = sys.argv[1:]  # the experiment's PYTHONPATH, minus the workspace
channel = os.fdopen(os.dup(1), "w")
os.dup2(2, 1)
sys.stdout = sys.stderr

def name_of(value):
    module = getattr(value, "__module__", None)
    qualname = getattr(value, "__qualname__", None)
    if isinstance(module, str) and isinstance(qualname, str) and "<" not in qualname:
        return [module, qualname]
    return None

def describe(value):
    if isinstance(value, types.ModuleType):
        return {"kind": "module", "name": getattr(value, "__name__", "?")}
    kind = "class" if isinstance(value, type) else "callable" if callable(value) else "value"
    found = {"kind": kind}
    try:
        found["def"] = name_of(value) if kind != "value" else None
        if kind == "class":
            found["mro"] = [".".join(n) for n in (name_of(c) for c in value.__mro__) if n]
    except Exception:
        pass
    return found

def resolve(module, attrs):
    try:
        value = importlib.import_module(module)
    except BaseException as error:
        return {"error": "import", "detail": type(error).__name__ + ": " + str(error)[:200], "steps": []}
    steps = [describe(value)]
    for index, attr in enumerate(attrs):
        try:
            value = getattr(value, attr)
        except BaseException as error:
            if not isinstance(value, types.ModuleType):
                return {"error": "attribute", "detail": attr, "steps": steps}
            try:  # a submodule the script's own imports (or `from package import sub`) load
                value = importlib.import_module(value.__name__ + "." + attr)
            except BaseException:
                return {"error": "attribute", "detail": attr, "steps": steps}
        steps.append(describe(value))
    return {"steps": steps}

for line in sys.stdin:
    request = json.loads(line)
    try:
        answer = resolve(request["module"], request["attrs"])
    except BaseException as error:
        answer = {"error": "worker", "detail": repr(error)[:200], "steps": []}
    channel.write(json.dumps(answer) + "\n")
    channel.flush()
'''


class ResolutionError(Exception):
    """The worker could not be started or did not answer in time."""


@attrs.frozen
class Step:
    kind: str  # module, class, callable or value
    name: str | None = None  # a module's name
    definition: tuple[str, str] | None = None  # (module, qualname) of a function or class
    mro: tuple[str, ...] = ()


@attrs.frozen
class Resolution:
    """What ``module`` followed by ``attrs`` denotes: one step per prefix, or why it failed."""

    module: str
    attrs: tuple[str, ...]
    steps: tuple[Step, ...] = ()
    error: str = ""  # "import" (no such library), "attribute" (no such attribute) or "worker"
    detail: str = ""

    @property
    def final(self) -> Step | None:
        return self.steps[-1] if self.steps and not self.error else None

    @property
    def path_name(self) -> str:
        """The dotted name from the last module passed through: ``torch.os.system`` -> ``os.system``."""
        last = 0
        for index, step in enumerate(self.steps):
            if step.kind == "module":
                last = index
        module = canonical_module(self.steps[last].name or self.module) if self.steps else self.module
        rest = self.attrs[last:] if self.steps else self.attrs
        return ".".join((module, *rest))

    @property
    def definition(self) -> str | None:
        """Where the final object was defined (``torch.load`` -> ``torch.serialization.load``)."""
        final = self.final
        if final is None:
            return None
        if final.kind == "module":
            return canonical_module(final.name or "")
        if final.definition is None:
            return None
        module, qualname = final.definition
        return f"{canonical_module(module)}.{qualname}"


def canonical_module(name: str) -> str:
    if name in CANONICAL_MODULES:
        return CANONICAL_MODULES[name]
    head, _, rest = name.partition(".")
    return f"{CANONICAL_MODULES[head]}.{rest}" if head in CANONICAL_MODULES and rest else name


@contextlib.contextmanager
def _sandboxed(python: str, paths: tuple[str, ...], command: list[str]) -> Iterator[tuple[list[str], tuple[int, ...]]]:
    from arrl.plugins.runners import sandbox, seccomp

    found = sandbox.probe()
    if not found.available:
        yield command, ()
        return
    with seccomp.filter_descriptor(found.seccomp) as fd:
        try:
            wrapped = sandbox.helper_command(found, python, paths, fd, command)
        except ConfigError:
            raise ResolutionError(f"cannot start {python}: no such interpreter, or it does not run") from None
        yield wrapped, (fd,) if fd is not None else ()


class _Worker:
    def __init__(self, python: str, timeout: float, paths: tuple[str, ...]) -> None:
        self.python = python
        self.timeout = timeout
        self.paths = paths
        self.lock = threading.Lock()
        self.process: subprocess.Popen[str] | None = None
        self.home = tempfile.mkdtemp(prefix="arrl-resolver-")

    def _start(self) -> subprocess.Popen[str]:
        if self.process is None or self.process.poll() is not None:
            command = [self.python, "-I", "-c", _WORKER, *self.paths]
            # A library's import runs its code: where the machine can, in the experiments' sandbox
            # (no network, no home, no repository), never with arrl's environment.
            with _sandboxed(self.python, self.paths, command) as (command, pass_fds):
                try:
                    self.process = subprocess.Popen(
                        command, cwd=self.home, text=True, bufsize=1, pass_fds=pass_fds,
                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                        env={"PATH": os.defpath, "HOME": self.home}, start_new_session=True)
                except OSError as error:
                    raise ResolutionError(f"cannot start {self.python}: {error}") from None
        return self.process

    def ask(self, module: str, names: tuple[str, ...]) -> dict[str, Any]:
        with self.lock:
            process = self._start()
            assert process.stdin is not None and process.stdout is not None
            try:
                process.stdin.write(json.dumps({"module": module, "attrs": list(names)}) + "\n")
                process.stdin.flush()
            except OSError as error:
                self.close()
                raise ResolutionError(f"the resolver process died: {error}") from None
            deadline = time.monotonic() + self.timeout
            # Never block forever on a library whose import hangs: wait with a deadline.
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    self.close()
                    raise ResolutionError(f"resolving {module} took over {self.timeout:g}s")
                ready, _, _ = select.select([process.stdout], [], [], left)
                if ready:
                    break
            line = process.stdout.readline()
            if not line:
                self.close()
                raise ResolutionError(f"the resolver process died while importing {module}")
            answer: dict[str, Any] = json.loads(line)
            return answer

    def close(self) -> None:
        if self.process is not None:
            if self.process.poll() is None:
                self.process.kill()
            self.process.wait()
            for stream in (self.process.stdin, self.process.stdout):
                if stream is not None:
                    stream.close()
            self.process = None


class NameResolver:
    """Resolves (module, attribute chain) pairs with one interpreter, caching every answer."""

    _workers: dict[tuple[str, tuple[str, ...]], _Worker] = {}
    _cache: dict[tuple[str, tuple[str, ...], str, tuple[str, ...]], Resolution] = {}
    _guard = threading.Lock()

    def __init__(self, python: str = "", timeout: float = 180.0, exclude: tuple[str, ...] = ()) -> None:
        self.python = python or sys.executable
        self.timeout = timeout
        # Libraries the experiment finds through PYTHONPATH (isolated mode would drop them); never
        # a directory of the workspace, whose modules must not be imported.
        excluded = [os.path.realpath(e) for e in exclude]
        self.paths = tuple(
            entry for entry in os.environ.get("PYTHONPATH", "").split(os.pathsep)
            if entry not in ("", ".") and os.path.isabs(entry) and not any(
                os.path.realpath(entry) == e or os.path.realpath(entry).startswith(e + os.sep) for e in excluded))

    def resolve(self, module: str, names: tuple[str, ...] = ()) -> Resolution:
        key = (self.python, self.paths, module, names)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        with self._guard:
            worker = self._workers.get((self.python, self.paths))
            if worker is None:
                worker = self._workers[(self.python, self.paths)] = _Worker(self.python, self.timeout, self.paths)
        answer = worker.ask(module, names)
        steps = tuple(Step(kind=s["kind"], name=s.get("name"), definition=tuple(s["def"]) if s.get("def") else None, mro=tuple(s.get("mro", ())))
                      for s in answer.get("steps", ()))
        resolution = Resolution(module, names, steps, answer.get("error", ""), answer.get("detail", ""))
        if resolution.error != "worker":
            self._cache[key] = resolution
        return resolution

    @classmethod
    def close_all(cls) -> None:
        """End every worker and remove its home (at exit: a worker lives as long as arrl)."""
        for worker in cls._workers.values():
            worker.close()
            remove_tree(Path(worker.home))
        cls._workers.clear()


atexit.register(NameResolver.close_all)
