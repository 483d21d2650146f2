"""Resolve the names of one proposal, knowing which modules belong to the workspace.

Library names go to the :class:`~arrl.plugins.validator.name_resolver.NameResolver` (a separate
interpreter that imports libraries, never the workspace's own modules). A name reached through a
module of the workspace (``helpers.subprocess``) is followed by parsing that module's source,
which is trusted and never run: ``helpers.subprocess`` is judged as ``subprocess``.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path

from .name_resolver import NameResolver, Resolution, ResolutionError
from .script_scope import Ref, Scope


class WorkspaceResolver:
    """Resolves Refs for one validation, knowing which modules belong to the workspace."""

    def __init__(self, names: NameResolver, workspace_modules: set[str], baseline_imports: set[str],
                 workspace_unknown: bool, workspace: Path | None = None) -> None:
        self.names = names
        self.workspace = workspace
        self.sources: dict[str, Scope | None] = {}
        self.workspace_unknown = workspace_unknown
        self.workspace_modules = workspace_modules
        self.baseline_imports = baseline_imports
        self.identities: dict[str, dict[str, str]] = {}

    def is_workspace(self, ref: Ref) -> bool:
        return ref.root in self.workspace_modules or ref.module.startswith(".")

    def _module_scope(self, module: str) -> Scope | None:
        """What the names of a workspace module stand for, read from its source (trusted, never run)."""
        if module not in self.sources:
            self.sources[module] = None
            if self.workspace is not None:
                base = self.workspace.joinpath(*module.split("."))
                for path in (base.with_suffix(".py"), base / "__init__.py"):
                    try:
                        self.sources[module] = Scope(ast.parse(path.read_text(encoding="utf-8")))
                        break
                    except (OSError, SyntaxError, ValueError, UnicodeError):
                        continue
        return self.sources[module]

    def through_workspace(self, ref: Ref, depth: int = 0) -> Ref | str | None:
        """What ``ref`` on a workspace module reaches: an object the module imported (``helpers.subprocess``
        -> ``subprocess``), None for the module's own objects, or why it cannot be told."""
        if ref.module.startswith(".") or depth > 8:
            return None
        parts = (*ref.module.split("."), *ref.attrs)
        for cut in range(len(parts) - 1, 0, -1):  # the longest prefix that is a file of the workspace
            module = ".".join(parts[:cut])
            scope = self._module_scope(module)
            if scope is None:
                continue
            name, rest = parts[cut], parts[cut + 1:]
            refs = scope.refs.get(name, set())
            if not refs:
                if any(r.attrs == ("*",) for rs in scope.refs.values() for r in rs):
                    return f"uses {ref.dotted}: {module} imports names with '*', so what it reaches cannot be told"
                if self.workspace is not None and (self.workspace.joinpath(*parts[:cut + 1]).with_suffix(".py")
                                                   .is_file() or self.workspace.joinpath(*parts[:cut + 1]).is_dir()):
                    continue  # a submodule of a workspace package: judged on its own
                return None  # defined by the module itself: trusted code
            target = sorted(refs, key=lambda r: r.dotted)[0] if len(refs) == 1 else None
            if target is None:
                return f"uses {ref.dotted}: {module}.{name} is bound to several objects"
            target = target.extend(*rest)
            if target.root in self.workspace_modules or target.module.startswith("."):
                return self.through_workspace(target, depth + 1) if not target.module.startswith(".") else None
            return target
        return None

    def resolve(self, ref: Ref) -> Resolution | str:
        """The resolution, or why there is none."""
        try:
            found = self.names.resolve(ref.module, ref.attrs)
        except ResolutionError as error:
            return f"cannot resolve {ref.dotted}: {error}"
        if found.error == "import":
            if self.workspace_unknown and ref.root in {m.split(".")[0] for m in self.baseline_imports}:
                return ""  # most likely a module of the workspace the baseline already uses: trusted code
            return f"imports {ref.module}, which is not an installed library ({found.detail})"
        if found.error == "attribute":
            return f"uses {ref.dotted}, which the installed {ref.root} does not have: it cannot be resolved"
        if found.error:
            return f"cannot resolve {ref.dotted}: {found.detail}"
        return found

    def known(self, table: Iterable[str], imported_roots: set[str]) -> dict[str, str]:
        """Every spelling of the table's entries: as written, and where each object is defined
        (``torch.load`` -> also ``torch.serialization.load``), for libraries the script can reach."""
        names: dict[str, str] = {}
        for entry in table:
            names[entry] = entry
            module, _, attr = entry.rpartition(".")
            if not module or module.split(".")[0] not in imported_roots:
                continue
            found = self.resolve(Ref(module, (attr,)))
            if isinstance(found, Resolution):
                for spelling in (found.path_name, found.definition):
                    if spelling:
                        names[spelling] = entry
        return names

