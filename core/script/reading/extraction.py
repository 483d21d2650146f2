"""The extraction: one walk gathers what every style reader finds (:mod:`.walk`), then rules in
order of precedence settle each field, a later rule never undoing an earlier one:

0. values replaced before use are shown, never proposed (:mod:`.classes`, :mod:`.override_files`,
   :mod:`.function_defaults` say which);
1. fields the user mapped by name (``[fields] learning_rate = "TrainConfig.base_lr"``);
2. arguments of well-known calls, what the code really uses (:mod:`.calls`);
3. string dispatch (:mod:`.dispatch`);
4. names and keys that match an alias, the last assignment winning (:mod:`.aliases`), and a field
   an override file sets (:mod:`.override_files`);
5. choices written as code (:mod:`.code`);

then every value is checked against the design document's domain, and the declared knobs are
found by the script's own name.
"""

from __future__ import annotations

import ast
import difflib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs
import libcst as cst
from libcst.metadata import MetadataWrapper, PositionProvider

from arrl.schema import FIELDS_BY_NAME, SchemaError
from arrl.script.configs import ConfigError, Scalar
from arrl.trace import Facts

from . import (
    aliases,
    calls,
    classes,
    code,
    command_line,
    config_files,
    dispatch,
    function_defaults,
    live,
    override_files,
)
from .draft import Draft, normalise
from .findings import Assignment, CodeChoice, Findings
from .names import last_name, normal_path
from .results import Extraction, Site
from .syntax import ScriptError, parse
from .tracing import Tracer
from .walk import Walk


@attrs.frozen
class Analysis:
    extraction: Extraction
    targets: dict[str, list[Any]]  # per field, the nodes (or code choices) an edit rewrites
    module: cst.Module  # the tree those nodes belong to
    optimizer_prefix: str | None  # how the script reaches torch.optim ("torch.optim.", "optim.")
    # How the script spells the values a string field may take ("ReLU" for relu), where it lists
    # them (argparse choices=, a dispatch, a table's keys): a switch writes that spelling.
    spellings: dict[str, dict[str, str]] = attrs.Factory(dict)
    # The config files read (arrl.script.configs), by name relative to the script's folder: an
    # edit of a value written there rewrites its characters in them.
    documents: dict[str, Any] = attrs.Factory(dict)


def analyse(source: str, filename: str, mapping: Mapping[str, str] | None, knobs: Sequence[str] = (),
            directory: Path | None = None, facts: Facts | None = None, args: Sequence[str] = (),
            files: Mapping[str, str] | None = None, baseline_files: Mapping[str, str] | None = None) -> Analysis:
    module = parse(source, filename)
    wrapper = MetadataWrapper(module, unsafe_skip_copy=True)
    walk = Walk(module)
    wrapper.visit(walk)
    found = walk.found
    # What the baseline showed had no effect is out before any rule sees it (.live); the join
    # reads statements and functions by line, from one parse.
    tree = ast.parse(source) if facts is not None else None
    inert: dict[str, Site] = {}
    groups: list[str] = []
    if facts is not None and tree is not None:
        inert = live.prune(found, live.inert_lines(tree, facts))
        inert.update(live.prune_setup_activations(found, live.setup_only(tree, facts)))
        groups = live.split_groups(found, facts, tree)
    try:  # after the join above, which reads the script's lines, not a config file's
        configs = config_files.read_configs(source, directory, args, files)
    except ConfigError as error:
        raise ScriptError(str(error)) from None
    if configs is not None:
        found.assignments.extend(configs.assignments)
    mapping = dict(mapping or {})
    unknown = sorted(set(mapping) - set(FIELDS_BY_NAME))
    if unknown:
        raise SchemaError(f"[fields] maps unknown field(s) {', '.join(unknown)}; fields are: {', '.join(FIELDS_BY_NAME)}")

    draft = Draft(own_knobs=groups)
    if configs is not None:
        draft.replaced.update(config_files.overriding(configs, found))
    live_literals = _replaced_before_use(draft, found, source, directory, args)
    if configs is not None:
        config_files.replaced(configs, draft)
    tracer = Tracer(module, found.instances, live_literals)
    _mapped(draft, found, mapping, filename)
    settled = set(mapping) | calls.settle(draft, found, tracer, lambda node: _position(wrapper, node))
    untraced = dispatch.settle(draft, found, tracer, settled)
    if configs is not None:
        config_files.settle_targets(draft, configs, settled)
    aliases.settle(draft, live_literals, found.argparse_choices, settled)
    dispatch.allow_untraced(draft, untraced)
    override_files.settle(draft, found)
    code.settle(draft, found, walk.scope)
    positions = wrapper.resolve(PositionProvider)

    def span(target: Any) -> range:
        if isinstance(target, Scalar):
            return range(0)  # a config file's, not a line of the script
        where = positions[target.node if isinstance(target, (CodeChoice, aliases.Mapped)) else target]
        return range(where.start.line, where.end.line + 1)

    if facts is not None and tree is not None:
        live.settle_main_optimizer(draft, facts, tree, module, span, mapping)
    if facts is not None and "batch_size" not in mapping:
        live.settle_batch(draft, live_literals, facts)
    if facts is not None and configs is not None:
        main = facts.main
        config_files.join_trace(draft, baseline_files, directory, main.name if main else None,
                                {lr for _, lr in main.groups[:1] if lr is not None} if main else set(), facts.micro_batch)
    out_of_range, invalid = _check_domains(draft)
    found_knobs = _knobs(draft, found, knobs)

    sites = {f: _in_file(attrs.evolve(s, value=draft.values[f],
                                      lines=tuple(sorted({n for t in draft.targets[f] for n in span(t)}))),
                         draft.targets[f])
             for f, s in draft.sites.items()}
    extraction = Extraction(draft.values, sites, out_of_range, draft.problems, draft.choices, filename, invalid,
                            tuple(found_knobs), draft.overridden, _literals(live_literals + _split_off(found, draft, live_literals)), inert,
                            tuple(draft.own_knobs),
                            tuple(sorted(configs.documents)) if configs is not None else ())
    return Analysis(extraction, draft.targets, module, walk.scope.torch_optim_prefix, draft.spelled_as,
                    configs.documents if configs is not None else {})


