"""The ``arrl`` command line.

Errors arrl expects are printed as one line (``arrl: error: ...``) with a non-zero exit code;
``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import json
import math
import os
import signal
import sys
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from . import __version__
from .errors import ArrlError, ConfigError

if TYPE_CHECKING:
    from .config import Settings


class Invocation:
    """Global options, shared by every command."""

    def __init__(self, plugins: list[str], options: list[str], config: Path | None, debug: bool):
        self.plugins = plugins
        self.options = options
        self.config = config
        self.debug = debug


def _fail(error: ArrlError) -> NoReturn:
    click.echo(f"arrl: error: {error}", err=True)
    sys.exit(error.exit_code)


class _Group(click.Group):
    """Turns expected errors into one clear line unless --debug is on."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ArrlError as error:
            if "--debug" in sys.argv:
                raise
            _fail(error)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--plugin", "plugins", multiple=True, metavar="ROLE=NAME",
              help="Choose the implementation of a role (validators: NAME,NAME,... chain).")
@click.option("-o", "--option", "options", multiple=True, metavar="ROLE.OPTION=VALUE",
              help="Set a plugin option, e.g. -o runner.memory=8g.")
@click.option("--config", type=click.Path(path_type=Path, dir_okay=False),
              help="Config file (default: the nearest arrl.toml or pyproject.toml [tool.arrl]).")
@click.option("--debug", is_flag=True, help="Show tracebacks instead of one-line errors.")
@click.version_option(__version__, prog_name="arrl")
@click.pass_context
def main(ctx: click.Context, plugins: tuple[str, ...], options: tuple[str, ...],
         config: Path | None, debug: bool) -> None:
    """arrl tunes a training script: it proposes edits, validates them, runs them under a hard
    budget, scores them and learns, keeping every experiment as a git commit."""
    ctx.obj = Invocation(list(plugins), list(options), config, debug)


# --- project resolution ------------------------------------------------------------------

def _project_data(inv: Invocation) -> tuple[dict[str, Any], Path]:
    from .config import find_config, load_file
    path = inv.config or find_config(Path.cwd())
    if inv.config is not None and not inv.config.is_file():
        raise ConfigError(f"config file {inv.config} does not exist")
    if path is None:
        return {}, Path.cwd()
    return load_file(path), path.parent.resolve()


def _settings(inv: Invocation) -> tuple[Settings, Path]:
    """The project's settings with this command line's --plugin and -o applied, and its folder."""
    from .config import merge_cli, settings_from
    data, base = _project_data(inv)
    return settings_from(merge_cli(data, inv.plugins, inv.options)), base


def _context(settings: Settings, run_dir: Path, repo_root: Path, script_path: str) -> Any:
    from .roles import PluginContext

    return PluginContext(run_dir=run_dir, repo_root=repo_root, script_path=script_path, metric=settings.metric,
                         direction=settings.direction, budget_seconds=settings.budget, seed=settings.seed,
                         field_map=dict(settings.fields), space=settings.space_settings(),
                         evaluate=settings.evaluate, args=tuple(settings.args))


def _repo_root(directory: Path) -> Path:
    from .git_command import Git, GitFailed

    try:
        return Path(Git(directory)("rev-parse", "--show-toplevel"))
    except (GitFailed, FileNotFoundError):
        return directory


def _resolve_script(settings: Settings, base: Path) -> tuple[Path, Path, str]:
    if not settings.script:
        raise ConfigError("no training script: pass SCRIPT or set `script` in arrl.toml")
    script = (base / settings.script).resolve()
    if not script.is_file():
        raise ConfigError(f"script {script} does not exist")
    repo_root = _repo_root(script.parent)
    # Refs and a worktree are written into the script's repository: it must be this project's.
    project_root = _repo_root(base.resolve())
    if not (script.is_relative_to(project_root) and repo_root.is_relative_to(project_root)):
        raise ConfigError(f"script {settings.script!r} resolves to {script}, outside this project's "
                          f"repository {project_root}; arrl runs only a script of the project it is run in")
    return script, repo_root, script.relative_to(repo_root).as_posix()


# --- run -----------------------------------------------------------------------------------

@main.command()
@click.argument("script", required=False)
@click.option("--new", is_flag=True, help="Start a new run instead of continuing the latest unfinished one.")
@click.option("--max-experiments", type=click.IntRange(min=1), help="Stop once the run holds this many experiments.")
@click.option("--max-hours", type=click.FloatRange(min=0, min_open=True), help="Stop after this many hours.")
@click.option("--target", type=float, help="Stop once the metric reaches this value.")
@click.option("--plateau", type=click.IntRange(min=1), metavar="N",
              help="Stop once N experiments in a row have not improved the best beyond the noise.")
