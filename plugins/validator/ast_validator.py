"""The AST validator: a proposal's new code must stay inside what training code needs.

Trust model: the user's baseline script is trusted; code a proposal adds or changes is not. A
statement of the proposal is trusted only if the baseline holds the same statement (compared as
syntax without positions, so moving or re-indenting it is fine); every other statement is
checked against (the checks named in brackets are :mod:`arrl.plugins.validator.registry`'s):

1. the source as the interpreter reads it: the proposal is decoded by its encoding declaration,
   and one that declares another encoding than the baseline (``# coding: raw_unicode_escape``,
   which turns a "comment" into code) is refused, as is a file the interpreter reads otherwise
   than its text [script-size, source-as-read];
2. an allow-list of syntax: no async code, no metaclasses, no dunder methods beyond the ones a
   model or dataset needs (``__init_subclass__`` and ``__torch_function__`` are hooks into code the
   script does not own), no dunder attributes in ``match`` class patterns either [syntax-allow-list,
   class-hooks];
3. resolution, not matching: every name and attribute chain is resolved to the object it denotes by
   importing the libraries the script imports, in a separate process of the experiment's
   interpreter (:mod:`arrl.plugins.validator.name_resolver`): ``torch.os.system`` is ``os.system``, ``t.load``
   after ``t = torch`` is ``torch.load``, ``from torch.serialization import load`` is ``torch.load``.
   A chain that does not resolve is refused, and so is a module used as a value. A chain through a
   workspace module is followed by parsing its source (never importing it) [names-resolve,
   modules-as-values];
4. deny-lists over the resolved objects: process, shell, network, native code, dynamic code and
   imports, lookups by string (``pydoc.locate``, ``attrgetter`` with dunders or computed paths),
   unsafe deserialisation, signal and resource-limit tampering, and file-system writes
   [denied-names, denied-objects, lookups-by-string, callables-taken-as-values, file-system-changes,
   files-opened-for-writing];
5. introspection escapes: dunder attributes (``__subclasses__``, ``__globals__``, ...) and the
   builtins behind them (``globals()``, ``vars()``, ``__builtins__``, ``getattr`` passed around)
   [introspection-escapes, stdlib-internals, denied-names];
6. objects the script did not create are not changed: assigning attributes of modules, library
   classes and functions, ``type(x)`` or builtins is refused (documented settings such as
   ``torch.backends.cudnn.benchmark`` excepted); the script's own objects are its business
   [library-objects-unchanged];
7. what new code reads: absolute paths outside the workspace and the data directories, relative
   paths that climb out of it, and network URLs (folded from constants, so ``'/et' + 'c/passwd'``
   counts; a string only compared, printed or left unused is text, not a path), and environment
   variables that may hold secrets (``os.path.expandvars`` included); strings that carry code
   (a dunder, ``!!python/`` tags, imports, names of forbidden objects) are refused wherever they are
   [paths-and-urls, environment, code-in-strings];
8. the domains of the values arrl reads, judged against the *baseline's* space (arrl.script.space):
   a value is refused only if it differs from the baseline's and lies outside the domain grown
   around it (``learning_rate = 1e10`` is refused; an untouched ``batch_size = 12`` never is)
   [value-domains];
9. frozen evaluation code: lines between ``# arrl: frozen`` and ``# arrl: end frozen`` must stay
   byte-identical, names they define or read (``evaluate``, ``print``, ``F``) may not be rebound,
   modules named in ``frozen_modules`` may not be patched, and with frozen code or a trusted
   ``evaluate`` command new code may not write to stdout, where metric lines are read, by any
   route it can be seen to take (``print(..., file=sys.stderr)`` is fine) [frozen-text,
   frozen-names, stdout-reserved].

Nothing here executes or imports the proposal. See docs/security.md for what this does not
stop and what the runners contain instead. This module holds the validator plugin: its options,
the order of the stages (source, program, statements) and its registration.
"""

from __future__ import annotations

import ast
import os
from collections.abc import Iterator
from pathlib import Path

import attrs

import arrl
from arrl.records import ValidationIssue, ValidationResult
from arrl.script.space import SpaceSettings

from . import registry
from .checker import Checker, run, untrusted
from .checks.environment import environment_names
from .checks.files import climbing_roots
from .checks.frozen import bound_names, read_names
from .checks.source import Program, Source, ValueDomains, declared_encoding, decode, frozen_regions
from .constant_folding import absolute_paths
from .judging import Judging, inline_attribute_names
from .name_resolver import NameResolver
from .script_scope import Scope
from .tables import ALWAYS_READABLE
from .workspace_resolver import WorkspaceResolver

__all__ = ["AstOptions", "AstValidator", "arrl_validators", "declared_encoding", "frozen_regions"]


@attrs.frozen
class AstOptions:
    max_bytes: int = attrs.field(default=1_000_000, validator=attrs.validators.ge(1))
    check_ranges: bool = True
    # Modules holding evaluation code (like autoresearch's prepare.py): new code may not patch them.
    frozen_modules: list[str] = attrs.Factory(list)
    # Absolute directories new code may read besides the workspace (datasets kept elsewhere).
    data_dirs: list[str] = attrs.Factory(list)
    # The interpreter the experiment runs with; names are resolved by importing libraries with it.
    # Empty: the one running arrl (what the subprocess and container runners use by default).
    python: str = ""
    # Seconds to wait for the resolver to import a library (torch takes seconds on a busy machine).
    resolve_timeout: float = attrs.field(default=180.0, validator=attrs.validators.gt(0))
    # New code may not write to stdout even without frozen regions (set when `evaluate` is used).
    reserve_stdout: bool = False


