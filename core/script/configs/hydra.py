"""Hydra's composition, done by arrl so that each value the script's ``cfg`` holds is known by the
file and key it comes from (OmegaConf keeps no source positions, and a probe could only say which
value, not where it is written).

Composes the primary config that ``@hydra.main(config_path=..., config_name=...)`` names, as Hydra
1.1+ does: the defaults list in order (``group: option``, ``group@package: option``, ``/group``,
``optional``, ``override``, a plain config name, ``_self_``, which is last when not listed), each
group's option under the group's package unless its ``# @package`` header says otherwise, nested
defaults lists relative to their group, and command-line overrides from the ``args`` setting
(``group=option``, ``key=value``, ``+key=value``, ``~key``) as the last layer. tests/test_configs.py
checks the result against Hydra's own ``compose`` on the fixtures.

What it does not do is said, not guessed: an interpolation (``${...}``) is no knob (its value lives
where it points); a config from a search path or a structured config registered in Python is not
read.
"""

from __future__ import annotations

import ast
import posixpath
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import attrs
import yaml

from .documents import ConfigError, Document, Scalar, read


@attrs.frozen
class Group:
    """A config group the defaults list chooses an option of."""

    name: str  # "optimizer", "model/encoder"
    chosen: str
    options: tuple[str, ...]  # every option its folder holds
    entry: Scalar | None  # where the defaults list names the option (None: chosen on the command line)


@attrs.frozen
class Composition:
    primary: str  # the primary config's file, relative to the script's folder
    values: dict[str, Scalar]  # composed key ("optimizer.lr") -> the scalar that sets it
    replaced: tuple[tuple[Scalar, str], ...]  # scalars set again before use, with why
    groups: dict[str, Group]
    documents: dict[str, Document]  # every file read, by its name
    arguments: dict[str, str]  # composed key -> the value the ``args`` setting gives it


def hydra_main(tree: ast.Module) -> tuple[str, str] | None:
    """(config_path, config_name) of the script's ``@hydra.main``, or None."""
    for node in ast.walk(tree):
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        for decorator in node.decorator_list:
            if not (isinstance(decorator, ast.Call) and _callee(decorator.func) in ("hydra.main", "main")):
                continue
            keywords = {k.arg: k.value for k in decorator.keywords if k.arg}
            path, name = keywords.get("config_path"), keywords.get("config_name")
            if isinstance(name, ast.Constant) and isinstance(name.value, str):
                where = path.value if isinstance(path, ast.Constant) and isinstance(path.value, str) else "."
                return where, name.value
    return None


def _callee(node: ast.expr) -> str:
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
        return f"{node.value.id}.{node.attr}"
    return node.id if isinstance(node, ast.Name) else ""