@click.option("--budget", type=float, help="Wall-clock seconds per experiment (default 300).")
@click.option("--metric", help="Metric name the script prints (default val_loss).")
@click.option("--maximize", is_flag=True, default=None, help="The metric is better when higher.")
@click.option("--seed", type=int, help="Seed of the proposer and of the scripts (ARRL_SEED).")
@click.option("--skip-damaged", is_flag=True, default=None,
              help="Continue a run whose journal has unreadable lines: move them aside and report them.")
@click.option("--continue", "continue_run", is_flag=True,
              help="Continue the latest unfinished run even though the script was committed again since it began.")
@click.option("--json", "json_events", is_flag=True, help="Stream every event as a JSON line on standard output.")
@click.option("--workers", type=click.IntRange(min=1), help="Experiments run at once, each in its own worktree (default 1).")
@click.option("--cpus-per-worker", type=click.FloatRange(min=0, min_open=True),
              help="CPUs (and threads) each experiment gets (default: the CPUs divided by --workers).")
@click.option("--gpus", help="GPU ids, one per worker, e.g. 0,1 (sets CUDA_VISIBLE_DEVICES).")
@click.option("--ray-address", metavar="ADDRESS",
              help="Run the experiments on Ray (the ray extra): 'local' starts a cluster for the run, 'auto' "
                   "joins this machine's, or host:port. Short for --plugin runner=ray -o runner.address=ADDRESS.")
@click.pass_obj
def run(inv: Invocation, script: str | None, new: bool, continue_run: bool, json_events: bool,
        ray_address: str | None, **overrides: Any) -> None:
    """Run experiments: continues the latest unfinished run unless --new."""
    if new and continue_run:
        raise ConfigError("--new starts a run and --continue continues one: choose one")
    if ray_address is not None:
        address = "" if ray_address.strip() == "local" else ray_address.strip()
        # A runner chosen on this command line runs the experiments on the Ray nodes.
        chosen = [c.partition("=")[2].strip() for c in inv.plugins if c.partition("=")[0].strip() == "runner"]
        inner = [f"runner.inner={chosen[-1]}"] if chosen and chosen[-1] != "ray" else []
        inv.plugins = [*inv.plugins, "runner=ray"]
        inv.options = [*inv.options, f"runner.address={address}", *inner]
    _run(inv, script, new, overrides, must_continue=False, allow_changed_script=continue_run,
         json_events=json_events)


@main.command()
@click.option("--max-experiments", type=click.IntRange(min=1), help="Stop once the run holds this many experiments.")
@click.option("--max-hours", type=click.FloatRange(min=0, min_open=True), help="Stop after this many hours.")
@click.option("--target", type=float, help="Stop once the metric reaches this value.")
@click.option("--plateau", type=click.IntRange(min=1), metavar="N",
              help="Stop once N experiments in a row have not improved the best beyond the noise.")
@click.option("--json", "json_events", is_flag=True, help="Stream every event as a JSON line on standard output.")
@click.pass_obj
def resume(inv: Invocation, json_events: bool, **overrides: Any) -> None:
    """Continue the latest paused or interrupted run (even if the script was committed again)."""
    _run(inv, None, False, overrides, must_continue=True, allow_changed_script=True, json_events=json_events)