def _names(assignment: Assignment, name: str) -> bool:
    """Whether the user's ``name`` is this literal: its path, or for a config file's value also
    where it lands in the script's config, with or without the config's own name (optimizer.lr,
    cfg.optimizer.lr)."""
    if assignment.path in (name, normal_path(name)):
        return True
    composed = config_files.composed_name(assignment)
    return bool(composed) and (name == composed or name.endswith("." + composed) and name.count(".") == composed.count(".") + 1)


def _in_file(site: Site, targets: list[Any]) -> Site:
    """A site whose value is written in a config file says which, and where it lands."""
    scalars = [t for t in targets if isinstance(t, Scalar)]
    if not scalars:
        return site
    return attrs.evolve(site, file=scalars[0].file, line=scalars[0].line, key=_composed_key(scalars[0], site))


def _composed_key(scalar: Scalar, site: Site) -> str:
    return site.key or scalar.key


def _replaced_before_use(draft: Draft, found: Findings, source: str, directory: Path | None,
                         args: Sequence[str]) -> list[Assignment]:
    """Values replaced before use are shown, never proposed: a config-class default that every
    instantiation passes explicitly, a constant an override file sets again, an entry point's
    default that a call of it replaces (train(model, lr=args.lr)), an argparse default the
    ``args`` setting replaces. Returns the literals left."""
    draft.replaced.update(classes.replaced_defaults(found))
    by_file, draft.winning = override_files.replaced_constants(found, source, directory)
    draft.replaced.update(by_file)
    by_args, winning = command_line.replaced_defaults(found, args)
    draft.replaced.update(by_args)
    draft.winning.update(winning)
    draft.replaced.update(function_defaults.replaced_defaults(found))
    for candidate in found.assignments:
        if id(candidate) in draft.replaced:
            draft.overridden[candidate.path] = Site("", candidate.value, candidate.line, candidate.style,
                                                    candidate.path, False, draft.replaced[id(candidate)])
    return [c for c in found.assignments if id(c) not in draft.replaced]


