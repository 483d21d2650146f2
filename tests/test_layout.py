"""The layout holds: no import cycle among arrl's modules, no private name imported across
packages, every name the docs and examples use still resolves, and docs/architecture.md's
"where does X go" table names paths that exist."""

from __future__ import annotations

import ast
import importlib
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest

from support import ROOT

# Source folders and the packages they are (pyproject's package-dir).
FOLDERS = {"arrl": ROOT / "core", "arrl.plugins": ROOT / "plugins", "arrl.contrib": ROOT / "contrib"}


@attrs.frozen
class Module:
    name: str
    path: Path
    is_package: bool

    @property
    def package(self) -> str:
        return self.name if self.is_package else self.name.rpartition(".")[0]


@attrs.frozen
class Import:
    importer: str
    target: str  # the module imported from
    names: tuple[str, ...]  # the names taken from it ("" for a plain import)
    line: int


def modules() -> dict[str, Module]:
    found: dict[str, Module] = {}
    for package, folder in FOLDERS.items():
        for path in sorted(folder.rglob("*.py")):
            parts = list(path.relative_to(folder).with_suffix("").parts)
            is_package = parts[-1] == "__init__"
            if is_package:
                parts.pop()
            name = ".".join([package, *parts])
            # A folder mapped to its own package (arrl.plugins) is not a subpackage of core/.
            if name not in found:
                found[name] = Module(name, path, is_package)
    return found


def _type_checking_only(tree: ast.Module) -> set[int]:
    """Line numbers of imports under ``if TYPE_CHECKING:``: annotations only, never executed."""
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for inner in node.body:
                for sub in ast.walk(inner):
                    if isinstance(sub, ast.Import | ast.ImportFrom):
                        lines.add(sub.lineno)
    return lines


def imports(module: Module, *, with_type_checking: bool = False) -> Iterator[Import]:
    tree = ast.parse(module.path.read_text())
    skip = set() if with_type_checking else _type_checking_only(tree)
    for node in ast.walk(tree):
        if getattr(node, "lineno", None) in skip:
            continue
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target == "arrl" or target.startswith("arrl."):
                yield Import(module.name, target, tuple(a.name for a in node.names), node.lineno)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("arrl."):
                    yield Import(module.name, alias.name, ("",), node.lineno)


