"""What a value passed somewhere stands for: a literal itself, the module-level constant a name
refers to, or the literal behind a config attribute (``H.p_drop``: a keyword of ``H``'s
construction, a config-class default, an argparse default). Only literals still live count:
one replaced before use (:mod:`.extraction`'s first rule) is not what the code runs with."""

from __future__ import annotations

import attrs
import libcst as cst

from .findings import Assignment
from .names import last_name, normal_name
from .syntax import dotted, literal


@attrs.frozen
class Tracer:
    """Follows names and config attributes to the live literals they stand for."""

    module: cst.Module
    instances: dict[str, cst.Call]  # module-level instances by name (H = HParams())
    live: list[Assignment]  # the literals not replaced before use

    def traced(self, node: cst.BaseExpression) -> Assignment | None:
        """The live literal a value node stands for: itself, or the constant a name refers to."""
        if isinstance(node, cst.Name) and node.value not in ("True", "False", "None"):
            found = [c for c in self.live if c.style == "constant" and c.path == node.value]
            return max(found, key=lambda c: c.order) if found else None
        value = literal(self.module, node)
        if value is None:
            return None
        return Assignment("", "", value, node, 0, "call", 0)

    def attribute(self, base: str, attr: str) -> Assignment | None:
        """The live literal behind ``base.attr``: a keyword of the instance's construction, a
        config-class default, or an argparse default."""
        built = self.instances.get(base)
        cls = None
        if built is not None:
            for arg in built.args:
                if arg.keyword is not None and arg.keyword.value == attr:
                    return self.traced(arg.value)
            cls = dotted(built.func).split(".")[-1]
        found = [c for c in self.live if c.style == "class" and c.path.split(".", 1)[-1] == attr
                 and (c.aliasable if cls is None else c.path.split(".")[0] == cls)]
        if cls is None:
            found += [c for c in self.live if c.style == "argparse" and normal_name(last_name(c.path)) == attr.lower()]
        paths = {c.path for c in found}
        return max(found, key=lambda c: c.order) if len(paths) == 1 else None
