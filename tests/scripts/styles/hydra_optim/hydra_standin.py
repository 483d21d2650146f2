"""What train.py uses of Hydra, for machines where hydra-core is not installed (arrl's fixtures
run with torch alone): `hydra.main` composes conf/config.yaml with its defaults list (one option per
config group, `_self_` first) and `key=value` / `group=option` overrides from the command line, and
`hydra.utils.instantiate` builds `_target_` nodes (`_partial_: true` gives a functools.partial).
The YAML read is the subset the conf/ files use: nested mappings, `- group: option` lists, inline
lists and plain scalars; the `hydra:` node is Hydra's own and is skipped. Not part of the style."""
import functools
import importlib
import inspect
import os
import sys
import types


class DictConfig(dict):
    """A mapping whose keys read as attributes, as omegaconf's DictConfig."""

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


def _scalar(text):
    text = text.strip()
    if text in ("null", "~", ""):
        return None
    if text in ("true", "True"):
        return True
    if text in ("false", "False"):
        return False
    if text[:1] in "'\"" and text[-1:] == text[:1]:
        return text[1:-1]
    if text.startswith("[") and text.endswith("]"):
        return [_scalar(item) for item in text[1:-1].split(",") if item.strip()]
    for kind in (int, float):
        try:
            return kind(text.replace("_", ""))
        except ValueError:
            pass
    return text


def _strip_comment(line):
    quote = None
    for i, ch in enumerate(line):
        if ch in "'\"":
            quote = None if quote == ch else (quote or ch)
        elif ch == "#" and quote is None and (i == 0 or line[i - 1] in " \t"):
            return line[:i].rstrip()
    return line.rstrip()


def load_yaml(path):
    lines = [(len(raw) - len(raw.lstrip()), raw.strip())
             for raw in map(_strip_comment, open(path).read().splitlines()) if raw.strip()]
    value, _ = _block(lines, 0, lines[0][0] if lines else 0)
    return value if value is not None else DictConfig()


def _block(lines, i, indent):
    if i < len(lines) and lines[i][1].startswith("- "):
        items = []
        while i < len(lines) and lines[i][0] == indent and lines[i][1].startswith("- "):
            entry = lines[i][1][2:]
            key, sep, rest = entry.partition(": ")
            items.append(DictConfig({key: _scalar(rest)}) if sep else _scalar(entry))
            i += 1
        return items, i
    node = DictConfig()
    while i < len(lines) and lines[i][0] == indent:
        key, _, rest = lines[i][1].partition(":")
        i += 1
        if rest.strip():
            node[key.strip()] = _scalar(rest)
        elif i < len(lines) and lines[i][0] > indent:
            node[key.strip()], i = _block(lines, i, lines[i][0])
        elif i < len(lines) and lines[i][0] == indent and lines[i][1].startswith("- "):
            node[key.strip()], i = _block(lines, i, indent)
        else:
            node[key.strip()] = None
    return node, i


def _set(node, dotted, value):
    *parents, last = dotted.split(".")
    for key in parents:
        node = node.setdefault(key, DictConfig())
    node[last] = value


def compose(config_dir, config_name, overrides=()):
    primary = load_yaml(os.path.join(config_dir, config_name + ".yaml"))
    choices = {}
    for entry in primary.pop("defaults", []):
        if isinstance(entry, dict):
            choices.update(entry)
    given = dict(item.split("=", 1) for item in overrides)
    for group in choices:
        if group in given:
            choices[group] = given.pop(group)
    config = DictConfig({k: v for k, v in primary.items() if k != "hydra"})
    for group, option in choices.items():
        if option is not None:
            config[group] = load_yaml(os.path.join(config_dir, group, f"{option}.yaml"))
    for dotted, value in given.items():
        _set(config, dotted.lstrip("+"), _scalar(value))
    return config


def main(version_base=None, config_path=None, config_name=None):
    def decorate(task):
        @functools.wraps(task)
        def run():
            here = os.path.dirname(os.path.abspath(inspect.getfile(task)))
            return task(compose(os.path.join(here, config_path), config_name, sys.argv[1:]))
        return run
    return decorate


def _locate(path):
    module, _, name = path.rpartition(".")
    owner = sys.modules[module] if module in sys.modules else importlib.import_module(module)
    return getattr(owner, name)


def instantiate(config, **kwargs):
    if isinstance(config, list):
        return [instantiate(item) for item in config]
    if not isinstance(config, dict) or "_target_" not in config:
        return config
    params = {k: instantiate(v) for k, v in config.items() if not k.startswith("_")}
    params.update(kwargs)
    target = _locate(config["_target_"])
    if config.get("_partial_"):
        return functools.partial(target, **params)
    return target(**params)


utils = types.SimpleNamespace(instantiate=instantiate)