class AstValidator(arrl.Validator):
    """Judges a proposal in three stages, each by the table's checks: its source (size, encoding),
    the program (values, frozen text, the tree the interpreter reads), then every untrusted statement."""

    def __init__(self, options: AstOptions = AstOptions(), field_map: dict[str, str] | None = None,
                 space: SpaceSettings = SpaceSettings(), workspace: Path | None = None,
                 reserve_stdout: bool = False) -> None:
        self.options = options
        self.field_map = field_map or {}
        self.space = space
        self.workspace = workspace
        self.reserve_stdout = reserve_stdout or options.reserve_stdout
        self.names = NameResolver(options.python, options.resolve_timeout,
                                  (str(workspace),) if workspace is not None else ())
        self.domains = ValueDomains(self.field_map, space)

    def validate(self, proposed: str, baseline: str) -> ValidationResult:
        issues = list(self._check(proposed, baseline))
        return ValidationResult(tuple(attrs.evolve(i, validator="ast") for i in issues))

    def _check(self, proposed: str, baseline: str) -> Iterator[ValidationIssue]:
        # The table is read at each validation (a test leaves a check out to show what it stops).
        judges = registry.judges_at(registry.CHECKS)
        if (yield from run(judges[registry.Point.SOURCE], Source(proposed, baseline, self.options.max_bytes))):
            return
        decoded = yield from decode(proposed, baseline)
        if decoded is None:
            return
        raw = proposed.encode("utf-8", "surrogatepass")  # the bytes arrl writes to the workspace
        proposed, baseline = decoded
        try:
            tree = ast.parse(proposed)
        except SyntaxError as error:
            yield ValidationIssue(f"syntax error: {error.msg}", error.lineno)
            return
        except (ValueError, MemoryError, RecursionError) as error:
            yield ValidationIssue(f"cannot parse: {type(error).__name__}")
            return
        try:
            baseline_tree = ast.parse(baseline)
        except SyntaxError:
            baseline_tree = ast.Module(body=[], type_ignores=[])
        regions = frozen_regions(baseline)
        program = Program(proposed, baseline, raw, tree, regions, self.domains if self.options.check_ranges else None)
        if (yield from run(judges[registry.Point.PROGRAM], program)):
            return
        checker = Checker(self._judging(tree, baseline_tree, regions), judges)
        for statement in untrusted(tree, baseline_tree):
            yield from checker.statement(statement)

    def _judging(self, tree: ast.Module, baseline_tree: ast.Module, regions: list[tuple[int, int, str]]) -> Judging:
        for parsed in (tree, baseline_tree):
            inline_attribute_names(parsed)
        frozen_statements = [s for s in baseline_tree.body if any(a <= s.lineno <= b for a, b, _ in regions)]
        scope = Scope(tree)
        baseline_scope = Scope(baseline_tree)
        frozen_names = bound_names(frozen_statements)
        # Names the frozen code reads that stand for library objects or builtins; names it defines
        # itself are covered above, and module-level state such as `model` stays the proposal's.
        frozen_reads = read_names(frozen_statements, baseline_scope) - frozen_names if regions else set()
        resolver = WorkspaceResolver(self.names, self._workspace_modules(), baseline_scope.imported,
                                     self.workspace is None, self.workspace)
        return Judging(scope, baseline_scope, resolver, frozen_names, frozen_reads, set(self.options.frozen_modules),
                       bool(regions) or self.reserve_stdout, self._readable(baseline_tree),
                       environment_names(baseline_tree), tree, climbing_roots(baseline_tree))

    def _workspace_modules(self) -> set[str]:
        """Top-level names of the workspace's own modules: never imported to resolve names."""
        modules = set(self.options.frozen_modules)
        if self.workspace is not None and self.workspace.is_dir():
            for entry in self.workspace.iterdir():
                if entry.suffix == ".py":
                    modules.add(entry.stem)
                elif (entry / "__init__.py").is_file():
                    modules.add(entry.name)
        return modules

    def _readable(self, baseline_tree: ast.Module) -> list[str]:
        """Absolute directories new code may name: the workspace, the data directories, and
        those the trusted baseline names itself."""
        roots = [*ALWAYS_READABLE, *(os.path.normpath(d) for d in self.options.data_dirs)]
        if self.workspace is not None:
            roots.append(str(self.workspace.resolve()))
        for node in ast.walk(baseline_tree):
            if isinstance(node, ast.Constant):
                for path in absolute_paths(node.value):
                    roots.append(os.path.dirname(path) if os.path.splitext(path)[1] else path)
        return [r for r in roots if r not in ("/", "")]


@arrl.hookimpl
def arrl_validators():
    yield arrl.Registration(
        name="ast",
        summary="syntax, schema ranges, frozen code, and name-resolved checks of added code",
        factory=lambda options, context: AstValidator(
            options, context.field_map, context.space, (context.repo_root / context.script_path).parent,
            bool(context.evaluate)),
        options=AstOptions,
    )
