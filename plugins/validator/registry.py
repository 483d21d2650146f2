"""The validator's checks, in one table: what each stops, why training code does not need what it
refuses, the functions that implement it, and the tests that show it.

Every statement of a proposal the baseline does not hold is walked node by node
(:mod:`arrl.plugins.validator.checker`); at each point of the walk the checks registered for
that point judge it, in the order of this table. A check's judges are its functions, each tied
to one point (:class:`Point`). The functions live in ``checks/``, one module per threat (deny-lists,
escapes, resolution, objects, files, environment, dynamic code, frozen code and stdout, syntax, the
source); the table's order is the order in which a node's checks speak, so a proposal's messages
keep one order. Disabling a check (leaving it out of ``CHECKS``) makes at least one of its named
tests fail: ``tests/test_validator_checks.py`` shows it for every check.

=========================== =====================================================================
check                       the threat it stops
=========================== =====================================================================
script-size                 a proposal too large to judge in time
source-as-read              code the interpreter runs but the validator never read (a codec, bytes
                            its tokenizer reads otherwise)
value-domains               values arrl reads far outside the baseline's domain
frozen-text                 changed or added frozen evaluation code
syntax-allow-list           syntax training code never needs (async code)
introspection-escapes       dunder and frame attributes that reach every module's globals
names-resolve               names, callees and imports the validator cannot resolve
frozen-names                rebinding what the frozen evaluation code calls
denied-names                process, shell, network, native code, dynamic code, deserialisation,
                            signals, file-system changes and secrets, as written
stdlib-internals            private names of the standard library (``collections._sys``)
callables-taken-as-values   open, getattr, print or expandvars called where their arguments
                            cannot be seen
denied-objects              the same deny-lists, judged by what a name resolves to
modules-as-values           a module passed around, its attributes then reached unseen
library-objects-unchanged   patching modules, library classes and functions, builtins
class-hooks                 code run where the script never calls it (metaclasses, hooks)
file-system-changes         files deleted, renamed or written by a method
environment                 secrets read from, and libraries steered by, the environment
lookups-by-string           attributes looked up, or annotations evaluated, by a string
files-opened-for-writing    files opened for writing, and file descriptors (stdout)
stdout-reserved             fake metric lines written to stdout
code-in-strings             strings that carry code a library could evaluate
paths-and-urls              reading outside the workspace and data directories, the network
=========================== =====================================================================
"""

from __future__ import annotations

import enum
import functools
from collections.abc import Callable, Iterator

import attrs

from arrl.records import ValidationIssue

from .checks import callables, denied, dynamic, environment, escapes, files, frozen, objects, resolution, source, syntax


class Point(enum.Enum):
    """Where in the walk a judge is asked, and what it is given."""

    SOURCE = "the proposal's text, before it is parsed: (Source)"
    PROGRAM = "the parsed proposal as a whole: (Program)"
    NODE = "every node of an untrusted statement: (Judging, Visit)"
    IMPORT = "an import statement: (Judging, Visit)"
    IMPORTED = "each name an import binds; its first refusal ends it: (Judging, Visit, Ref)"
    BOUND = "an import statement, after its names are judged: (Judging, Visit)"
    NAME = "a name: (Judging, Visit)"
    ATTRIBUTE = "an attribute: (Judging, Visit)"
    READ = "each library object a name or attribute chain read may denote; the first refusal ends the node: " \
           "(Judging, Visit, Reading)"
    SUBSCRIPT = "a subscript: (Judging, Visit)"
    CALL = "a call: (Judging, Visit)"
    FUNCTION = "a function definition: (Judging, Visit)"
    CLASS = "a class definition: (Judging, Visit)"
    PATTERN = "a match class pattern: (Judging, Visit)"
    DECLARATION = "a global or nonlocal declaration: (Judging, Visit)"
    VALUE = "a constant, or an expression that may build a string: (Judging, Visit)"


@attrs.frozen
class Judge:
    """One function of a check, asked at one point of the walk."""

    point: Point
    function: Callable[..., Iterator[ValidationIssue]]
    # A node (or proposal) this judge refuses is judged no further.
    final: bool = False


@attrs.frozen
class Check:
    name: str
    threat: str  # what it stops
    reason: str  # why training code does not need what it refuses
    judges: tuple[Judge, ...]
    # pytest node ids of tests that fail without this check.
    tests: tuple[str, ...]


V = "tests/test_validator.py::"
HOSTILE = V + "test_hostile_edit_is_rejected_with_a_line"
C = "tests/test_validator_checks.py::"


def hostile(*cases: str) -> tuple[str, ...]:
    """Cases of tests/test_validator.py's hostile corpus, by their ids ("shell-0")."""
    return tuple(f"{HOSTILE}[{case}]" for case in cases)