def _mapped(draft: Draft, found: Findings, mapping: Mapping[str, str], filename: str) -> None:
    """Fields the user mapped by name."""
    for field, path in mapping.items():
        matches = [c for c in found.assignments if _names(c, path)]
        if not matches:
            # An error, as a misspelled [space] name is: left as a note, the field would quietly be
            # found elsewhere (or not at all) and the user's mapping ignored.
            names = sorted({c.path for c in found.assignments})
            close = difflib.get_close_matches(path, names, n=3, cutoff=0.5)
            if close:
                hint = f"did you mean {' or '.join(repr(n) for n in close)}?"
            elif names:
                hint = f"the literals it reads are {', '.join(repr(n) for n in names[:8])}" \
                       f"{' and more' if len(names) > 8 else ''}."
            else:
                hint = "it assigns no literal arrl reads (a value in a config file is named by file and key, " \
                       "as conf/optimizer/adam.yaml:lr)."
            raise SchemaError(f"[fields] maps {field} to {path!r}, which {filename} does not assign a literal to; "
                              f"{hint}")
        last = max(matches, key=lambda c: c.order)
        value = normalise(field, last.value)
        draft.settle(field, value, Site(field, value, last.line, last.style, last.path, note="mapped in the config"),
                     [last.node])


def _check_domains(draft: Draft) -> tuple[dict[str, str], dict[str, str]]:
    """A value outside the design document's domain is a valid starting point (the run's domain
    grows to include it); only a value of the wrong type is unusable. Returns both kinds."""
    out_of_range: dict[str, str] = {}
    invalid: dict[str, str] = {}
    for field, value in list(draft.values.items()):
        design = FIELDS_BY_NAME[field]
        try:
            draft.values[field] = design.grown(value).check(value)
        except SchemaError as error:
            invalid[field] = str(error)
            continue
        try:
            design.check(value)
        except SchemaError as error:
            out_of_range[field] = str(error)
            if design.kind == "choice" and not design.ordinal and field not in draft.choices:
                # A name the design document does not know: nothing says what else the code takes.
                draft.choices[field] = (draft.values[field],)
    return out_of_range, invalid


def _knobs(draft: Draft, found: Findings, knobs: Sequence[str]) -> list[str]:
    """Declared knobs, by the script's own name; returns those found."""
    found_knobs: list[str] = []
    for name in knobs:
        if name in FIELDS_BY_NAME:
            continue
        matches = [c for c in found.assignments if _names(c, name)]
        if not matches:
            matches = [c for c in found.assignments if last_name(c.path) == name]
            if len({c.path for c in matches}) > 1:
                draft.problems[name] = f"{name} names several places ({', '.join(sorted({c.path for c in matches}))})"
                continue
        if not matches:
            continue
        last = max(matches, key=lambda c: c.order)
        why = draft.replaced.get(id(last), "")
        draft.settle(name, last.value, Site(name, last.value, last.line, last.style, last.path, editable=not why,
                                            note=why), [last.node])
        found_knobs.append(name)
    return found_knobs


def _split_off(found: Findings, draft: Draft, live: list[Assignment]) -> list[Assignment]:
    """Knobs of their own that the rules split off a field while settling it (a second dropout)."""
    taken = {id(a) for a in live}
    return [a for a in found.assignments if a.path in draft.own_knobs and id(a) not in taken]


def _literals(live: list[Assignment]) -> tuple[Site, ...]:
    """The last assignment of each literal where a configuration lives."""
    last_of: dict[str, Assignment] = {}
    for literal in sorted(live, key=lambda c: c.order):
        if literal.aliasable:
            last_of[literal.path] = literal
    return tuple(Site("", c.value, c.line, c.style, c.path, file=c.node.file if isinstance(c.node, Scalar) else "",
                      key=config_files.composed_name(c)) for c in last_of.values())


def _position(wrapper: MetadataWrapper, node: cst.CSTNode) -> int:
    try:
        return wrapper.resolve(PositionProvider)[node].start.line
    except KeyError:
        return 0


def extract(source: str, filename: str = "<script>", mapping: Mapping[str, str] | None = None,
            knobs: Sequence[str] = (), directory: Path | None = None, facts: Facts | None = None,
            args: Sequence[str] = (), files: Mapping[str, str] | None = None,
            baseline_files: Mapping[str, str] | None = None) -> Extraction:
    """Find every schema field the script sets, and where; and the declared ``knobs`` (the
    script's own names, from ``[space]``). ``directory`` is where the script lives, to read the
    override files it loads; ``facts``, what its baseline run showed (:mod:`.live`); ``args``,
    the command line it runs with (:mod:`.command_line`); ``files``, the config files it reads as a
    version has them (:mod:`.config_files`; else those in ``directory``), and ``baseline_files``
    the baseline's, which its trace is joined with."""
    return analyse(source, filename, mapping, knobs, directory, facts, args, files, baseline_files).extraction
