"""String dispatch (the style of the name dispatched on).

Reads ``if cfg.opt == "adam": ... elif cfg.opt in ("sgd", "nesterov"): ...`` and a table lookup
``ACTIVATIONS[cfg.act]`` over a module-level ``{"gelu": nn.GELU, ...}``: both say where a choice
is made (the literal ``cfg.opt`` is traced to) and which values the script can take (the strings
compared, the table's keys), each spelled as the script spells it. The strings say which field
it is (:data:`DISPATCH_VOCABULARY`).
"""

from __future__ import annotations

from collections.abc import Mapping

import libcst as cst

from .draft import Draft
from .findings import Findings
from .names import FIELD_FOR_ALIAS, normal_name
from .results import Site
from .syntax import dotted, string_value
from .tracing import Tracer

# Words that say which field a string dispatch chooses (``if cfg.opt == "adam": ...``).
DISPATCH_VOCABULARY: Mapping[str, frozenset[str]] = {
    "optimizer": frozenset({"adam", "adamw", "sgd", "lion", "rmsprop", "adagrad", "adafactor", "muon", "lamb",
                            "adamax", "nadam", "radam", "sophia"}),
    "activation": frozenset({"relu", "gelu", "silu", "tanh", "swish", "leaky_relu", "elu", "sigmoid", "mish",
                             "relu2", "relu_squared", "squared_relu", "selu", "softplus", "gelu_new"}),
    "scheduler": frozenset({"cosine", "linear", "constant", "warmup_cosine", "step", "exponential", "onecycle",
                            "one_cycle", "polynomial", "cosine_with_restarts", "constant_with_warmup", "wsd",
                            "plateau", "multistep"}),
}


def read_lookup(found: Findings, node: cst.Subscript) -> None:
    # ACTIVATIONS[cfg.act] over a table {"gelu": nn.GELU, ...}: a dispatch on cfg.act whose
    # choices are the table's keys, as `if cfg.act == "gelu"` would be.
    table = node.value.value if isinstance(node.value, cst.Name) else None
    if table not in found.string_tables or len(node.slice) != 1:
        return
    element = node.slice[0].slice
    subject = dotted(element.value) if isinstance(element, cst.Index) else ""
    if subject:
        found.comparisons += [(subject, key) for key in found.string_tables[table]]


def read_comparison(found: Findings, node: cst.Comparison) -> None:
    subject = dotted(node.left)
    for target in node.comparisons:
        if isinstance(target.operator, (cst.Equal, cst.In)) and subject:
            strings = [string_value(target.comparator)]
            if isinstance(target.comparator, (cst.Tuple, cst.List, cst.Set)):
                strings = [string_value(e.value) for e in target.comparator.elements]
            found.comparisons += [(subject, v) for v in strings if v]


def settle(draft: Draft, found: Findings, tracer: Tracer, settled: set[str]) -> dict[str, tuple[str, ...]]:
    """The fields a dispatch settles (added to ``settled``). Returns, per field, the values a
    dispatch whose subject arrl cannot trace allows: see :func:`allow_untraced`."""
    dispatched: dict[str, list[str]] = {}
    for subject, text in found.comparisons:
        dispatched.setdefault(subject, [])
        if text not in dispatched[subject]:
            dispatched[subject].append(text)
    # A dispatch whose subject arrl cannot trace (cfg = SimpleNamespace(**hparams)) still says
    # which values the field may take, once a name of the same spelling sets it (below).
    untraced: dict[str, tuple[str, ...]] = {}
    for subject, spelled in dispatched.items():
        words = [w.lower() for w in spelled]
        chosen = next((f for f, vocabulary in DISPATCH_VOCABULARY.items() if set(words) <= vocabulary), None)
        if chosen is None or chosen in settled:
            continue
        base, _, attr = subject.rpartition(".")
        target = tracer.attribute(base, attr) if base else tracer.traced(cst.Name(subject))
        if target is None and FIELD_FOR_ALIAS.get(normal_name(attr or subject)) == chosen:
            untraced[chosen] = tuple(words)
            draft.spelled_as.setdefault(chosen, dict(zip(words, spelled)))
        if target is None or not isinstance(target.value, str) or target.value.lower() not in words:
            continue
        draft.spelled_as[chosen] = dict(zip(words, spelled))
        draft.settle(chosen, target.value.lower(),
                     Site(chosen, target.value, target.line, target.style, target.path,
                          note=f"dispatched on {subject} (one of {', '.join(words)})"), [target.node])
        draft.choices[chosen] = tuple(words)
        settled.add(chosen)
    return untraced


def allow_untraced(draft: Draft, untraced: dict[str, tuple[str, ...]]) -> None:
    """An untraced dispatch's values are the choices of the field a name of the same spelling set."""
    for field, allowed in untraced.items():
        if field not in draft.choices and draft.values.get(field) in allowed:
            draft.choices[field] = allowed
