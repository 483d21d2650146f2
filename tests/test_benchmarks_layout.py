"""benchmarks/ and docs/benchmarks.md point at each other: every benchmark script names the tables
it makes (headings of docs/benchmarks.md) and the command that runs it, and every script path the
doc gives exists."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from support import ROOT

BENCHMARKS = ROOT / "benchmarks"
DOC = ROOT / "docs" / "benchmarks.md"


def headings(text: str) -> set[str]:
    return {line.lstrip("#").strip() for line in text.splitlines() if re.match(r"#{1,6} ", line)}


def runs_as_script(tree: ast.Module) -> bool:
    return any(isinstance(node, ast.If) and "__main__" in ast.unparse(node.test) for node in tree.body)


def is_benchmark(tree: ast.Module) -> bool:
    """A top-level ``main`` or an ``if __name__ == "__main__"`` block. (simfamily's ``main`` is what
    a member's train.py calls: it names the tables made on the family, and no command.)"""
    return runs_as_script(tree) or any(isinstance(node, ast.FunctionDef) and node.name == "main"
                                       for node in tree.body)


def named_tables(docstring: str) -> list[str]:
    """The quoted headings of the docstring's paragraph that says ``docs/benchmarks.md:``."""
    found = re.search(r"docs/benchmarks\.md[^:\n]*:(.*?)(?:\n\s*\n|\Z)", docstring, re.DOTALL)
    if not found:
        return []
    return [" ".join(name.split()) for name in re.findall(r'"([^"]+)"', found.group(1))]


def problems_of_scripts(root: Path, doc_text: str) -> list[str]:
    known = headings(doc_text)
    problems = []
    for path in sorted(root.rglob("*.py")):
        tree = ast.parse(path.read_text())
        if not is_benchmark(tree):
            continue
        name = path.relative_to(root.parent).as_posix()
        docstring = ast.get_docstring(tree) or ""
        tables = named_tables(docstring)
        if not tables:
            problems.append(f"{name}: its docstring names no table of docs/benchmarks.md")
        problems += [f"{name}: no heading {table!r} in docs/benchmarks.md" for table in tables if table not in known]
        if runs_as_script(tree) and name not in docstring:
            problems.append(f"{name}: its docstring gives no command with its own path")
    return problems


def missing_paths(root: Path, doc_text: str) -> list[str]:
    named = set(re.findall(r"benchmarks/[\w/.-]*?\.py\b", doc_text))
    return sorted(p for p in named if not (root.parent / p).is_file())


def test_every_benchmark_names_its_tables_and_its_command() -> None:
    assert problems_of_scripts(BENCHMARKS, DOC.read_text()) == []


def test_every_script_path_in_the_doc_exists() -> None:
    text = DOC.read_text()
    assert re.search(r"benchmarks/\w+/\w+\.py", text)  # the doc does name scripts
    assert missing_paths(BENCHMARKS, text) == []


def test_the_checks_catch_a_stale_heading_a_missing_table_and_a_moved_script(tmp_path) -> None:
    doc = "# Benchmarks\n\n## Speed\n\n    python benchmarks/speed/speed.py\n    python benchmarks/gone.py\n"
    root = tmp_path / "benchmarks"
    (root / "speed").mkdir(parents=True)
    good = '"""Speed.\n\nTables in docs/benchmarks.md: "Speed".\n\n    python benchmarks/speed/speed.py\n"""\n'
    (root / "speed" / "speed.py").write_text(good + "def main():\n    pass\n")
    (root / "speed" / "helper.py").write_text('"""Not a benchmark: no main."""\n')
    assert problems_of_scripts(root, doc) == []
    assert missing_paths(root, doc) == ["benchmarks/gone.py"]
    (root / "speed" / "speed.py").write_text(good.replace('"Speed"', '"Sped"') + "def main():\n    pass\n")
    assert problems_of_scripts(root, doc) == ["benchmarks/speed/speed.py: no heading 'Sped' in docs/benchmarks.md"]
    (root / "speed" / "slow.py").write_text('"""Slow."""\nif __name__ == "__main__":\n    pass\n')
    assert "benchmarks/speed/slow.py: its docstring names no table of docs/benchmarks.md" in problems_of_scripts(root, doc)