@attrs.define
class _Composer:
    folder: Path | None  # the script's folder; None: the files given are all there is
    config_dir: str  # relative to it, '/'-separated
    text_of: Callable[[str], str]
    known: tuple[str, ...]  # files given as texts (a version's), beside those on disk
    choices: dict[str, str]  # group -> option, from the command line and ``override`` entries
    overrides: dict[str, str] = attrs.Factory(dict)  # ``override`` entries met while composing
    values: dict[str, Scalar] = attrs.Factory(dict)
    replaced: list[tuple[Scalar, str]] = attrs.Factory(list)
    groups: dict[str, Group] = attrs.Factory(dict)
    documents: dict[str, Document] = attrs.Factory(dict)

    def file(self, group: str, option: str) -> str:
        return posixpath.normpath(posixpath.join(self.config_dir, group, f"{option}.yaml"))

    def options(self, group: str) -> tuple[str, ...]:
        where = posixpath.normpath(posixpath.join(self.config_dir, group))
        folder = self.folder / where if self.folder is not None else None
        on_disk = {p.stem for p in folder.glob("*.yaml")} if folder is not None and folder.is_dir() else set()
        given = {posixpath.basename(n)[:-5] for n in self.known if posixpath.dirname(n) == where and n.endswith(".yaml")}
        return tuple(sorted(on_disk | given))

    def exists(self, file: str) -> bool:
        try:
            self.load(file)
        except ConfigError:
            return False
        return True

    def read_options(self) -> None:
        """Every option of each group chosen, read: an edit of a group's ``_target_`` picks among
        theirs, and a version's config files are all of them. One that cannot be read is left out."""
        for group in list(self.groups.values()):
            for option in group.options:
                try:
                    self.load(self.file(group.name, option))
                except ConfigError:
                    continue

    def load(self, file: str) -> Document:
        if file not in self.documents:
            try:
                text = self.text_of(file)
            except OSError as error:
                raise ConfigError(f"{file} cannot be read: {error.strerror or error}") from None
            self.documents[file] = read(file, text)
        return self.documents[file]

    def compose(self, group: str, option: str, package: str, primary: bool = False) -> None:
        """One config and its defaults list, merged in order into ``values``."""
        document = self.load(self.file(group, option))
        header = _package_header(document.text)
        if header is not None and not primary:
            package = "" if header == "_global_" else group.replace("/", ".") if header == "_group_" else header
        entries = _defaults(document)
        if not any(e.self_ for e in entries):
            entries.append(_Entry(self_=True))  # Hydra 1.1+: a config's own values come last
        for entry in entries:
            if entry.self_:
                self.merge(document, package, primary)
                continue
            if entry.group == "hydra" or entry.group.startswith("hydra/"):
                continue  # Hydra's own groups (hydra/launcher), not the script's
            if entry.override:  # a choice for a group chosen elsewhere, applied there (compose again)
                if entry.option is not None:
                    self.overrides.setdefault(entry.group if entry.absolute or not group else f"{group}/{entry.group}",
                                              entry.option)
                continue
            child_group = entry.group if entry.absolute or not group else f"{group}/{entry.group}"
            if entry.plain:  # a config of the same group, by name
                self.compose(group, entry.group, package)
                continue
            chosen = self.choices.get(child_group, entry.option)
            if chosen is None or entry.optional and not self.exists(self.file(child_group, chosen)):
                continue  # no option, or an optional one that is not there
            self.groups[child_group] = Group(child_group, chosen, self.options(child_group),
                                             entry.scalar if chosen == entry.option else None)
            child_package = _package(package, entry)
            self.compose(child_group, chosen, child_package)

    def merge(self, document: Document, package: str, primary: bool) -> None:
        for key, scalar in document.scalars.items():
            composed = _join(package, key)
            if key == "defaults" or key.startswith("defaults.") or composed.split(".")[0] == "hydra":
                continue  # the defaults list, and Hydra's own settings wherever they are written
            if isinstance(scalar.value, str) and "${" in scalar.value:
                continue  # an interpolation: the value lives where it points
            earlier = self.values.get(composed)
            if earlier is not None:
                self.replaced.append((earlier, f"set again by {scalar.name} (Hydra's defaults list)"))
            self.values[composed] = scalar


@attrs.define
class _Entry:
    group: str = ""
    option: str | None = None
    package: str | None = None
    scalar: Scalar | None = None
    self_: bool = False
    plain: bool = False  # "- name": a config of the same group
    absolute: bool = False
    override: bool = False
    optional: bool = False


def _defaults(document: Document) -> list[_Entry]:
    """The defaults list of a YAML config, each entry parsed."""
    tree = document.tree
    if tree is None:
        return []
    node = next((value for key, value in tree.value if key.value == "defaults"), None)
    if node is None:
        return []
    if not isinstance(node, yaml.SequenceNode):
        raise ConfigError(f"{document.file}: `defaults` must be a list")
    entries: list[_Entry] = []
    for item in node.value:
        if isinstance(item, yaml.ScalarNode):
            entries.append(_Entry(self_=True) if item.value == "_self_" else _Entry(group=item.value.lstrip("/"),
                                                                                    plain=True))
            continue
        if not (isinstance(item, yaml.MappingNode) and len(item.value) == 1):
            raise ConfigError(f"{document.file}: a defaults entry arrl cannot read (line {item.start_mark.line + 1})")
        key_node, value = item.value[0]
        words = key_node.value.split()
        override = words[0] == "override"
        name = words[-1]
        group, _, package = name.partition("@")
        option = value.value if isinstance(value, yaml.ScalarNode) and value.value not in ("null", "~", "") else None
        scalar = Scalar(document.file, f"defaults.{group.lstrip('/')}", option, value.start_mark.index,
                        value.end_mark.index, value.start_mark.line + 1) if isinstance(value, yaml.ScalarNode) else None
        entries.append(_Entry(group.lstrip("/"), option, package or None, scalar, absolute=group.startswith("/"),
                              override=override, optional=words[0] == "optional"))
    return entries


