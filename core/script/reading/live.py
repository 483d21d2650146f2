"""What the baseline run showed, joined to the source (:mod:`arrl.trace`): the rules that reading
alone cannot apply.

- **Inert code.** A literal is inert when the baseline shows its code had no effect: it lies in a
  function the coverage probe never saw called (a ``def SGD`` the script never uses), or in the
  statement that built an optimizer the baseline never stepped. Inert literals are taken out
  before the rules settle the fields, so nothing proposes them; ``arrl inspect`` shows them as
  inert, with the reason. A line the probe never ran is *not* enough: the branch of a dispatch
  the baseline did not take (``elif opt == "sgd":``) runs once the choice is switched.
- **The learning rate of the main group.** Where several optimizers (or parameter groups) get
  their own learning rates, the schema's ``learning_rate`` is the one of the stepped optimizer
  with the most parameters; an edit of it never rewrites another group's.
- **The batch, not the micro-batch.** Where the script accumulates gradients, the loader's batch
  is the micro-batch: ``batch_size`` is the literal that equals the micro-batch times the
  accumulation steps (in samples or tokens), and the micro-batch is a knob of its own.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterable
from typing import Any

import attrs
import libcst as cst

from arrl.trace import Facts

from .draft import Draft
from .findings import Assignment, Findings
from .names import FIELD_FOR_ALIAS, is_evaluation_name
from .results import Site


def inert_lines(tree: ast.Module, facts: Facts) -> dict[int, str]:
    """Line -> why the code there had no effect in the baseline (``tree``: the script, parsed)."""
    inert: dict[int, str] = {}
    if facts.covered and not facts.compiled:  # compiled code calls functions without their frames
        unseen = _called_unseen(tree, facts)
        for node, first in _functions(tree):
            if first not in facts.entered and node.name not in facts.called and node not in unseen:
                for line in range(first, (node.end_lineno or node.lineno) + 1):
                    inert.setdefault(line, f"in {node.name}(), which the baseline never called")
    stepped = {n for o in facts.optimizers if o.steps for line in o.lines for n in _statement_lines(tree, line)}
    for optimizer in facts.optimizers:
        # A step count is final only in a trace written at the script's end; a line that also
        # built a stepped optimizer (a factory both share) is live.
        if facts.complete and optimizer.steps == 0:
            for line in {n for at in optimizer.lines for n in _statement_lines(tree, at)} - stepped:
                inert.setdefault(line, f"builds a {optimizer.name} optimizer the baseline never stepped")
    return inert


def _functions(tree: ast.AST) -> Iterable[tuple[ast.FunctionDef | ast.AsyncFunctionDef, int]]:
    """Each function and the first line of its code object (its first decorator's, if any)."""
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield node, min([node.lineno, *(d.lineno for d in node.decorator_list)])


def _called_unseen(tree: ast.AST, facts: Facts) -> set[ast.AST]:
    """Functions that may run where the probe does not look: one passed as a value (a callback,
    a ``collate_fn``, a target of ``mp.spawn``), and, where a DataLoader has workers, every
    method (a dataset's ``__getitem__`` runs in the workers)."""
    functions = {node.name: node for node, _ in _functions(tree)}
    called = {id(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
    passed = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and n.id in functions and id(n) not in called
              and isinstance(n.ctx, ast.Load)}
    unseen: set[ast.AST] = {functions[name] for name in passed}
    if facts.workers:
        for cls in (n for n in ast.walk(tree) if isinstance(n, ast.ClassDef)):
            unseen.update(n for n in ast.walk(cls) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)))
    return unseen


def _simple_statements(tree: ast.AST) -> Iterable[ast.stmt]:
    compound = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.If, ast.For, ast.AsyncFor, ast.While,
                ast.With, ast.AsyncWith, ast.Try, ast.Match)
    return (n for n in ast.walk(tree) if isinstance(n, ast.stmt) and not isinstance(n, compound))


def _statement_lines(tree: ast.AST, line: int) -> range:
    """The lines of the smallest simple statement that holds ``line``."""
    holding = [s for s in _simple_statements(tree) if s.lineno <= line <= (s.end_lineno or s.lineno)]
    if not holding:
        return range(line, line + 1)
    statement = min(holding, key=lambda s: (s.end_lineno or s.lineno) - s.lineno)
    return range(statement.lineno, (statement.end_lineno or statement.lineno) + 1)


