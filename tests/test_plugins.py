"""The plugin system: registrations, name checks, options, entry points, and a real install."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import types
from pathlib import Path

import attrs
import pytest

import arrl
from arrl.config import Settings, merge_cli, settings_from
from arrl.errors import ConfigError
from arrl.journal import RunDirectory
from arrl.manager import BUILTIN_PLUGINS, ROLES, Registry, build_options, make_plugin_manager
from arrl.run.components import build_components, check_choices
from arrl.run.loop import ExperimentLoop
from support import ARRL, ROOT, make_repo, pip_install_copies, records, run_arrl


def _plugin(name: str, **hooks) -> types.ModuleType:
    module = types.ModuleType(name)
    for hook_name, function in hooks.items():
        setattr(module, hook_name, arrl.hookimpl(function, specname=hook_name))
    return module


class Null(arrl.Runner):
    def run(self, request, monitor):  # pragma: no cover - never run here
        raise NotImplementedError


@attrs.frozen
class NullOptions:
    memory: str = "1g"
    cpus: float = 1.0
    network: bool = False


def test_builtins_offer_every_role() -> None:
    registry = Registry(make_plugin_manager(entry_points=False))
    for role in ROLES:
        assert registry.names(role), f"no built-in {role}"
    assert registry.get("runner", "subprocess").package == "arrl"


def test_duplicate_name_names_both_providers() -> None:
    manager = make_plugin_manager(entry_points=False)
    manager.register(_plugin("clash", arrl_runners=lambda: [
        arrl.Registration(name="subprocess", factory=lambda o, c: Null())]), name="clash")
    manager.provenance["clash"] = ("arrl-clash", "9.9")
    with pytest.raises(ConfigError) as error:
        Registry(manager)
    message = str(error.value)
    assert "runner 'subprocess'" in message
    assert "arrl 0.1.0" in message and "arrl-clash 9.9" in message


def test_unknown_name_lists_valid_names() -> None:
    manager = make_plugin_manager(entry_points=False)
    manager.register(_plugin("extra", arrl_runners=lambda: [
        arrl.Registration(name="null", factory=lambda o, c: Null())]), name="extra")
    registry = Registry(manager)
    with pytest.raises(ConfigError, match=r"unknown runner 'nosuch'; choose one of: docker, null, podman, subprocess"):
        registry.get("runner", "nosuch")


def test_non_registration_is_rejected_with_the_plugin_named() -> None:
    manager = make_plugin_manager(entry_points=False)
    manager.register(_plugin("sloppy", arrl_rewards=lambda: ["composite"]), name="sloppy")
    with pytest.raises(ConfigError, match="plugin 'sloppy'.*returned str"):
        Registry(manager)


def test_options_are_structured_and_checked() -> None:
    registration = attrs.evolve(
        arrl.Registration(name="null", factory=lambda o, c: Null(), options=NullOptions), role="runner"
    )
    options = build_options(registration, {"memory": "8g", "cpus": "2", "network": "true"})
    assert options == NullOptions("8g", 2.0, True)
    with pytest.raises(ConfigError, match="unknown option swap for runner 'null'; its options are: memory, cpus, network"):
        build_options(registration, {"swap": "1g"})
    with pytest.raises(ConfigError, match="bad option for runner 'null'.*cpus"):
        build_options(registration, {"cpus": "lots"})
    with pytest.raises(ConfigError, match="bad option.*network"):
        build_options(registration, {"network": "maybe"})


def test_cli_options_parse_as_toml_values() -> None:
    merged = merge_cli({"script": "t.py"}, ["runner=subprocess", "validator=ast"],
                       ["runner.term_grace=0.1", "proposer.max_moves=3", "runner.python=/usr/bin/python3"])
    settings = settings_from(merged)
    assert settings.plugin_names("validator") == ("ast",)
    assert settings.options["runner"] == {"term_grace": 0.1, "python": "/usr/bin/python3"}
    assert settings.options["proposer"] == {"max_moves": 3}
    with pytest.raises(ConfigError, match="-o expects ROLE.OPTION=VALUE"):
        merge_cli({}, [], ["memory=8g"])
    with pytest.raises(ConfigError, match="--plugin expects ROLE=NAME"):
        merge_cli({}, ["podman"], [])


def test_bad_settings_are_one_clear_error() -> None:
    with pytest.raises(ConfigError, match="budget must be greater than 0"):
        settings_from({"budget": 0})
    with pytest.raises(ConfigError, match="direction"):
        settings_from({"direction": "sideways"})
    with pytest.raises(ConfigError, match=r"unknown key\(s\) bugdet"):
        settings_from({"bugdet": 10})


def test_choice_checks(tmp_path: Path) -> None:
    registry = Registry(make_plugin_manager(entry_points=False))
    with pytest.raises(ConfigError, match="choose one runner, not 2"):
        check_choices(registry, Settings(plugins={"runner": "subprocess,subprocess"}))
    with pytest.raises(ConfigError, match="unknown role planner"):
        check_choices(registry, Settings(plugins={"planner": "x"}))
    check_choices(registry, Settings(plugins={"validator": ["ast"]}))


def test_validator_chain_runs_every_validator_in_order(tmp_path: Path) -> None:
    seen: list[str] = []

    class Refuse(arrl.Validator):
        def validate(self, proposed, baseline):
            seen.append("mine")
            return arrl.ValidationResult((arrl.ValidationIssue("no thanks", 1),))

    manager = make_plugin_manager(entry_points=False)
    manager.register(_plugin("mine", arrl_validators=lambda: [
        arrl.Registration(name="mine", factory=lambda o, c: Refuse())]), name="mine")
    repo = make_repo(tmp_path / "project", {"train.py": "LR = 0.1\nprint(f'arrl: val_loss={LR}')\n"})
    settings = Settings(script="train.py", budget=10, max_experiments=3, baseline_runs=1,
                        plugins={"validator": "ast,mine"})
    run = RunDirectory.create(repo / ".arrl", {}, repo)
    context = arrl.PluginContext(run.path, repo, "train.py", "val_loss", arrl.Direction.MINIMIZE, 10, 0)
    components = build_components(Registry(manager), settings, context)
    assert [name for name, _ in components.validators] == ["ast", "mine"]
    result = ExperimentLoop(settings, run, components, manager, context, report=lambda _: None).run()
    assert result.exit_code == 0
    recs = run.records()
    assert [r.outcome.value for r in recs] == ["ok", "rejected", "rejected"]
    assert recs[1].failure_reason == "[mine] line 1: no thanks"
    assert recs[1].reward == -1.0 and recs[1].commit == "" and not (run.path / "experiments" / "1").exists()
    assert seen == ["mine", "mine"]


def test_hook_docs_cover_every_hook() -> None:
    text = (ROOT / "docs" / "hooks.md").read_text()
    from arrl import hookspecs

    for name in dir(hookspecs):
        if name.startswith("arrl_"):
            assert f"## `{name}" in text, f"docs/hooks.md lacks {name}"
    for module in BUILTIN_PLUGINS:
        assert module.rsplit(".", 1)[1] in text


@pytest.fixture(scope="module")
def hello_site(tmp_path_factory) -> Path:
    """The example plugin package, really pip-installed into a folder of its own."""
    target = tmp_path_factory.mktemp("hello-site")
    pip_install_copies([ROOT / "examples" / "plugins" / "arrl-hello"], target, tmp_path_factory.mktemp("hello-source"))
    return target


def test_installed_plugin_is_listed_with_its_package(hello_site: Path, tmp_path: Path) -> None:
    env = {"PYTHONPATH": str(hello_site)}
    result = run_arrl("plugins", "--json", cwd=tmp_path, env=env)
    assert result.returncode == 0, result.output
    rows = json.loads(result.stdout)["implementations"]
    hello = [r for r in rows if r["name"] == "hello"]
    assert hello == [{"role": "proposer", "name": "hello", "package": "arrl-hello", "version": "0.1.0",
                      "plugin": "hello", "summary": "halve the learning rate each time (example plugin)",
                      "default": False, "options": hello[0]["options"]}]
    assert {o["name"] for o in hello[0]["options"]} >= {"factor"}
    assert {r["role"] for r in rows} == set(ROLES)
    # Exactly one default per single-implementation role, and it is the built-in one.
    defaults = {(r["role"], r["name"]) for r in rows if r["default"]}
    assert defaults == {("proposer", "ppo"), ("validator", "ast"), ("runner", "subprocess"),
                        ("memory", "deque"), ("reward", "composite"), ("rollback", "git")}
    subprocess_options = next(r["options"] for r in rows if r["name"] == "subprocess")
    assert {"name": "term_grace", "type": "float", "default": 0.3} in subprocess_options
    text = run_arrl("plugins", "--options", cwd=tmp_path, env=env).stdout
    assert "subprocess *" in text and "random *" not in text and "term_grace = 0.3" in text


def test_installed_plugin_proposes_through_its_entry_point(hello_site: Path, tmp_path: Path, arrl_env) -> None:
    script = """
    LEARNING_RATE = 0.08
    print(f"arrl: val_loss={abs(LEARNING_RATE - 0.01) + 1:.6f}")
    """
    repo = make_repo(tmp_path / "project", {"train.py": script}, 'script = "train.py"\nbudget = 10\n')
    log = tmp_path / "hello.log"
    env = {**arrl_env, "PYTHONPATH": str(hello_site), "HELLO_LOG": str(log)}
    result = run_arrl("--plugin", "proposer=hello", "-o", "proposer.factor=0.5", "run",
                      "--max-experiments", "6", cwd=repo, env=env)
    assert result.returncode == 0, result.output
    recs = records(repo)
    # The unmodified script three times (the noise floor's default), then the plugin's proposals.
    assert [r["proposer"] for r in recs] == ["baseline"] * 3 + ["hello"] * 3
    assert [r["config"]["learning_rate"] for r in recs] == [0.08] * 3 + [0.04, 0.02, 0.01]
    assert recs[3]["edit"]["description"] == "hello: learning_rate 0.08 -> 0.04"
    # Its observer hook saw every experiment, in order.
    assert [line.split()[1] for line in log.read_text().splitlines()] == ["0", "1", "2", "3", "4", "5"]


def test_broken_plugin_is_reported_not_fatal(tmp_path: Path) -> None:
    site = tmp_path / "site"
    dist = site / "arrl_broken-1.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: arrl-broken\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[arrl]\nbroken = arrl_broken_module\n")
    (site / "arrl_broken_module.py").write_text("raise ImportError('needs a library that is missing')\n")
    result = run_arrl("plugins", cwd=tmp_path, env={"PYTHONPATH": str(site)})
    assert result.returncode == 0
    assert "subprocess" in result.stdout
    assert "plugin 'broken' from arrl-broken 1.0 failed to load: needs a library that is missing" in result.stderr
    chosen = run_arrl("--plugin", "proposer=broken", "run", "x.py", cwd=tmp_path, env={"PYTHONPATH": str(site)})
    assert chosen.returncode == 2
    assert "unknown proposer 'broken' (plugin 'broken' from arrl-broken 1.0 failed to load" in chosen.stderr


def test_unknown_runner_from_cli_names_valid_runners(tmp_path: Path) -> None:
    result = run_arrl("--plugin", "runner=nosuch", "run", cwd=tmp_path)
    assert result.returncode != 0
    import importlib.util

    runners = "docker, podman, ray, subprocess" if importlib.util.find_spec("ray") else "docker, podman, subprocess"
    assert result.stderr.strip() == f"arrl: error: unknown runner 'nosuch'; choose one of: {runners}"


def test_errors_are_one_line_unless_debug(tmp_path: Path) -> None:
    quiet = run_arrl("run", "missing.py", cwd=tmp_path)
    assert quiet.returncode == 2 and quiet.stderr.count("\n") == 1 and "does not exist" in quiet.stderr
    loud = run_arrl("--debug", "run", "missing.py", cwd=tmp_path)
    assert "Traceback" in loud.stderr


HEAVY = ("torch", "docker", "podman", "redis", "ray", "optuna", "git")


@pytest.mark.parametrize("argv", [None, ["--help"], ["plugins"], ["plugins", "--json"]])
def test_light_commands_import_no_heavy_library(argv, tmp_path: Path) -> None:
    code = textwrap.dedent(f"""
        import sys
        import arrl
        argv = {argv!r}
        if argv is not None:
            from arrl.cli import main
            try:
                main(argv)
            except SystemExit as done:
                assert not done.code, done.code
        loaded = sorted(m for m in {HEAVY!r} if m in sys.modules)
        print("LOADED", loaded)
    """)
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": ""})
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "LOADED []"


def test_tests_import_the_installed_package_not_the_source_root() -> None:
    assert str(ROOT) not in [os.path.abspath(p) for p in sys.path if p]
    assert ARRL.exists()
