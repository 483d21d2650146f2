"""No room of 500 lines: no class or function of the product code (core/, plugins/, contrib/) is
over 150 lines, from its ``def`` or ``class`` line to its last. A long class is usually several
things sharing one ``self``; the loop, the validator, the reader and the PPO each were one until
they were split (docs/architecture.md, "Sizes").

The allow-list names at most two exceptions, each with its reason; it is empty now.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

import attrs

from support import ROOT

LIMIT = 150
FOLDERS = ("core", "plugins", "contrib")
# "path:qualified.name" -> why it may be longer. At most two; a name here that is no longer too
# long fails too, so the list never outlives its reason.
ALLOWED: dict[str, str] = {}


@attrs.frozen
class Room:
    where: str  # "core/run/loop.py:ExperimentLoop"
    lines: int


def rooms(tree: ast.AST, path: str, prefix: str = "") -> Iterator[Room]:
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            name = f"{prefix}{node.name}"
            assert node.end_lineno is not None
            yield Room(f"{path}:{name}", node.end_lineno - node.lineno + 1)
            yield from rooms(node, path, f"{name}.")
        else:
            yield from rooms(node, path, prefix)


def product_rooms() -> list[Room]:
    found = []
    for folder in FOLDERS:
        for file in sorted((ROOT / folder).rglob("*.py")):
            path = file.relative_to(ROOT).as_posix()
            found.extend(rooms(ast.parse(file.read_text(), path), path))
    return found


def test_no_class_or_function_is_over_150_lines() -> None:
    found = product_rooms()
    assert len(found) > 500, "the walk found too few classes and functions to be looking at the code"
    too_long = sorted((room.lines, room.where) for room in found if room.lines > LIMIT and room.where not in ALLOWED)
    assert not too_long, (f"over {LIMIT} lines (split it, or allow it in {__name__}.ALLOWED with a reason): "
                          f"{too_long}")


def test_the_allow_list_is_short_and_each_entry_still_needed() -> None:
    assert len(ALLOWED) <= 2
    sizes = {room.where: room.lines for room in product_rooms()}
    for where, reason in ALLOWED.items():
        assert reason.strip(), where
        assert sizes.get(where, 0) > LIMIT, f"{where} is no longer over {LIMIT} lines: remove it from ALLOWED"


def test_the_measure_counts_nested_rooms_and_whole_spans() -> None:
    source = "class A:\n    def f(self):\n        x = 1\n\n        return x\n\ndef g():\n    pass\n"
    measured = {room.where: room.lines for room in rooms(ast.parse(source), "m.py")}
    assert measured == {"m.py:A": 5, "m.py:A.f": 4, "m.py:g": 2}