def setup_only(tree: ast.Module, facts: Facts) -> dict[int, str]:
    """Lines of the functions the probe saw run before training began and never after: there a
    functional activation (``torch.tanh(x @ w)``) shapes the data or a teacher, not the model."""
    if facts.training is None or not facts.covered or facts.compiled:
        return {}
    lines: dict[int, str] = {}
    for node, first in _functions(tree):
        if first in facts.entered and first not in facts.training:
            for line in range(first, (node.end_lineno or node.lineno) + 1):
                lines.setdefault(line, f"in {node.name}(), which ran only before training began "
                                       f"(it makes the data or the setup, never a training step)")
    return lines


def prune_setup_activations(found: Findings, setup: dict[int, str]) -> dict[str, Site]:
    """Functional activations in setup-only functions are the task's, never a knob."""
    shown: dict[str, Site] = {}
    kept = []
    for choice in found.code:
        callee = choice.path.rstrip("()").rsplit(".", 1)[-1]
        if choice.field == "activation" and choice.line in setup and callee[:1].islower():
            shown[f"{choice.path}@{choice.line}"] = Site(choice.field, choice.value, choice.line, "code", choice.path,
                                                         False, f"the task's: {setup[choice.line]}")
        else:
            kept.append(choice)
    found.code[:] = kept
    return shown


def prune(found: Findings, inert: dict[int, str]) -> dict[str, Site]:
    """Take the literals on inert lines out of what the rules see; returns them, as shown."""
    shown: dict[str, Site] = {}
    for assignment in found.assignments:
        if assignment.line in inert:
            shown.setdefault(assignment.path, Site("", assignment.value, assignment.line, assignment.style,
                                                   assignment.path, False, f"inert: {inert[assignment.line]}"))
    for call in found.calls:
        if call.line in inert:
            shown.setdefault(call.path, Site(call.field, call.value, call.line, call.style, call.path, False,
                                             f"inert: {inert[call.line]}"))
    for choice in found.code:
        if choice.line in inert:
            shown.setdefault(f"{choice.path}@{choice.line}", Site(choice.field, choice.value, choice.line, "code",
                                                                  choice.path, False, f"inert: {inert[choice.line]}"))
    found.assignments[:] = [a for a in found.assignments if a.line not in inert]
    found.calls[:] = [c for c in found.calls if c.line not in inert]
    found.code[:] = [c for c in found.code if c.line not in inert]
    found.string_kwargs[:] = [(c, s) for c, s in found.string_kwargs if c.line not in inert]
    found.instantiations[:] = [i for i in found.instantiations if i[3] not in inert]
    for name in [n for n, a in found.module_literals.items() if a.line in inert]:
        del found.module_literals[name]
    return shown


GROUP_FIELDS = {"learning_rate": "lr", "weight_decay": "weight_decay"}


def split_groups(found: Findings, facts: Facts, tree: ast.Module) -> list[str]:
    """Each other optimizer's lr and weight decay, written as a literal keyword of the call that
    built it, becomes a knob of its own named by the variable it is assigned to
    (``embed_optimizer(lr=)``): it feeds another group, not the schema's field. Returns the names."""
    main = facts.main
    if main is None or len(facts.optimizers) < 2:
        return []
    owners = [(o, {n for line in o.lines for n in _statement_lines(tree, line)}, _target(tree, o.lines))
              for o in facts.optimizers if o is not main]
    named: list[str] = []
    for call in list(found.calls):
        keyword = GROUP_FIELDS.get(call.field)
        owner = next((o for o in owners if call.line in o[1]), None)
        if keyword is None or owner is None or not call.path.endswith(f"({keyword}=)"):
            continue
        name = f"{owner[2] or owner[0].name}({keyword}=)"
        if name in named:  # two unnamed optimizers of one class: told apart by their line
            name = f"{name}@{call.line}"
        found.calls.remove(call)
        # No alias key: the reader must never take another group's rate for the schema's field.
        found.assignments.append(Assignment(name, "", call.value, call.node, call.line, "call", call.order))
        named.append(name)
    return named


def _target(tree: ast.AST, lines: tuple[int, ...]) -> str:
    """The name an optimizer is assigned to (``embed_optimizer = torch.optim.Adam(...)``)."""
    for line in lines:
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign) and node.lineno <= line <= (node.end_lineno or node.lineno) \
                    and len(node.targets) == 1 and isinstance(node.targets[0], (ast.Name, ast.Attribute)):
                return ast.unparse(node.targets[0])
    return ""


MAIN_OPTIMIZER_FIELDS = ("optimizer", "learning_rate", "weight_decay")