def _run(inv: Invocation, script: str | None, new: bool, overrides: dict[str, Any],
         must_continue: bool, allow_changed_script: bool = False, json_events: bool = False) -> None:
    from arrl.run.components import check_choices

    from .config import merge_cli, settings_from
    from .journal import RunDirectory, RunsLock
    from .manager import Registry, plugin_manager
    from .records import converter

    data, base = _project_data(inv)
    skip_damaged = bool(overrides.pop("skip_damaged", False))
    explicit: dict[str, Any] = {k: v for k, v in overrides.items() if v is not None}
    if explicit.pop("maximize", None):
        explicit["direction"] = "maximize"
    if "budget" in explicit and not (explicit["budget"] > 0 and math.isfinite(explicit["budget"])):
        raise ConfigError(f"--budget must be greater than 0 and finite, got {explicit['budget']:g}")
    if script:
        explicit["script"] = script
        base = Path.cwd()
    settings = settings_from(merge_cli({**data, **explicit}, inv.plugins, inv.options))
    runs_dir = base / settings.runs_dir
    manager = plugin_manager()
    registry = Registry(manager)
    check_choices(registry, settings)  # before anything is created, continued or locked
    if not must_continue and (new or RunDirectory.latest_unfinished(runs_dir) is None):
        _refuse_early(registry, settings, base, runs_dir)
    lock = RunsLock(runs_dir)
    lock.acquire()  # held until this command ends; everything below runs under it
    click.get_current_context().call_on_close(lock.release)
    run_dir = None if new else RunDirectory.latest_unfinished(runs_dir)
    if run_dir is None and must_continue:
        raise ArrlError(f"no paused or interrupted run in {runs_dir}; start one with `arrl run`")
    if run_dir is not None:
        # A continued run keeps the settings it started with, its stop conditions included (a
        # run interrupted on its way to --max-experiments 6 still stops at 6); only what is given
        # on this command line (stop conditions, plugin choices, options) changes.
        meta = run_dir.load_meta()
        stored = dict(meta.settings)
        # Trackers only watch, so a continued run takes them from the configuration as it is now.
        stored["tracking"] = data.get("tracking", {})
        settings = settings_from(merge_cli({**stored, **explicit}, inv.plugins, inv.options),
                                 f"settings of run {meta.run_id}")
    check_choices(registry, settings)
    script_path, repo_root, relative = _resolve_script(settings, base)
    if run_dir is not None and skip_damaged:
        for line in run_dir.set_aside_damaged():
            click.echo(f"arrl: skipped damaged journal line {line.line_number} ({line.reason}); "
                       f"kept in {run_dir.damaged_path}", err=True)
    if run_dir is not None and not allow_changed_script:
        from arrl.run.continuation import check_script_unchanged

        check_script_unchanged(repo_root, relative, run_dir)
    if run_dir is None:
        run_dir = RunDirectory.create(runs_dir, converter.unstructure(settings), repo_root)
        click.echo(f"arrl: run {run_dir.run_id} in {run_dir.path}", err=True)
    else:
        meta = run_dir.load_meta()
        click.echo(f"arrl: continuing run {meta.run_id} ({meta.status.value}"
                   f"{': ' + meta.status_reason if meta.status_reason else ''})", err=True)
    context = _context(settings, run_dir.path, repo_root, relative)
    try:
        # The loop (and the script reader's libcst) only once the early checks have passed.
        from arrl.run.assembly import assemble_loop
        from arrl.run.display import console_subscribers
        from arrl.run.events import subscribed

        loop = assemble_loop(manager, settings, run_dir, context)
    except BaseException as error:  # a plugin that cannot be built: the run never started
        if run_dir.began_nothing(run_dir.end_after_error(error), error):
            run_dir.remove()  # nothing recorded, and the error is said below
        raise
    restore = _on_stop_signals(loop.abort.set)
    try:
        with subscribed(manager, *console_subscribers(json_events)):
            result = loop.run()
    finally:
        restore()
        loop.close()
    click.echo(f"arrl: {result.message}", err=True)
    sys.exit(result.exit_code)


def _refuse_early(registry: Any, settings: Settings, base: Path, runs_dir: Path) -> None:
    """What would stop a new run, said before anything is created, locked or imported that is
    heavy (the proposer's torch): the script, its syntax, and the rollback's own checks (a git
    repository, the script committed and unchanged)."""
    from arrl.run.components import build_one

    script_path, repo_root, relative = _resolve_script(settings, base)
    # The rollback's checks first: the syntax that matters is the committed script's.
    build_one(registry, settings, _context(settings, runs_dir / "not-created", repo_root, relative),
              "rollback").check()
    try:
        with warnings.catch_warnings():  # the script's own SyntaxWarnings are not arrl's to print
            warnings.simplefilter("ignore")
            compile(script_path.read_bytes(), str(script_path), "exec", dont_inherit=True)
    except (SyntaxError, ValueError) as error:  # ValueError: null bytes
        where = f"{relative}:{error.lineno}" if isinstance(error, SyntaxError) else relative
        what = error.msg if isinstance(error, SyntaxError) else str(error)
        # As the loop words it when it reads the script, and with its exit status.
        raise ArrlError(f"the training script cannot be read: {where}: syntax error: {what}") from None


def _on_stop_signals(request_stop: Callable[[], None]) -> Callable[[], None]:
    """First Ctrl-C (or SIGTERM): end the running experiment, record it, stop. Second: force."""
    previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    asked: list[int] = []

    def handler(signum: int, frame: Any) -> None:
        if asked:
            signal.default_int_handler(signum, frame)
        asked.append(signum)
        what = "Ctrl-C" if signum == signal.SIGINT else signal.Signals(signum).name
        click.echo(f"\narrl: stopping on {what}: ending the running experiment(s) and recording them "
                   f"({what} again to force)", err=True)
        request_stop()

    for signum in previous:
        signal.signal(signum, handler)

    def restore() -> None:
        for signum, old in previous.items():
            signal.signal(signum, old)

    return restore


