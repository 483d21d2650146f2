"""Config edits are code, judged as such: an edit of a config file may change only the values of
keys read as knobs, to values in their domains.

The rule is one comparison, not a list of forbidden spellings: the proposed text must be the
parent's text with some scalars' characters replaced, and nothing else. So a new key, a removed
one, a defaults-list entry, a comment, a YAML tag or anchor outside a value, a changed list: each
changes characters outside a knob's scalar and is refused. Inside a changed scalar the value must
be a plain value: no interpolation or resolver (``${oc.env:...}`` reads the environment), no tag
(``!!python/...``), no anchor or alias. What arrl writes (:func:`.documents.replace`) passes by
construction; this judges what any proposer sends.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import yaml

from .documents import ConfigError, Document, Value, read, walk_yaml, yaml_value

# Why a changed key cannot be a knob, by where it is.
_NEVER = (("hydra.", "hydra.* keys are Hydra's own settings (its output folder, launcher, logging)"),
          ("defaults.", "the defaults list chooses which files compose the config"))


def judge(name: str, before: str, after: str, knobs: Mapping[str, str],
          check: Callable[[str, Value], str]) -> list[str]:
    """Why the edit of config file ``name`` from ``before`` to ``after`` is refused ([] if it is
    not). ``knobs`` maps the file's keys read as knobs to their names (``lr`` -> learning_rate);
    ``check(knob, value)`` says why a value is outside its domain, or ""."""
    try:
        old, new = read(name, before), read(name, after)
    except ConfigError as error:
        return [str(error)]
    added, removed = sorted(new.scalars.keys() - old.scalars.keys()), sorted(old.scalars.keys() - new.scalars.keys())
    if added or removed:
        said = [f"adds {', '.join(added)}" if added else "", f"removes {', '.join(removed)}" if removed else ""]
        return [f"{name}: the edit {' and '.join(s for s in said if s)}; a config edit may change values only"]
    changed = [key for key in old.scalars
               if before[old.scalars[key].start:old.scalars[key].end] != after[new.scalars[key].start:new.scalars[key].end]]
    rebuilt = before
    for key in sorted(changed, key=lambda k: old.scalars[k].start, reverse=True):
        was, now = old.scalars[key], new.scalars[key]
        rebuilt = rebuilt[:was.start] + after[now.start:now.end] + rebuilt[was.end:]
    if rebuilt != after:
        return [f"{name}: the edit changes more than values (a key, a list, the defaults list, a comment or a tag); "
                "a config edit may change the values of knobs only"]
    problems: list[str] = []
    for key in changed:
        text = after[new.scalars[key].start:new.scalars[key].end]
        why = _never(key) or _not_plain(text, new.scalars[key].value) or _ambiguous(name, new, key)
        if not why and key not in knobs:
            why = "it is not a knob of this run"
        if not why:
            why = check(knobs[key], new.scalars[key].value)
        if why:
            problems.append(f"{name}: {key} = {text}: {why}")
    return problems


def _never(key: str) -> str:
    for prefix, why in _NEVER:
        if key == prefix.rstrip(".") or key.startswith(prefix):
            return why
    return ""


def _not_plain(text: str, value: Value) -> str:
    """Why a value's text is more than a value ("" when it is not). The value is judged as read,
    escapes decoded ("\\u0024{...}" is an interpolation too), and as written."""
    said = f"{text} {value}" if isinstance(value, str) else text
    if "${" in said:
        return "an interpolation or resolver (${...}) is not a value: it can read the environment or other keys"
    if "???" in said:
        return "??? is OmegaConf's missing value, not a value"
    if text.lstrip()[:1] == "!":
        return "a YAML tag is not a value"
    if text.lstrip()[:1] in ("&", "*"):
        return "a YAML anchor or alias is not a value"
    return ""


def _ambiguous(name: str, document: Document, key: str) -> str:
    """A YAML value that PyYAML and OmegaConf read differently (1e-3, a float to one and a string to
    the other): which the script gets depends on its loader, so it is refused."""
    if document.tree is None or not name.lower().endswith((".yaml", ".yml")):
        return ""
    node = next((n for k, n in walk_yaml(document.tree) if k == key), None)
    if not isinstance(node, yaml.ScalarNode):
        return ""
    as_pyyaml, as_omegaconf = yaml_value(node, omegaconf=False), yaml_value(node)
    if as_pyyaml != as_omegaconf or type(as_pyyaml) is not type(as_omegaconf):
        return f"PyYAML reads it as {as_pyyaml!r} and OmegaConf as {as_omegaconf!r}; write it so both agree"
    return ""
