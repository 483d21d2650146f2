"""Arguments of well-known calls (style ``call``, or the style of what they name).

Reads the keyword (and the usual positional) arguments that carry a field:
``torch.optim.AdamW(params, lr=LR, weight_decay=0.1)``, ``nn.Dropout(p=0.1)``,
``clip_grad_norm_(params, 1.0)``, ``DataLoader(ds, batch_size=64)``, the transformer layers'
sizes, ``autocast(enabled=)`` (the table :data:`CALL_ARGUMENTS`). What is passed there is what the
code really uses, so it wins over a name that only says the field: a literal is read where it
stands, a name (``lr=LR``) is traced to the module-level assignment that sets it, a config
attribute (``nn.Dropout(H.p_drop)``) to the literal behind it, and a keyword of a config class's
construction (``GPTConfig(n_head=N_HEAD)``) counts too.

Also reads the literal keywords of configuration calls, named ``TrainingArguments(lr=)``:
``TrainingArguments(learning_rate=2e-5)``, ``L.Trainer(precision="bf16-mixed")``, any
``SomethingConfig(...)``, and a model or data module of the script's own built outside a class
(``LitModel(lr=3e-4)``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import libcst as cst

from .classes import CONFIG_CLASS, constructions
from .code import OPTIMIZER_CLASSES
from .draft import Draft, normalise
from .findings import Assignment, CallSite, Findings
from .names import FIELD_FOR_ALIAS, is_evaluation_name, normal_name
from .results import Site
from .scope import Scope
from .syntax import literal
from .tracing import Tracer

# Calls whose arguments carry schema values: callee name -> {keyword: field} and
# {positional index: field}. Matched on the last part of the callee (``torch.optim.AdamW``).
CALL_ARGUMENTS: Mapping[str, tuple[Mapping[str, str], Mapping[int, str]]] = {
    **{name: ({"lr": "learning_rate", "weight_decay": "weight_decay"}, {1: "learning_rate"})
       for name in OPTIMIZER_CLASSES},
    "Dropout": ({"p": "dropout_rate"}, {0: "dropout_rate"}),
    "Dropout1d": ({"p": "dropout_rate"}, {0: "dropout_rate"}),
    "Dropout2d": ({"p": "dropout_rate"}, {0: "dropout_rate"}),
    "clip_grad_norm_": ({"max_norm": "gradient_clip"}, {1: "gradient_clip"}),
    "DataLoader": ({"batch_size": "batch_size"}, {1: "batch_size"}),
    "TransformerEncoderLayer": (
        {"d_model": "hidden_dim", "nhead": "attention_heads", "dropout": "dropout_rate",
         "activation": "activation"}, {0: "hidden_dim", 1: "attention_heads"}),
    "TransformerDecoderLayer": (
        {"d_model": "hidden_dim", "nhead": "attention_heads", "dropout": "dropout_rate",
         "activation": "activation"}, {0: "hidden_dim", 1: "attention_heads"}),
    "TransformerEncoder": ({"num_layers": "num_layers"}, {1: "num_layers"}),
    "TransformerDecoder": ({"num_layers": "num_layers"}, {1: "num_layers"}),
    "MultiheadAttention": ({"embed_dim": "hidden_dim", "num_heads": "attention_heads",
                            "dropout": "dropout_rate"}, {0: "hidden_dim", 1: "attention_heads"}),
    "autocast": ({"enabled": "mixed_precision"}, {}),
    "GradScaler": ({"enabled": "mixed_precision"}, {}),
}
# Transformer layers take only these activation names as strings.
STRING_ACTIVATIONS_OF = {"TransformerEncoderLayer": ("relu", "gelu"),
                         "TransformerDecoderLayer": ("relu", "gelu")}
# Calls whose keywords are a run's settings although their names do not say "config".
_CONFIG_CALLS = frozenset({"Trainer", "TrainingArguments", "Seq2SeqTrainingArguments"})


def read_configuration_call(found: Findings, scope: Scope, short: str,
                            passed: dict[str, cst.BaseExpression]) -> None:
    """The literal keywords of a configuration call, or of a model built outside any class."""
    # LitModel(lr=3e-4), MNISTDataModule(batch_size=32): a model or data module of the script's
    # own, built outside any class (not a layer inside a model), takes its settings as keywords.
    built_here = short in scope.model_classes and not scope.classes
    if short in _CONFIG_CALLS or (short[:1].isupper() and CONFIG_CLASS.search(short)) or built_here:
        # TrainingArguments(learning_rate=2e-5, ...), L.Trainer(precision="bf16-mixed", ...):
        # literal keywords of a configuration call are settings like any other.
        for keyword, value in passed.items():
            found.add(f"{short}({keyword}=)", keyword, value, "call")


def read_arguments(found: Findings, node: cst.Call, short: str, ignored: frozenset[str]) -> None:
    """The arguments of a well-known call that carry a field (none of the ``ignored``)."""
    table = CALL_ARGUMENTS.get(short)
    if table is None:
        return
    keywords, positions = table
    index = 0
    for arg in node.args:
        if arg.star:
            break
        if arg.keyword is None:
            field = positions.get(index)
            index += 1
            label = f"{short}(#{index})"
        else:
            field = keywords.get(arg.keyword.value)
            label = f"{short}({arg.keyword.value}=)"
        if field is None or field in ignored:
            continue
        _read_argument(found, field, arg.value, label, short)


def _read_argument(found: Findings, field: str, value: cst.BaseExpression, label: str, callee: str) -> None:
    value_literal = literal(found.module, value)
    if value_literal is not None and not (isinstance(value, cst.Name) and value.value not in ("True", "False", "None")):
        site = CallSite(field, value, value_literal, found.line_of(value), label, found.next_order())
    elif isinstance(value, cst.Name) and value.value in found.module_literals:
        # A name: the last module-level assignment before this call sets it.
        target = found.module_literals[value.value]
        site = CallSite(field, target.node, target.value, target.line, target.path, found.next_order(),
                        "constant", f"passed to {label}")
    elif isinstance(value, cst.Attribute) and isinstance(value.value, cst.Name):
        # A config attribute (H.p_drop, args.clip): resolved once every class is known.
        found.attribute_uses.append((field, value.value.value, value.attr.value, label, found.next_order()))
        return
    else:
        return
    if field == "activation":
        found.string_kwargs.append((site, callee))
    else:
        found.calls.append(site)


def _traced_sites(found: Findings, tracer: Tracer, position: Callable[[cst.CSTNode], int]) -> list[CallSite]:
    """The call sites known once every literal is: config attributes passed to well-known calls,
    and keywords of config classes' constructions."""
    sites: list[CallSite] = []
    for field, base, attr, label, order in found.attribute_uses:
        target = tracer.attribute(base, attr)
        if target is not None and field != "activation" and not is_evaluation_name(attr):
            sites.append(CallSite(field, target.node, target.value, target.line or position(target.node),
                                  target.path or f"{base}.{attr}", order, target.style,
                                  f"{base}.{attr} passed to {label}"))
    for short, keywords, _star, line in constructions(found):
        for keyword, node in keywords.items():
            aliased = FIELD_FOR_ALIAS.get(normal_name(keyword))
            target = tracer.traced(node)
            if aliased is not None and target is not None:
                sites.append(CallSite(aliased, target.node, target.value, target.line or line,
                                      target.path or f"{short}({keyword}=)", target.order or line,
                                      target.style, f"passed to {short}({keyword}=)"))
    return sites


