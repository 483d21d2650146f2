"""Objects the script did not create are not changed: assigning or deleting attributes of
modules, library classes and functions, ``type(x)`` or builtins, changing their items, calling
their mutating methods (``sys.path.append``) or passing them to a function that assigns
attributes of its arguments is refused; the script's own objects are its business, and
documented settings (``torch.backends.cudnn.benchmark``) are set like any script sets them."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from typing import TYPE_CHECKING

from arrl.records import ValidationIssue

from ..tables import COMMAND_SETTINGS, MUTATING_METHODS, SETTING_PREFIXES, SETTINGS, escape

if TYPE_CHECKING:
    from ..judging import Judging, Visit


def store(judging: Judging, target: ast.expr, attribute: str, line: int) -> Iterator[ValidationIssue]:
    """``target.attribute = ...`` (or del): only the script's own objects and settings."""
    if isinstance(target, ast.Call) and judging.scope.is_builtin(target.func, "type"):
        yield ValidationIssue(f"assigns type(...).{attribute}: a class the script did not create may "
                              "not be patched", line)
        return
    owners = judging.readings(target)
    if not owners:
        if judging.scope.holds(target):
            yield ValidationIssue(f"assigns .{attribute} of a library object kept in a variable or container "
                                  "(or a type(...)): only the script's own objects may be changed", line)
        return  # the script's own object
    for reading in owners:
        ref, spellings, resolution = reading.ref, reading.spellings, reading.resolution
        written = f"{ref.dotted}.{attribute}" if ref.module != "builtins" else f"{'.'.join(ref.attrs)}.{attribute}"
        targets = {f"{s}.{attribute}" for s in spellings}
        if ref.root in judging.frozen_modules or ref.dotted.split(".")[0] in judging.frozen_names:
            yield ValidationIssue(f"patches {written}, which belongs to frozen evaluation code", line)
            return
        if targets & SETTINGS or any(t.startswith(SETTING_PREFIXES) and t.count(".") == p.count(".")
                                     for t in targets for p in SETTING_PREFIXES):
            continue
        # A nested group of settings (``torch._inductor.config.triton.cudagraphs``): a config
        # value, never a module, class or function the config module imported.
        nested = resolution is not None and resolution.final is not None and resolution.final.kind == "value" \
            and not any(part in COMMAND_SETTINGS for part in attribute.lower().split("_"))
        if nested and any(t.startswith(p) and t.count(".") == p.count(".") + 1
                          for t in targets for p in SETTING_PREFIXES):
            continue
        yield ValidationIssue(f"assigns {written}: attributes of modules, library classes and functions "
                              "may not be replaced (only the script's own objects and documented settings)",
                              line)
        return


def attribute_stored(judging: Judging, visit: Visit) -> Iterator[ValidationIssue]:
    node = visit.node
    assert isinstance(node, ast.Attribute)
    if isinstance(node.ctx, (ast.Store, ast.Del)):
        yield from store(judging, node.value, node.attr, node.lineno)


def item_stored(judging: Judging, visit: Visit) -> Iterator[ValidationIssue]:
    node = visit.node
    assert isinstance(node, ast.Subscript)
    owners = judging.dotted(node.value)
    # os.environ's items are the environment check's.
    if owners and "os.environ" not in owners and isinstance(node.ctx, (ast.Store, ast.Del)):
        yield ValidationIssue(f"changes an item of {sorted(owners)[0]}, which the script did not create",
                              node.lineno)


def changing_call(judging: Judging, visit: Visit) -> Iterator[ValidationIssue]:
    """A mutating method of a library object, a function of the script that assigns attributes of
    its arguments given a library object, and ``setattr``/``delattr`` with a constant name."""
    node = visit.node
    assert isinstance(node, ast.Call)
    callee = node.func
    if isinstance(callee, ast.Attribute) and callee.attr in MUTATING_METHODS:
        owners = judging.dotted(callee.value)
        environment = "os.environ" in owners and callee.attr == "setdefault" and node.args  # the environment's
        if owners and not environment:
            yield ValidationIssue(f"calls {sorted(owners)[0]}.{callee.attr}(), which changes an object the "
                                  "script did not create", node.lineno)
    if isinstance(callee, ast.Name) and callee.id in judging.scope.patchers and \
            any(judging.scope.holds(a) for a in [*node.args, *(k.value for k in node.keywords)]):
        yield ValidationIssue(f"passes a library object to {callee.id}(), which assigns attributes of its "
                              "arguments", node.lineno)
    found = judging.attribute_call(node)
    if found is not None and found[1] is not None and found[0] in ("setattr", "delattr") and not escape(found[1]):
        yield from store(judging, node.args[0], found[1], node.lineno)
