"""Which config files a script loads itself: ``json.load``, ``tomllib.load``, ``yaml.safe_load``,
``OmegaConf.load`` and their ``loads`` forms, of a file whose path the script names.

A path is followed as far as it is written: a string, ``Path(__file__).parent / "x.json"``,
``os.path.join(os.path.dirname(__file__), "x.json")``, a name assigned one of those, or an
argparse option (``args.config``, ``getattr(args, "job.config_file")``) whose value is the ``args``
setting's or else the option's default. Paths are taken relative to the script's folder. A path
known only when the script runs (an environment variable, a loop over files) is not followed.
"""

from __future__ import annotations

import ast
import posixpath
import re
from collections.abc import Sequence

from arrl.script.reading.command_line import flags_set

# (module, function) -> whether it takes an open file (False: a path, or text for ``loads``).
_LOADERS = {("json", "load"), ("json", "loads"), ("tomllib", "load"), ("tomllib", "loads"), ("toml", "load"),
            ("tomli", "load"), ("yaml", "safe_load"), ("yaml", "load"), ("yaml", "full_load"),
            ("OmegaConf", "load")}
_HERE = "\0here"  # the script's folder, as an expression of __file__ gives it
_EXTENSIONS = (".json", ".toml", ".yaml", ".yml")


def loaded_files(tree: ast.Module, args: Sequence[str] = ()) -> list[tuple[str, int]]:
    """(file relative to the script's folder, line of the load) for each config file the script
    loads by a path it names, in order, each once."""
    resolver = _Resolver(tree, args)
    found: dict[str, int] = {}
    for call in (n for n in ast.walk(tree) if isinstance(n, ast.Call)):
        if _callee(call.func) not in _LOADERS or not call.args:
            continue
        path = resolver.path_of_argument(call.args[0])
        # Only files beside the script, inside the repository: what an experiment's commit can hold.
        if path is not None and path.lower().endswith(_EXTENSIONS) and path not in found \
                and not posixpath.isabs(path) and not path.startswith("../") and path != "..":
            found[path] = call.lineno
    return sorted(found.items(), key=lambda item: item[1])


def _callee(node: ast.expr) -> tuple[str, str] | None:
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
        return node.value.id, node.attr
    return None


class _Resolver:
    """Follows a path expression back to the string it is, where the source says."""

    def __init__(self, tree: ast.Module, args: Sequence[str]) -> None:
        self.assigned: dict[str, list[ast.expr]] = {}
        self.opened: dict[str, ast.expr] = {}  # file handle name -> the open() call's path
        self.options: dict[str, str | None] = _argparse_values(tree, args)
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                self.assigned.setdefault(node.targets[0].id, []).append(node.value)
            elif isinstance(node, (ast.With, ast.AsyncWith)):
                for item in node.items:
                    if isinstance(item.optional_vars, ast.Name) and _is_open(item.context_expr):
                        self.opened[item.optional_vars.id] = item.context_expr.args[0]  # type: ignore[attr-defined]

    def path_of_argument(self, node: ast.expr) -> str | None:
        """The path a loader's first argument reads: an open file, a path, or a file's text."""
        if isinstance(node, ast.Name) and node.id in self.opened:
            return self.path(self.opened[node.id])
        if _is_open(node):
            return self.path(node.args[0])  # type: ignore[attr-defined]
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in ("read_text",
                                                                                                      "read"):
            return self.path_of_argument(node.func.value)
        return self.path(node)

    def path(self, node: ast.expr, depth: int = 0) -> str | None:
        if depth > 8:
            return None
        found = self._path(node, depth)
        if found is None or found == _HERE:  # unknown, or the folder itself
            return None
        return posixpath.normpath(found.removeprefix(_HERE + "/"))

    def _path(self, node: ast.expr, depth: int) -> str | None:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return node.value
        if _is_file_folder(node):
            return _HERE
        if isinstance(node, ast.Name):
            values = self.assigned.get(node.id, [])
            return self._path(values[-1], depth + 1) if len(values) == 1 else None
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
            return _join(self._path(node.left, depth + 1), self._path(node.right, depth + 1))
        if isinstance(node, ast.Call):
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            if name in ("Path", "PurePath", "expanduser", "abspath", "realpath", "resolve") and node.args:
                return self._path(node.args[0], depth + 1)
            if name == "join" and node.args:
                parts = [self._path(a, depth + 1) for a in node.args]
                joined = parts[0]
                for part in parts[1:]:
                    joined = _join(joined, part)
                return joined
            if name == "getattr" and len(node.args) >= 2 and isinstance(node.args[1], ast.Constant):
                return self.options.get(str(node.args[1].value))
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            return self.options.get(node.attr)
        return None


def _join(left: str | None, right: str | None) -> str | None:
    if left is None or right is None or posixpath.isabs(right):
        return None
    return right if left == "." else f"{left}/{right}"


def _is_open(node: ast.expr) -> bool:
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "open" \
        and bool(node.args)


def _is_file_folder(node: ast.expr) -> bool:
    """The script's own folder: ``Path(__file__).parent`` (``.resolve()``/``.absolute()`` before
    it), ``os.path.dirname(__file__)`` (of ``abspath``/``realpath``), and nothing further up."""
    text = re.sub(r"\.(resolve|absolute)\(\)", "", ast.unparse(node))
    text = re.sub(r"(os\.path\.)?(abspath|realpath)\(__file__\)", "__file__", text)
    return text in ("Path(__file__).parent", "pathlib.Path(__file__).parent", "os.path.dirname(__file__)",
                    "dirname(__file__)")


def _argparse_values(tree: ast.Module, args: Sequence[str]) -> dict[str, str | None]:
    """Each argparse option's dest -> its value: the ``args`` setting's, or the default."""
    given = flags_set(args)
    values: dict[str, str | None] = {}
    for call in (n for n in ast.walk(tree) if isinstance(n, ast.Call)):
        if not (isinstance(call.func, ast.Attribute) and call.func.attr == "add_argument"):
            continue
        flags = [a.value for a in call.args if isinstance(a, ast.Constant) and isinstance(a.value, str)]
        keywords = {k.arg: k.value for k in call.keywords if k.arg}
        long = next((f for f in flags if f.startswith("--")), flags[0] if flags else "")
        dest_node = keywords.get("dest")
        dest = dest_node.value if isinstance(dest_node, ast.Constant) else long.lstrip("-").replace("-", "_")
        default = keywords.get("default")
        value = next((given[f] for f in flags if given.get(f) is not None), None)
        if value is None and isinstance(default, ast.Constant) and isinstance(default.value, str):
            value = default.value
        values[str(dest)] = value
    return values