# --- reproduce ---------------------------------------------------------------------------

@main.command()
@click.argument("experiment_id", metavar="ID", type=click.IntRange(min=0))
@click.option("--run", "run_id", help="Run id (default: the latest run).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_obj
def reproduce(inv: Invocation, experiment_id: int, run_id: str | None, as_json: bool) -> None:
    """Run experiment ID again from its commit, with its seed, in the run's environment, and
    report the difference from the recorded result in noise floors."""
    from arrl.results.reproduce import as_dict, check_environment, find_record, pick_run
    from arrl.results.reproduce import reproduce as reproduce_experiment
    from arrl.run.components import build_one

    from .config import merge_cli, settings_from
    from .manager import Registry, plugin_manager

    current, base = _settings(inv)
    run = pick_run(base / current.runs_dir, run_id)
    meta = run.load_meta()
    # The run's own settings (metric, budget, runner and its options), as when it ran.
    settings = settings_from(merge_cli(dict(meta.settings), inv.plugins, inv.options), f"settings of run {meta.run_id}")
    record = find_record(run, experiment_id)
    _, repo_root, relative = _resolve_script(settings, base)
    context = _context(settings, run.path, repo_root, relative)
    (runner_name,) = settings.plugin_names("runner")
    runner = build_one(Registry(plugin_manager()), settings, context, "runner")
    try:
        check_environment(run, runner_name, runner)
        click.echo(f"arrl: reproducing experiment {record.id} of run {run.run_id} "
                   f"(budget {settings.budget:g}s)...", err=True)
        result = reproduce_experiment(run, record, settings, context, runner)
    finally:
        runner.close()
    click.echo(json.dumps(as_dict(result), indent=2) if as_json else result.summary())
    sys.exit(0 if result.outcome.value == "ok" else 1)


# --- validate ----------------------------------------------------------------------------

@main.command()
@click.option("--baseline", required=True, type=click.Path(path_type=Path, dir_okay=False),
              help="The trusted script the proposal was made from.")
@click.argument("proposed", type=click.Path(path_type=Path, dir_okay=False))
@click.pass_obj
def validate(inv: Invocation, baseline: Path, proposed: Path) -> None:
    """Run the configured validators on PROPOSED: exit 0 accepted, 1 rejected (with reasons)."""
    from arrl.run.components import build_chain, validate_chain

    from .manager import Registry, plugin_manager

    texts = []
    for path in (baseline, proposed):
        try:
            texts.append(path.read_text())
        except (OSError, UnicodeDecodeError) as error:
            raise ConfigError(f"cannot read {path}: {getattr(error, 'strerror', None) or error}") from None
    settings, base = _settings(inv)
    chain = build_chain(Registry(plugin_manager()), settings, _context(settings, base, base, str(proposed)))
    issues = validate_chain(chain, texts[1], texts[0]).issues
    if not issues:
        click.echo(f"{proposed}: accepted by {', '.join(settings.plugin_names('validator'))}")
        return
    for issue in issues:
        where = f"{proposed}:{issue.line}" if issue.line else str(proposed)
        click.echo(f"{where}: [{issue.validator}] {issue.message}")
    click.echo(f"{proposed}: rejected ({len(issues)} issue{'s' if len(issues) > 1 else ''})")
    sys.exit(1)


# --- image -------------------------------------------------------------------------------

@main.group()
def image() -> None:
    """Manage the image a container runner executes experiments in."""


@image.command("build")
@click.pass_obj
def image_build(inv: Invocation) -> None:
    """Build the run image from this machine's files (no registry): arrl --plugin runner=podman image build"""
    from arrl.run.components import build_one

    from .manager import Registry, plugin_manager

    settings, base = _settings(inv)
    (name,) = settings.plugin_names("runner")
    runner = build_one(Registry(plugin_manager()), settings, _context(settings, base, base, settings.script), "runner")
    click.echo(f"arrl: building the {name} run image from this machine's files...", err=True)
    image_id = runner.build_image()
    fingerprint = runner.fingerprint()
    click.echo(f"arrl: built {getattr(getattr(runner, 'options', None), 'image', '')} {image_id}")
    click.echo(f"arrl: environment hash {fingerprint.get('environment_hash', '-')}")
    runner.close()


# --- init --------------------------------------------------------------------------------

def _the_training_script(folder: Path) -> Path:
    """The one Python file in ``folder`` that prints ``arrl:`` lines; else a refusal that lists
    what there is."""
    found = sorted(p.name for p in folder.glob("*.py") if p.is_file())
    speaking = [name for name in found if "arrl:" in (folder / name).read_text(errors="replace")]
    if len(speaking) == 1:
        return Path(speaking[0])
    if speaking:
        listed = f"these print `arrl:` lines: {', '.join(speaking)}"
    elif found:
        listed = (f"none of {', '.join(found[:8])}{' ...' if len(found) > 8 else ''} prints an `arrl:` line yet; "
                  "README's \"Using it on your script\" says how")
    else:
        listed = "there is no Python file in this folder"
    raise ConfigError(f"name the training script: `arrl init train.py` ({listed})")


@main.command()
@click.argument("script", type=click.Path(path_type=Path, dir_okay=False), required=False)
@click.option("--metric", help="The metric the script prints (default: guessed from its `arrl:` lines).")
@click.option("--maximize/--minimize", default=None, help="The metric's direction (default: guessed from its name).")
@click.option("--budget", type=click.FloatRange(min=0, min_open=True), default=300.0, show_default=True,
              help="Wall-clock seconds per experiment.")
@click.option("--force", is_flag=True, help="Overwrite an existing arrl.toml.")
def init(script: Path | None, metric: str | None, maximize: bool | None, budget: float, force: bool) -> None:
    """Write arrl.toml for SCRIPT: metric, direction, budget and the [space] `arrl inspect` finds.
    Without SCRIPT, the one training script in this folder (one that prints `arrl:` lines)."""
    from arrl.script.reader import ScriptError
    from arrl.script.scaffold import guess_direction, guess_metric, scaffold

    if script is None:
        script = _the_training_script(Path.cwd())
        click.echo(f"arrl: using {script} (the script in this folder that prints `arrl:` lines)", err=True)
    target = Path("arrl.toml")
    if target.exists() and not force:
        raise ConfigError(f"{target.resolve()} exists; edit it, or pass --force to replace it")
    if not math.isfinite(budget):
        raise ConfigError(f"--budget must be finite, got {budget:g}")
    try:
        source = script.read_text()
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"cannot read {script}: {getattr(error, 'strerror', None) or error}") from None
    metric = metric or guess_metric(source)
    if metric is None:
        raise ConfigError(f"{script} prints no `arrl: NAME=<number>` line, so the metric cannot be guessed: "
                          "add one (see docs/script-contract.md) or pass --metric")
    direction = ("maximize" if maximize else "minimize") if maximize is not None else guess_direction(metric)
    relative = os.path.relpath(script.resolve(), Path.cwd().resolve())
    try:
        text = scaffold(source, Path(relative).as_posix(), metric, direction, budget, script.resolve().parent)
    except (ScriptError, ValueError) as error:
        raise ArrlError(str(error)) from None
    target.write_text(text)
    click.echo(text, nl=False)
    click.echo(f"arrl: wrote {target}; check it with `arrl inspect`, commit it, then `arrl run`", err=True)