def settle(draft: Draft, found: Findings, tracer: Tracer, position: Callable[[cst.CSTNode], int]) -> set[str]:
    """The fields well-known calls set, unless mapped already; returns every field they name."""
    by_field: dict[str, list[CallSite]] = {}
    for call in [*found.calls, *_traced_sites(found, tracer, position)]:
        if call.style == "constant" and is_evaluation_name(call.path):
            continue  # EVAL_BATCH_SIZE passed to a DataLoader is evaluation, not training
        by_field.setdefault(call.field, []).append(call)
    for site, callee in found.string_kwargs:
        if isinstance(site.value, str) and site.value.lower() in STRING_ACTIVATIONS_OF.get(callee, ()):
            by_field.setdefault("activation", []).append(site)
            draft.choices["activation"] = STRING_ACTIVATIONS_OF[callee]
    for field, sites in by_field.items():
        if field in draft.values:
            continue
        if field in SEPARATE_SITES:
            sites = _separate(draft, found, sites)
        nodes = list({id(c.node): c.node for c in sites}.values())
        latest = max(sites, key=lambda c: c.order)
        earliest = min(sites, key=lambda c: c.line)
        distinct = {repr(c.value) for c in sites}
        note = earliest.note if len(distinct) == 1 else f"set differently in {len(nodes)} places; an edit sets them all"
        value = normalise(field, latest.value)
        draft.settle(field, value, Site(field, value, earliest.line, earliest.style, earliest.path, note=note), nodes)
    return set(by_field)


# Fields each of whose call sites is its own layer's setting (a dropout after the convolutions,
# another before the head): the first written is the field, every other a knob of its own, never
# moved along with it. One literal passed to several calls (nn.Dropout(P) twice) stays one knob.
SEPARATE_SITES = frozenset({"dropout_rate"})


def _separate(draft: Draft, found: Findings, sites: list[CallSite]) -> list[CallSite]:
    """The sites of the first literal written; each other literal becomes a knob of its own,
    named by its call and line (``Dropout2d(#1)@31``)."""
    first = min(sites, key=lambda c: c.line).node
    for call in sorted(sites, key=lambda c: c.line):
        name = f"{call.path}@{call.line}"
        if call.node is not first and name not in draft.own_knobs and isinstance(call.value, (int, float)):
            found.assignments.append(Assignment(name, "", call.value, call.node, call.line, "call", call.order))
            draft.own_knobs.append(name)
    return [c for c in sites if c.node is first]
