"""The reference docs against the real thing: every command, option and setting has its entry,
and the plugin guides quote code that exists in their example packages."""

from __future__ import annotations

import re
from collections.abc import Iterator

import attrs
import click
import pytest

from arrl.cli import main
from arrl.config import Settings
from arrl.manager import Registry, make_plugin_manager
from arrl.tracking import tracker_registrations
from support import ROOT

DOCS = ROOT / "docs"


# --- docs/cli.md -----------------------------------------------------------------------------

def _commands(command: click.Command, path: tuple[str, ...] = ("arrl",)) -> Iterator[tuple[str, click.Command]]:
    yield " ".join(path), command
    if isinstance(command, click.Group):
        for name, sub in sorted(command.commands.items()):
            yield from _commands(sub, (*path, name))


def _sections(text: str, level: str) -> dict[str, str]:
    """Heading text (between backticks) -> the text up to the next heading of that level."""
    parts = re.split(rf"^{level} (.+)$", text, flags=re.MULTILINE)
    return {heading.strip().strip("`"): body for heading, body in zip(parts[1::2], parts[2::2])}


def missing_cli_entries(text: str) -> list[str]:
    sections = _sections(text, "##")
    missing = []
    for name, command in _commands(main):
        section = sections.get(name)
        if section is None:
            missing.append(f"command `{name}`: add a section '## `{name}`'")
            continue
        for param in command.params:
            if isinstance(param, click.Argument):
                wanted = (param.human_readable_name,)
            else:
                wanted = tuple(param.opts)
            for word in wanted:
                if f"`{word}" not in section:
                    kind = "argument" if isinstance(param, click.Argument) else "option"
                    missing.append(f"{kind} `{word}` of `{name}`: mention it (in backticks) in its section")
    return missing


def test_cli_reference_covers_every_command_option_and_argument() -> None:
    missing = missing_cli_entries((DOCS / "cli.md").read_text())
    assert not missing, "docs/cli.md lacks:\n  " + "\n  ".join(missing)


def test_cli_check_fails_on_a_missing_entry() -> None:
    text = (DOCS / "cli.md").read_text()
    without_history = re.sub(r"^## `arrl history`.*?(?=^## |\Z)", "", text, flags=re.MULTILINE | re.DOTALL)
    without_option = text.replace("`--max-experiments N` — stop once the run holds N experiments (all", "")
    already = missing_cli_entries(text)
    assert [m for m in missing_cli_entries(without_history) if m not in already] == [
        "command `arrl history`: add a section '## `arrl history`'"]
    assert [m for m in missing_cli_entries(without_option) if m not in already] == [
        "option `--max-experiments` of `arrl run`: mention it (in backticks) in its section"]


# --- docs/configuration.md -------------------------------------------------------------------

def _setting_names(cls: type, prefix: str = "") -> Iterator[str]:
    """Every setting, nested settings tables (attrs classes) as dotted names."""
    for field in attrs.fields(attrs.resolve_types(cls)):  # the types, not their names as text
        name = f"{prefix}{field.name}"
        yield name
        if isinstance(field.type, type) and attrs.has(field.type):
            yield from _setting_names(field.type, f"{name}.")


def _option_tables() -> Iterator[tuple[str, list[str]]]:
    """('runner `podman`', [its options]) for every built-in plugin and tracker."""
    manager = make_plugin_manager(entry_points=False)
    registrations = Registry(manager).all() + sorted(tracker_registrations(manager).values(), key=lambda r: r.name)
    for registration in registrations:
        yield f"{registration.role} `{registration.name}`", [f.name for f in attrs.fields(registration.options)]


def missing_configuration_entries(text: str) -> list[str]:
    missing = [f"setting `{name}`: add a row with `{name}`"
               for name in _setting_names(Settings) if f"`{name}`" not in text]
    sections = {heading: body for heading, body in
                ((h.replace("`", ""), b) for h, b in _sections(text, "###").items())}
    for heading, options in _option_tables():
        body = sections.get(heading.replace("`", ""))
        if body is None:
            missing.append(f"plugin {heading}: add a section '### {heading}' with a row per option")
            continue
        missing += [f"option `{option}` of {heading}: add a row with `{option}` to its section"
                    for option in options if f"`{option}`" not in body]
    return missing


def test_configuration_reference_covers_every_setting_and_option() -> None:
    missing = missing_configuration_entries((DOCS / "configuration.md").read_text())
    assert not missing, "docs/configuration.md lacks:\n  " + "\n  ".join(missing)


def test_configuration_check_fails_on_a_missing_entry() -> None:
    assert "early_stopping.window" in set(_setting_names(Settings))  # nested tables are walked
    text = (DOCS / "configuration.md").read_text()
    without_setting = text.replace("| `early_stopping.patience` |", "| patience |")
    without_option = text.replace("| `term_grace` |", "| term grace |")
    already = missing_configuration_entries(text)
    assert [m for m in missing_configuration_entries(without_setting) if m not in already] == [
        "setting `early_stopping.patience`: add a row with `early_stopping.patience`"]
    assert [m for m in missing_configuration_entries(without_option) if m not in already] == [
        "option `term_grace` of runner `subprocess`: add a row with `term_grace` to its section"]


# --- the plugin guides -----------------------------------------------------------------------

def _python_blocks(text: str) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", text, flags=re.MULTILINE | re.DOTALL)


@pytest.mark.parametrize("guide, package", [
    ("writing-a-reward.md", "arrl-relative-reward"),
    ("writing-a-validator.md", "arrl-limits-validator"),
])
def test_plugin_guide_quotes_its_example_package(guide: str, package: str) -> None:
    """Each code block of the guide is in the package as it is, so the guide cannot drift from
    code that is installed and tested (tests/test_example_plugins.py)."""
    blocks = _python_blocks((DOCS / guide).read_text())
    assert len(blocks) >= 3
    sources = [p.read_text() for p in (ROOT / "examples" / "plugins" / package).rglob("*.py")]
    for block in blocks:
        assert any(block in source for source in sources), f"{guide}: not in {package}:\n{block}"
    pyproject = (ROOT / "examples" / "plugins" / package / "pyproject.toml").read_text()
    assert f'name = "{package}"' in pyproject