def settle_main_optimizer(draft: Draft, facts: Facts, tree: ast.Module, module: cst.Module,
                          span: Callable[[Any], range], mapped: Iterable[str] = ()) -> None:
    """The schema's optimizer, learning rate and weight decay are the main optimizer's: targets
    on the lines that built the other optimizers go (each is its own group's), and the main one's
    literal ``lr=`` is found where the reading missed it (an optimizer class of the script's own,
    as Muon's)."""
    main = facts.main
    if main is None or len(facts.optimizers) < 2:
        return
    lines_of = {id(o): {n for line in o.lines for n in _statement_lines(tree, line)} for o in facts.optimizers}
    mine = lines_of[id(main)]
    others = set().union(*(lines for key, lines in lines_of.items() if key != id(main)))
    for field in (f for f in MAIN_OPTIMIZER_FIELDS if f not in mapped):  # the user's mapping wins
        targets = draft.targets.get(field, [])
        kept = [t for t in targets if set(span(t)) & mine or not set(span(t)) & others]
        dropped = sorted({min(span(t)) for t in targets if t not in kept})
        if not kept and field == "learning_rate":
            literal = _keyword_literal(module, span, mine, "lr")
            if literal is not None:
                kept, value = [literal[0]], literal[1]
                line = min(span(literal[0]))
                draft.settle(field, value, Site(field, value, line, "call", f"{main.name}(lr=)"), kept)
        if not kept:
            if targets:
                draft.problems[field] = (f"the {field} the script writes (line {_lines(dropped)}) feeds smaller "
                                         f"parameter groups; the main one ({main.name}, {main.parameters} "
                                         f"parameters) has none arrl can edit")
                _unsettle(draft, field)
            continue
        separate = [n for n in draft.own_knobs if n.split("(")[-1].startswith(GROUP_FIELDS.get(field, "-"))]
        if dropped or separate:
            site = draft.sites[field]
            rest = (f"line {_lines(dropped)} feeds other groups and stays as it is" if dropped else
                    f"the other optimizers' are knobs of their own ({', '.join(separate)})")
            note = f"{main.name}'s, whose group has the most parameters ({main.parameters}); {rest}"
            draft.sites[field] = Site(site.field, site.value, min(span(kept[0])), site.style, site.path,
                                      site.editable, note)
            draft.targets[field] = kept


def _lines(numbers: list[int]) -> str:
    return ", ".join(map(str, numbers)) if len(numbers) < 2 else f"s {', '.join(map(str, numbers))}"


def _keyword_literal(module: cst.Module, span: Callable[[Any], range], lines: set[int],
                     keyword: str) -> tuple[cst.BaseExpression, float] | None:
    """The literal value of ``keyword=`` in a call written on ``lines``."""
    found: list[tuple[cst.BaseExpression, float]] = []

    class Visitor(cst.CSTVisitor):
        def visit_Arg(self, node: cst.Arg) -> None:
            if node.keyword is not None and node.keyword.value == keyword and set(span(node.value)) & lines:
                try:
                    value = ast.literal_eval(module.code_for_node(node.value))
                except (ValueError, SyntaxError):
                    return
                if isinstance(value, (int, float)) and not isinstance(value, bool):
                    found.append((node.value, float(value)))
    module.visit(Visitor())
    return found[0] if len(found) == 1 else None


def settle_batch(draft: Draft, live: list[Assignment], facts: Facts) -> None:
    """Where gradients accumulate, ``batch_size`` is the literal worth micro-batch x steps."""
    site = draft.sites.get("batch_size")
    if site is None or not facts.micro_batch or (facts.accumulation or 1) <= 1 or site.value != facts.micro_batch:
        return
    batch = facts.micro_batch * (facts.accumulation or 1)
    wanted = {batch, *((batch * facts.sequence,) if facts.sequence else ())}
    matches = [a for a in live if a.value in wanted and not isinstance(a.value, bool)
               and (FIELD_FOR_ALIAS.get(a.key) == "batch_size" or "batch" in a.key) and not is_evaluation_name(a.path)]
    why = (f"{site.path} = {site.value} is the micro-batch: the script accumulates {facts.accumulation} "
           f"backward passes per step, a batch of {batch}")
    if len({a.path for a in matches}) != 1:
        # Two backward passes per step need not be accumulation (two losses, retain_graph): without
        # one literal worth the batch, the reading stands, and says what the trace saw.
        draft.sites["batch_size"] = attrs.evolve(site, note=f"the trace saw {facts.accumulation} backward passes "
                                                            f"per step; if they accumulate, the batch is {batch}")
        return
    chosen = max(matches, key=lambda a: a.order)
    draft.own_knobs.append(site.path)
    draft.settle("batch_size", chosen.value, Site("batch_size", chosen.value, chosen.line, chosen.style, chosen.path,
                                                  note=f"{why}; the micro-batch is a knob of its own"), [chosen.node])


def _unsettle(draft: Draft, field: str) -> None:
    for table in (draft.values, draft.sites, draft.targets):
        table.pop(field, None)