CHECKS: tuple[Check, ...] = (
    Check("script-size", "a proposal too large to judge in time",
          "a training script is a few thousand lines; the limit is an option (max_bytes)",
          (Judge(Point.SOURCE, source.script_size, final=True),),
          (C + "test_a_script_over_the_size_limit_is_refused",)),
    Check("source-as-read", "code the interpreter runs but the validator never read: an encoding declaration "
          "unlike the baseline's (raw_unicode_escape, utf-7 turn a comment into code), or bytes the "
          "interpreter's tokenizer reads into another tree than the text the validator parsed",
          "a proposal has no reason to change how its file is decoded",
          (Judge(Point.SOURCE, source.same_encoding, final=True),
           Judge(Point.PROGRAM, source.read_as_written, final=True)),
          (*hostile("source encoding-3"),
           "tests/test_safety_properties.py::test_a_different_encoding_declaration_is_always_rejected")),
    Check("value-domains", "values arrl reads set far outside the domain grown around the baseline's "
          "(learning_rate = 1e10)", "the search moves values within their domains; an untouched value is never judged",
          (Judge(Point.PROGRAM, source.value_domains),),
          (V + "test_out_of_range_value_is_rejected_naming_field_and_bound",)),
    Check("frozen-text", "changed or added frozen evaluation code (between '# arrl: frozen' and "
          "'# arrl: end frozen')", "the evaluation is the user's, not the search's",
          (Judge(Point.PROGRAM, source.frozen_text),),
          hostile("frozen evaluation code-0")),
    Check("syntax-allow-list", "syntax training code never needs (async code)",
          "a training script's statements and expressions are on the list; async code runs where the "
          "script cannot be followed",
          (Judge(Point.NODE, syntax.allowed_syntax, final=True),),
          (C + "test_async_code_is_refused",)),
    Check("introspection-escapes", "dunder and frame attributes (__subclasses__, __globals__, gi_frame.f_globals) "
          "that lead from any object to every module's globals and builtins",
          "a model or dataset needs only a few dunders (__init__, __name__, __call__, ...)",
          (Judge(Point.IMPORTED, escapes.escaping_import),
           Judge(Point.PATTERN, escapes.escaping_pattern),
           Judge(Point.DECLARATION, escapes.escaping_declaration),
           Judge(Point.ATTRIBUTE, escapes.escaping_attribute, final=True),
           Judge(Point.NAME, escapes.escaping_name, final=True),
           Judge(Point.CALL, escapes.escaping_call)),
          hostile("introspection escapes-0", "introspection escapes-5", "introspection escapes-13")),
    Check("names-resolve", "names, imports and callees whose object cannot be told (not installed, a missing "
          "member, a relative import, a computed callee), judged by a guess",
          "training code imports installed libraries and calls what it names",
          (Judge(Point.IMPORT, resolution.relative_import, final=True),
           Judge(Point.IMPORTED, resolution.imported_resolves),
           Judge(Point.READ, resolution.read_resolves),
           Judge(Point.CALL, resolution.callee_resolves)),
          hostile("unresolvable names-0", "unresolvable names-1", "introspection escapes-7")),
    Check("frozen-names", "rebinding a name the frozen evaluation code defines or calls (evaluate, print, F)",
          "new code has names of its own",
          (Judge(Point.BOUND, frozen.rebound_by_import),
           Judge(Point.NAME, frozen.rebound_name),
           Judge(Point.FUNCTION, frozen.redefined),
           Judge(Point.CLASS, frozen.redefined)),
          hostile("frozen evaluation code-1", "frozen evaluation code-6", "stdout through other routes-9")),
    Check("denied-names", "process spawning, shell, network, native code, dynamic code and imports, unsafe "
          "deserialisation, signal and resource-limit tampering, file-system changes, secrets: "
          "refused as written (import subprocess, os.system, eval), never imported to learn more",
          "training code computes on tensors and reads its data; the members of these modules it uses "
          "(os.environ.get, os.path, sys.argv, ...) are allowed (tables.ALLOWED_NAMES)",
          (Judge(Point.IMPORTED, denied.denied_import),
           Judge(Point.NAME, denied.denied_builtin, final=True),
           Judge(Point.READ, denied.denied_read)),
          hostile("process spawning-0", "shell-0", "dynamic code and imports-0")),
    Check("stdlib-internals", "private names of the standard library (collections._sys, warnings._setoption)",
          "training code uses the standard library's public names",
          (Judge(Point.READ, escapes.stdlib_internals),),
          hostile("introspection escapes-11")),
    Check("callables-taken-as-values", "open, getattr, print or os.path.expandvars taken as a value and called "
          "where their arguments (mode, name, file, variables) cannot be judged",
          "training code calls these directly; a plain alias (o = open) is fine",
          (Judge(Point.NAME, callables.builtin_taken),
           Judge(Point.READ, callables.library_function_taken)),
          hostile("file writes-7", "secret environment reads-13")),
    Check("denied-objects", "the deny-lists of denied-names, judged by the object a name resolves to "
          "(torch.os.system is os.system, t.load after t = torch is torch.load)",
          "as for denied-names; deserialisers in their safe form (torch.load(..., weights_only=True)) are fine",
          (Judge(Point.IMPORTED, denied.denied_imported_object),
           Judge(Point.READ, denied.denied_read_object),
           Judge(Point.CALL, denied.attribute_reaches)),
          hostile("modules reached through other modules-0", "names imported from submodules-0",
                  "unsafe deserialisation-0")),
    Check("modules-as-values", "a module passed around as a value, its attributes then reached unseen",
          "training code uses a module's attributes; a plain alias (t = torch) is followed",
          (Judge(Point.READ, resolution.module_as_value),),
          hostile("modules reached through other modules-11")),
    Check("library-objects-unchanged", "patching objects the script did not create: modules, library classes and "
          "functions, type(x), builtins (torch.Tensor.item = ..., sys.path.append)",
          "the script's own objects are its business; documented settings (torch.backends.cudnn.benchmark) "
          "are set like any script sets them",
          (Judge(Point.ATTRIBUTE, objects.attribute_stored),
           Judge(Point.SUBSCRIPT, objects.item_stored),
           Judge(Point.CALL, objects.changing_call)),
          hostile("patching library objects-0", "patching library objects-3")),
    Check("class-hooks", "code that runs where the script never calls it: special methods (__init_subclass__, "
          "__torch_function__, __reduce__), class keywords, metaclasses, type(name, bases, ns), and with stdout "
          "reserved subclasses of the value types the frozen code calls",
          "a model or dataset class needs __init__, __call__, __len__, __getitem__ and their kin",
          (Judge(Point.FUNCTION, syntax.special_method),
           Judge(Point.CLASS, syntax.class_hooks),
           Judge(Point.CALL, syntax.type_call)),
          hostile("class hooks-0", "class hooks-2")),
    Check("file-system-changes", "files deleted, renamed or written by a method (unlink, write_text, to_csv, tofile)",
          "results go to ARRL_OUTPUT_DIR through the frozen code or the runner; mkdir is fine, its path is judged",
          (Judge(Point.CALL, files.write_method),),
          hostile("file writes-2", "file writes-6")),
    Check("environment", "secrets read from the environment, the whole environment read, and variables set "
          "that steer libraries and child processes (LD_PRELOAD)",
          "training code reads ranks, thread counts and ARRL_* one at a time, and sets thread, device and "
          "allocator settings",
          (Judge(Point.SUBSCRIPT, environment.environment_item_used),
           Judge(Point.CALL, environment.environment_call),
           Judge(Point.READ, environment.whole_environment)),
          hostile("environment writes-0", "secret environment reads-0")),
    Check("lookups-by-string", "attributes looked up by a computed name (getattr(os, name)), attrgetter and its kin "
          "with dunder or computed paths, annotations evaluated as code (eval_str)",
          "training code names the attributes it uses; getattr(nn, 'GELU') with a constant is judged",
          (Judge(Point.CALL, dynamic.lookup_by_string),),
          hostile("lookups by string-2", "lookups by string-10")),
    Check("files-opened-for-writing", "files opened for writing and file descriptors (open(1, 'w') is stdout)",
          "as for file-system-changes; reading files is fine, their paths are judged",
          (Judge(Point.CALL, files.opened_for_writing),),
          hostile("file writes-5", "stdout through other routes-1")),
    Check("stdout-reserved", "fake metric lines: new code writing to stdout, where only the frozen evaluation code "
          "(or a trusted evaluate command) reports metrics",
          "new code may print to stderr (print(..., file=sys.stderr))",
          (Judge(Point.READ, frozen.stdout_read),
           Judge(Point.CALL, frozen.stdout_call)),
          (*hostile("frozen evaluation code-3"), V + "test_stdout_is_the_frozen_codes_alone")),
    Check("code-in-strings", "strings that carry code a library could evaluate: a dunder, a YAML python tag, an "
          "import, the name of a forbidden object (Timer(stmt=...), string annotations)",
          "training code's strings are names, paths and messages",
          (Judge(Point.VALUE, dynamic.code_in_string),),
          hostile("code in strings-1", "code in strings-8")),
    Check("paths-and-urls", "reading outside the workspace and the data directories (absolute paths, relative "
          "paths that climb out), and network URLs, judged by the folded value",
          "training code reads its workspace and its data directories (option data_dirs, and those the "
          "baseline names)",
          (Judge(Point.VALUE, files.paths_and_urls),),
          hostile("absolute paths-0", "network-7")),
)


@functools.lru_cache(maxsize=8)
def judges_at(checks: tuple[Check, ...]) -> dict[Point, tuple[Judge, ...]]:
    """Each point's judges, in the table's order."""
    found: dict[Point, list[Judge]] = {point: [] for point in Point}
    for check in checks:
        for judge in check.judges:
            found[judge.point].append(judge)
    return {point: tuple(judges) for point, judges in found.items()}