def _package_header(text: str) -> str | None:
    for line in text.splitlines()[:8]:
        stripped = line.strip()
        if stripped.startswith("# @package"):
            return stripped.split(None, 2)[2] if len(stripped.split()) > 2 else None
        if stripped and not stripped.startswith("#"):
            return None
    return None


def _package(parent: str, entry: _Entry) -> str:
    """Where an option's values land: its group's path under the parent's package, or the package
    its entry names (``group@pkg``), which is relative to the parent's too; ``_global_`` is the top."""
    if entry.package is None:
        return _join(parent, entry.group.replace("/", "."))
    if entry.package == "_global_" or entry.package.startswith("_global_."):
        return entry.package.removeprefix("_global_").lstrip(".")
    return _join(parent, entry.package.replace("_here_", "").strip("."))


def _join(package: str, key: str) -> str:
    return f"{package}.{key}" if package and key else package or key


def _arguments(args: Sequence[str], groups: set[str]) -> tuple[dict[str, str], dict[str, str], set[str]]:
    """Hydra's command-line overrides: group choices, values, and deleted keys."""
    choices: dict[str, str] = {}
    values: dict[str, str] = {}
    deleted: set[str] = set()
    for arg in args:
        if arg.startswith("-") or "=" not in arg and not arg.startswith("~"):
            continue
        key, _, value = arg.partition("=")
        if key.startswith("~"):
            deleted.add(key[1:])
            continue
        key = key.lstrip("+")
        if key.startswith("hydra.") or key.startswith("hydra/"):
            continue
        if key in groups:
            choices[key] = value
        else:
            values[key] = value
    return choices, values, deleted


def compose(folder: Path | None, config_path: str, config_name: str, args: Sequence[str] = (),
            texts: Mapping[str, str] | None = None) -> Composition:
    """The composition of ``config_name`` in ``config_path`` (relative to ``folder``, the script's),
    reading each file from ``texts`` (a version's config files by name) or else from disk (none:
    ``folder`` None)."""
    config_dir = posixpath.normpath(config_path.replace("\\", "/")) if config_path else "."
    if config_path.startswith("pkg://") or posixpath.isabs(config_dir):
        raise ConfigError(f"config_path {config_path!r} is outside the script's folder; arrl reads a config folder "
                          "next to the script")

    def text_of(file: str) -> str:
        if texts is not None and file in texts:
            return texts[file]
        if folder is None:
            raise FileNotFoundError(2, "not among the version's config files")
        return (folder / file).read_text(encoding="utf-8")

    known = tuple(texts or ())
    probe = _Composer(folder, config_dir, text_of, known, {})
    on_disk = folder / config_dir if folder is not None else None
    group_names = {p.relative_to(on_disk).as_posix() for p in on_disk.rglob("*")
                   if p.is_dir()} if on_disk is not None and on_disk.is_dir() else set()
    group_names |= {posixpath.relpath(posixpath.dirname(n), config_dir) for n in known
                    if posixpath.dirname(n) != config_dir and not posixpath.relpath(n, config_dir).startswith("..")}
    choices, values, deleted = _arguments(args, group_names)
    primary = probe.load(probe.file("", config_name.removesuffix(".yaml")))
    for entry in _defaults(primary):
        if entry.override and entry.option is not None and not entry.group.startswith("hydra"):
            choices.setdefault(entry.group, entry.option)
    # An ``override`` in any config composed (an experiment chosen on the command line) changes a
    # choice made elsewhere: compose again with it until no new one turns up.
    for _ in range(8):
        composer = _Composer(folder, config_dir, text_of, known, dict(choices), documents=probe.documents)
        composer.compose("", config_name.removesuffix(".yaml"), "", primary=True)
        new = {g: o for g, o in composer.overrides.items() if g not in choices}
        if not new:
            break
        choices.update(new)
    composer.read_options()
    for key in deleted:
        composer.values.pop(key, None)
    for key, text in values.items():
        if key in composer.values:
            composer.replaced.append((composer.values.pop(key), f"replaced by {key}={text} in the args setting"))
    return Composition(primary.file, composer.values, tuple(composer.replaced), composer.groups,
                       composer.documents, values)