# --- inspect -----------------------------------------------------------------------------

@main.command()
@click.argument("script", required=False, type=click.Path(path_type=Path, dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--space", "space_only", is_flag=True,
              help="Print only a ready [space] table for the candidates (append it to arrl.toml).")
@click.option("--trace", "traced", is_flag=True,
              help="Run the script once first, through the runner and under the budget, to see what is live "
                   "(the main optimizer's lr, the batch, code never called); a probe, not an experiment.")
@click.pass_obj
def inspect(inv: Invocation, script: Path | None, as_json: bool, space_only: bool, traced: bool) -> None:
    """Show the fields and knobs SCRIPT sets, where, and what else looks tunable."""
    from arrl.script.candidates import candidates_toml, find_candidates
    from arrl.script.reader import ScriptError, extract
    from arrl.script.space import build_space

    from .schema import FIELD_NAMES

    settings, base = _settings(inv)
    path = script if script is not None else (base / settings.script if settings.script else None)
    if path is None:
        raise ConfigError("no script: pass SCRIPT or set `script` in arrl.toml")
    try:
        source = path.read_text()
    except OSError as error:
        raise ConfigError(f"cannot read {path}: {error.strerror}") from None
    space_settings = settings.space_settings()
    facts = _probe_for_inspect(inv, settings, base, path) if traced else None
    try:
        found = extract(source, str(path), settings.fields, space_settings.knobs, path.parent, facts, settings.args)
    except (ScriptError, ValueError) as error:
        raise ArrlError(str(error)) from None
    space = build_space(found.values, space_settings, tuple(found.editable))
    candidates, hands_off = find_candidates(source, found, space_settings.exclude)
    toml = candidates_toml(candidates, os.path.relpath(path))
    if space_only:
        click.echo(toml, nl=False)
        return
    def where_of(line: int, file: str = "") -> str:
        return f"{os.path.relpath(path.parent / file) if file else os.path.relpath(path)}:{line}"

    rows: list[dict[str, Any]] = []
    for name in (*FIELD_NAMES, *space_settings.knobs):
        site = found.sites.get(name)
        kind = "field" if name in FIELD_NAMES else "knob"
        if site is None:
            status = found.problems.get(name, "missing" if kind == "field" else "not found in the script")
            rows.append({"field": name, "kind": kind, "value": None, "where": "", "as": "", "style": "",
                         "status": status})
            continue
        if name in space_settings.exclude:
            status = "excluded in the config"
        elif name in found.invalid:
            status = found.invalid[name]
        elif not site.editable:
            status = f"read-only: {site.note}"
        elif name in space:
            status = "ok" if kind == "field" else f"tunable ({_describe_domain(space[name])})"
            if name in found.out_of_range:
                status = f"ok (outside the design range; the domain grows to {_describe_domain(space[name])})"
            elif site.note:
                status = f"{status} ({site.note})"
        else:
            status = "ok"
        rows.append({"field": name, "kind": kind, "value": site.value, "where": where_of(site.line, site.file),
                     "as": site.path, "style": site.style, "status": status})
    for site in sorted(found.overridden.values(), key=lambda s: s.line):
        rows.append({"field": site.path, "kind": "overridden", "value": site.value, "where": where_of(site.line, site.file),
                     "as": site.path, "style": site.style, "status": f"overridden: {site.note}; never proposed"})
    for site in sorted(found.inert.values(), key=lambda s: s.line):
        rows.append({"field": site.path, "kind": "inert", "value": site.value, "where": where_of(site.line, site.file),
                     "as": site.path, "style": site.style, "status": f"{site.note}; never proposed"})
    for candidate in candidates:
        rows.append({"field": candidate.name, "kind": "candidate", "value": candidate.value,
                     "where": where_of(candidate.line, candidate.file), "as": candidate.name, "style": candidate.style,
                     "status": "candidate"})
    for item in hands_off:
        rows.append({"field": item.name, "kind": "hands-off", "value": item.value, "where": where_of(item.line, item.file),
                     "as": item.name, "style": "", "status": f"hands off: {item.reason}"})
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    table = [r for r in rows if r["kind"] in ("field", "knob")]
    _print_table(("FIELD", "VALUE", "WHERE", "AS", "STATUS"),
                 [(str(r["field"]), "-" if r["value"] is None else repr(r["value"]), r["where"] or "-",
                   r["as"] or "-", str(r["status"])) for r in table])
    present = sum(1 for r in table if r["value"] is not None and r["kind"] == "field")
    click.echo(f"{present} of {len(FIELD_NAMES)} fields found; arrl proposes changes only to those marked ok.")
    others = [r for r in rows if r["kind"] not in ("field", "knob")]
    if others:
        click.echo("\nOther constants:")
        _print_table(("NAME", "VALUE", "WHERE", "STATUS"),
                     [(str(r["field"]), repr(r["value"]), r["where"], str(r["status"])) for r in others])
    if candidates:
        click.echo("\nTo tune the candidates, add this to arrl.toml (or run `arrl inspect --space >> arrl.toml`):\n")
        click.echo(toml, nl=False)


def _probe_for_inspect(inv: Invocation, settings: Any, base: Path, path: Path) -> Any:
    """``inspect --trace``: the probe's facts about ``path``, or None (said why) without one."""
    from arrl.run.components import build_one
    from arrl.run.liveness import probe_tree
    from arrl.trace import facts

    from .manager import Registry, plugin_manager

    repo_root = _repo_root(path.parent.resolve())
    relative = path.resolve().relative_to(repo_root).as_posix()
    runner = build_one(Registry(plugin_manager()), settings, _context(settings, base, repo_root, relative), "runner")
    click.echo(f"arrl: probing {relative} (budget {settings.budget:g}s, runner "
               f"{settings.plugin_names('runner')[0]})...", err=True)
    try:
        trace, result = probe_tree(runner, repo_root, relative, tuple(settings.args), settings.budget, settings.seed,
                                   {"ARRL_METRIC": settings.metric, "ARRL_BUDGET_SECONDS": f"{settings.budget:g}"})
    finally:
        runner.close()
    if trace is None:
        click.echo(f"arrl: the probe wrote no trace ({result.outcome.value}: {result.failure_reason or 'no reason'}); "
                   "showing the reading alone", err=True)
        return None
    ended = "ran to its end" if trace["complete"] else f"ended {result.outcome.value}"
    click.echo(f"arrl: the probe {ended} in {result.wall_clock_seconds:.1f}s", err=True)
    return facts(trace, relative, trace)


def _describe_domain(field: Any) -> str:
    if field.kind == "bool":
        return "true/false"
    if field.kind == "choice":
        return "one of " + ", ".join(map(str, field.choices))
    return f"{field.low:g}..{field.high:g}{' log' if field.log else ''}"


# --- plugins -----------------------------------------------------------------------------

@main.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--options", "with_options", is_flag=True, help="List each plugin's options with their defaults.")
def plugins(as_json: bool, with_options: bool) -> None:
    """List the installed implementations of each role; * marks the default."""
    from .catalog import is_default, options_of
    from .manager import Registry, plugin_manager

    manager = plugin_manager()
    registrations = Registry(manager).all()
    failed = list(manager.load_errors.values())
    if as_json:
        rows = [{"role": r.role, "name": r.name, "default": is_default(r), "package": r.package,
                 "version": r.version, "plugin": r.plugin, "summary": r.summary, "options": options_of(r)}
                for r in registrations]
        broken = [{"plugin": f.name, "package": f.package, "version": f.version, "error": f.error}
                  for f in failed]
        click.echo(json.dumps({"implementations": rows, "failed": broken}, indent=2))
        return
    table = [(r.role, r.name + (" *" if is_default(r) else ""), r.package, r.version, r.summary)
             for r in registrations]
    _print_table(("ROLE", "NAME", "PACKAGE", "VERSION", "SUMMARY"), table)
    click.echo("* the default of its role; choose another with --plugin ROLE=NAME")
    if with_options:
        for r in registrations:
            options = options_of(r)
            click.echo(f"\n{r.role} {r.name}: " + ("no options" if not options else f"-o {r.role}.OPTION=VALUE"))
            for o in options:
                click.echo(f"  {o['name']} = {json.dumps(o['default'])}  ({o['type']})")
    for f in failed:
        click.echo(f.problem(), err=True)


# --- reading results -------------------------------------------------------------------------

_run_option = click.option("--run", "run_id", metavar="RUN", help="Run id or a prefix of it (default: the latest run).")
_json_option = click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")


def _results(inv: Invocation, run_id: str | None) -> Any:
    from arrl.results.tables import RunResults, pick_run

    settings, base = _settings(inv)
    return RunResults.load(pick_run(base / settings.runs_dir, run_id))


@main.command()
@_run_option
@click.option("--tsv", is_flag=True, help="Tab-separated output with a header row.")
@_json_option
@click.pass_obj
def history(inv: Invocation, run_id: str | None, tsv: bool, as_json: bool) -> None:
    """Show the experiments of a run; * marks the best."""
    from arrl.results.tables import HISTORY_HEADERS, history_rows

    results = _results(inv, run_id)
    if as_json:
        click.echo(json.dumps(results.as_dict(), indent=2))
        return
    rows = history_rows(results)
    if tsv:
        click.echo("\t".join(HISTORY_HEADERS))
        for row in rows:
            click.echo("\t".join(c.replace("\t", " ") for c in row))
        return
    meta = results.meta
    click.echo(f"run {meta.run_id} ({meta.status.value}{': ' + meta.status_reason if meta.status_reason else ''})")
    click.echo(f"baseline {results.baseline_summary.text()}")
    _print_table(HISTORY_HEADERS, rows)


@main.command()
@_json_option
@click.pass_obj
def runs(inv: Invocation, as_json: bool) -> None:
    """List every run, oldest first, with its best result."""
    from arrl.results.tables import run_summaries

    settings, base = _settings(inv)
    summaries = run_summaries(base / settings.runs_dir)
    if as_json:
        click.echo(json.dumps(summaries, indent=2))
        return
    if not summaries:
        raise ArrlError(f"no runs in {base / settings.runs_dir}; start one with `arrl run`")

    def number(value: float | None) -> str:
        return "-" if value is None else f"{value:.6g}"

    def baseline(summary: dict[str, Any]) -> str:
        floor = summary["baseline_noise_floor"]
        return number(summary["baseline_value"]) + ("" if floor is None else f" ± {floor:.2g}")

    _print_table(("RUN", "STATUS", "SCRIPT", "EXPERIMENTS", "BASELINE (MEAN ± FLOOR)", "BEST", "BEST ID"),
                 [(s["run_id"], s["status"], s["script"], str(s["experiments"]), baseline(s),
                   number(s["best_value"]), "-" if s["best_id"] is None else str(s["best_id"]))
                  for s in summaries])


@main.command()
@click.argument("experiment")
@_run_option
@_json_option
@click.pass_obj
def show(inv: Invocation, experiment: str, run_id: str | None, as_json: bool) -> None:
    """Show one experiment (an id, or `best`), failed ones included, with its diff."""
    from arrl.results.tables import record_dict, show_lines

    results = _results(inv, run_id)
    record = results.get(experiment)
    if as_json:
        click.echo(json.dumps(record_dict(record, results.best), indent=2))
        return
    click.echo("\n".join(show_lines(results, record)))


@main.command()
@click.argument("experiment")
@click.option("--baseline", "against_baseline", is_flag=True, help="Against the run's baseline instead of the parent.")
@_run_option
@click.pass_obj
def diff(inv: Invocation, experiment: str, against_baseline: bool, run_id: str | None) -> None:
    """The diff of one experiment (an id, or `best`) against its parent, or the baseline."""
    results = _results(inv, run_id)
    record = results.get(experiment)
    text = record.diff_baseline if against_baseline else record.diff_parent
    if text:
        click.echo(text, nl=not text.endswith("\n"))


@main.command()
@_run_option
@_json_option
@click.pass_obj
def best(inv: Invocation, run_id: str | None, as_json: bool) -> None:
    """The best experiment of a run, and how to take it home."""
    from arrl.results.tables import format_value, record_dict, show_lines

    results = _results(inv, run_id)
    record = results.get("best")
    if as_json:
        click.echo(json.dumps(record_dict(record, record), indent=2))
        return
    if record.proposer == "baseline":
        click.echo(f"the unmodified script (experiment {record.id}) is still the best: "
                   f"{record.metric_name} {format_value(record.value)}; no edit beat it")
        return
    click.echo("\n".join(show_lines(results, record)))
    click.echo("\n`arrl diff best --baseline` shows the whole change; `arrl apply best` commits it on your branch")


@main.command()
@_run_option
@click.option("--output", "-O", "output", type=click.Path(path_type=Path, dir_okay=False),
              help="Write to this file (default: standard output).")
@click.option("--format", "fmt", type=click.Choice(["tsv", "csv"]), default=None,
              help="Default: from the file's extension, else tsv.")
@click.pass_obj
def export(inv: Invocation, run_id: str | None, output: Path | None, fmt: str | None) -> None:
    """Write a run's experiments as TSV or CSV (autoresearch's results.tsv columns first)."""
    from arrl.results.tables import export_table, write_delimited

    from .output import counted

    results = _results(inv, run_id)
    if fmt is None:
        fmt = "csv" if output is not None and output.suffix.lower() == ".csv" else "tsv"
    headers, rows = export_table(results)
    text = write_delimited(headers, rows, "," if fmt == "csv" else "\t")
    if output is None:
        click.echo(text, nl=False)
        return
    try:
        output.write_text(text)
    except OSError as error:
        raise ArrlError(f"cannot write {output}: {error.strerror or error}") from None
    click.echo(f"arrl: wrote {counted(len(rows), 'experiment')} to {output}", err=True)


@main.command()
@click.argument("experiment")
@_run_option
@click.option("--patch", "patch", type=click.Path(path_type=Path, dir_okay=False),
              help="Write the change to this patch file instead of committing it.")
@click.pass_obj
def apply(inv: Invocation, experiment: str, run_id: str | None, patch: Path | None) -> None:
    """Commit an experiment's change from the baseline (an id, or `best`) on your current
    branch, applied three-way; on a conflict or uncommitted changes nothing is touched."""
    from arrl.results.apply import apply_to_branch, write_patch

    results = _results(inv, run_id)
    record = results.get(experiment)
    repo = Path(results.meta.repo_root)
    if not repo.is_dir():  # the project was moved since the run: the repository it is in now
        repo = _repo_root(Path.cwd())
    if patch is not None:
        write_patch(patch, repo, results, record)
        click.echo(f"arrl: wrote experiment {record.id}'s change from the baseline to {patch} (`git apply {patch}`)")
        return
    applied = apply_to_branch(repo, results, record)
    click.echo(f"arrl: committed experiment {record.id} on {applied.branch} as {applied.commit[:10]} "
               f"({', '.join(applied.files)})")


@main.command()
@_run_option
@click.option("--output", "-O", "output", type=click.Path(path_type=Path, file_okay=False),
              help="Folder for report.html and the PNG plots (default: the run's report/ folder).")
@click.pass_obj
def report(inv: Invocation, run_id: str | None, output: Path | None) -> None:
    """Write a self-contained HTML report and PNG plots of a run (needs the `report` extra)."""
    from arrl.results.report import write_report

    results = _results(inv, run_id)
    made = write_report(results, output if output is not None else results.run.path / "report")
    click.echo(f"arrl: wrote {made.html} and {len(made.plots)} plots beside it")


def _print_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(headers)]
    for row in [headers, *rows]:
        click.echo("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip())


if __name__ == "__main__":  # pragma: no cover
    main()