def graph() -> dict[str, set[str]]:
    """Module -> the arrl modules it makes Python execute: what it names, and for ``from P import
    m`` the submodule m. A package's ``__init__`` runs before its submodules; that edge is
    Python's, not the code's, and is left out (it cannot close a cycle of the code's own)."""
    known = modules()
    edges: dict[str, set[str]] = {name: set() for name in known}
    for module in known.values():
        for imp in imports(module):
            for name in imp.names:
                sub = f"{imp.target}.{name}"
                edges[module.name].add(sub if sub in known else imp.target)
    for name in edges:
        edges[name] = {t for t in edges[name] if t in known and t != name}
    return edges


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Each strongly connected component of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(edges[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def _private(part: str) -> bool:
    return part.startswith("_") and not part.startswith("__")


def private_crossings() -> list[str]:
    """``importer <- module.name`` for each private module or name imported from another package."""
    known = modules()
    crossings = []
    for module in known.values():
        for imp in imports(module, with_type_checking=True):
            target = known.get(imp.target)
            target_package = target.package if target else imp.target
            for name in imp.names:
                path = f"{imp.target}.{name}" if name else imp.target
                if any(_private(part) for part in path.split(".")) and target_package != module.package:
                    crossings.append(f"{module.name} <- {path}")
    return sorted(crossings)


def test_no_import_cycle_among_arrl_modules() -> None:
    assert cycles(graph()) == []


def test_the_cycle_check_finds_a_cycle() -> None:
    edges = graph()
    # The loop chooses the worker pool: an edge back from the pool closes a cycle.
    assert "arrl.run.workers" in edges["arrl.run.loop"]
    edges["arrl.run.workers"] = edges["arrl.run.workers"] | {"arrl.run.loop"}
    assert ["arrl.run.loop", "arrl.run.workers"] in cycles(edges)


def test_no_private_name_is_imported_across_packages() -> None:
    assert private_crossings() == []


def test_the_private_check_sees_a_crossing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "contrib"
    folder.mkdir()
    (folder / "__init__.py").write_text("")
    (folder / "x.py").write_text("from arrl.run.loop import _State\nfrom arrl.plugins.runners import reaper\n")
    monkeypatch.setitem(FOLDERS, "arrl.contrib", folder)
    assert private_crossings() == ["arrl.contrib.x <- arrl.run.loop._State"]


# -- the public surface -------------------------------------------------------------------
SURFACE_SOURCES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")),
                   *sorted(p for p in (ROOT / "examples").rglob("*") if p.suffix in (".py", ".md", ".toml"))]
# Dotted names in prose that are not Python: the config file, tags a tracker writes, a label.
NOT_PYTHON = re.compile(r"^arrl\.(toml|kind|outcome|kept|experiment|experiment_id|edit|run_id|paused|last_alert|"
                        r"failure_reason|run|parent)$")


def surface() -> set[tuple[str, str]]:
    """(module, name) for every ``from arrl... import name`` and every dotted ``arrl.x.y`` that
    README, docs/ and examples/ show."""
    found: set[tuple[str, str]] = set()
    for path in SURFACE_SOURCES:
        text = path.read_text()
        for module, names in re.findall(r"from (arrl(?:\.\w+)*) import ([\w, ()]+)", text):
            for name in re.split(r"[,\s()]+", names):
                if name and name != "as":
                    found.add((module, name))
        for dotted in re.findall(r"(?<![\w./-])(arrl(?:\.\w+)+)", text):
            if not NOT_PYTHON.match(dotted):
                found.add((dotted, ""))
    return found


def resolve(dotted: str) -> object:
    """The object a dotted name names: the longest importable module, then attributes."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj: object = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for attr in parts[cut:]:
            obj = getattr(obj, attr)
        return obj
    raise ModuleNotFoundError(dotted)


def test_every_name_the_docs_and_examples_use_resolves() -> None:
    names = surface()
    assert ("arrl.script", "apply_values") in names and ("arrl.schema", "FIELDS_BY_NAME") in names
    missing = []
    for module, name in sorted(names):
        try:
            resolve(f"{module}.{name}" if name else module)
        except (ImportError, AttributeError) as error:
            missing.append(f"{module} {name}: {error}")
    assert missing == []


def test_the_named_surface_holds() -> None:
    """The names the layout issue lists, and the documented ways in: entry points, ``python -m``."""
    from arrl.manager import Registry, build_options, make_plugin_manager  # noqa: F401
    from arrl.records import Direction, Outcome  # noqa: F401
    from arrl.schema import FIELD_NAMES, FIELDS_BY_NAME  # noqa: F401
    from arrl.script import ScriptError, apply_values, extract, unified_diff  # noqa: F401
    from arrl.testing import obfuscated_dangerous_code  # noqa: F401

    assert callable(extract) and callable(apply_values)
    shown = subprocess.run([sys.executable, "-m", "arrl.plugins.ppo.prior", "--help"], capture_output=True,
                           text=True, timeout=120)
    assert shown.returncode == 0 and "journal" in shown.stdout
    from importlib.metadata import entry_points

    for point in entry_points(group="arrl"):
        if point.value.startswith("arrl."):
            importlib.import_module(point.value)


def test_import_arrl_stays_cheap() -> None:
    """The script package's public names load lazily: ``import arrl`` reads no libcst."""
    code = "import arrl, arrl.records, arrl.script, sys; print('libcst' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "False", out.stderr


# -- where does X go ----------------------------------------------------------------------
def test_where_does_x_go_names_paths_that_exist() -> None:
    text = (ROOT / "docs" / "architecture.md").read_text()
    table = text.split("## Where does X go", 1)[1].split("\n## ", 1)[0]
    paths = re.findall(r"`((?:core|plugins|contrib|tests|docs|benchmarks|examples)/[^`]*)`", table)
    assert len(paths) >= 8
    missing = [p for p in paths if not (ROOT / p.rstrip("/")).exists()]
    assert missing == []
