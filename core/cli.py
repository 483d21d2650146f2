"""The ``arrl`` command line.

Errors arrl expects are printed as one line (``arrl: error: ...``) with a non-zero exit code;
``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import json
import os
import math
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable, NoReturn, Sequence

import click

from . import __version__
from .config import Settings, find_config, load_file, merge_cli, settings_from
from .errors import ArrlError, ConfigError
from .journal import RunDirectory
from .records import converter


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
    path = inv.config or find_config(Path.cwd())
    if inv.config is not None and not inv.config.is_file():
        raise ConfigError(f"config file {inv.config} does not exist")
    if path is None:
        return {}, Path.cwd()
    return load_file(path), path.parent.resolve()


def _settings(inv: Invocation) -> tuple[Settings, Path]:
    """The project's settings with this command line's --plugin and -o applied, and its folder."""
    data, base = _project_data(inv)
    return settings_from(merge_cli(data, inv.plugins, inv.options)), base


def _context(settings: Settings, run_dir: Path, repo_root: Path, script_path: str) -> Any:
    from .roles import PluginContext

    return PluginContext(run_dir=run_dir, repo_root=repo_root, script_path=script_path, metric=settings.metric,
                         direction=settings.direction, budget_seconds=settings.budget, seed=settings.seed,
                         field_map=dict(settings.fields))


def _repo_root(directory: Path) -> Path:
    try:
        out = subprocess.run(["git", "-C", str(directory), "rev-parse", "--show-toplevel"],
                             capture_output=True, text=True, check=True)
        return Path(out.stdout.strip())
    except (subprocess.CalledProcessError, FileNotFoundError):
        return directory


def _resolve_script(settings: Settings, base: Path) -> tuple[Path, Path, str]:
    if not settings.script:
        raise ConfigError("no training script: pass SCRIPT or set `script` in arrl.toml")
    script = (base / settings.script).resolve()
    if not script.is_file():
        raise ConfigError(f"script {script} does not exist")
    repo_root = _repo_root(script.parent)
    return script, repo_root, script.relative_to(repo_root).as_posix()


# --- run -----------------------------------------------------------------------------------

@main.command()
@click.argument("script", required=False)
@click.option("--new", is_flag=True, help="Start a new run instead of continuing the latest unfinished one.")
@click.option("--max-experiments", type=click.IntRange(min=1), help="Stop once the run holds this many experiments.")
@click.option("--max-hours", type=click.FloatRange(min=0, min_open=True), help="Stop after this many hours.")
@click.option("--target", type=float, help="Stop once the metric reaches this value.")
@click.option("--budget", type=float, help="Wall-clock seconds per experiment (default 300).")
@click.option("--metric", help="Metric name the script prints (default val_loss).")
@click.option("--maximize", is_flag=True, default=None, help="The metric is better when higher.")
@click.option("--seed", type=int, help="Seed of the proposer and of the scripts (ARRL_SEED).")
@click.pass_obj
def run(inv: Invocation, script: str | None, new: bool, **overrides: Any) -> None:
    """Run experiments: continues the latest unfinished run unless --new."""
    _run(inv, script, new, overrides, must_continue=False)


@main.command()
@click.option("--max-experiments", type=click.IntRange(min=1), help="Stop once the run holds this many experiments.")
@click.option("--max-hours", type=float, help="Stop after this many hours.")
@click.option("--target", type=float, help="Stop once the metric reaches this value.")
@click.pass_obj
def resume(inv: Invocation, **overrides: Any) -> None:
    """Continue the latest paused or interrupted run."""
    _run(inv, None, False, overrides, must_continue=True)


def _run(inv: Invocation, script: str | None, new: bool, overrides: dict[str, Any],
         must_continue: bool) -> None:
    from .assembly import assemble_loop, check_choices
    from .manager import Registry, plugin_manager

    data, base = _project_data(inv)
    explicit: dict[str, Any] = {k: v for k, v in overrides.items() if v is not None}
    if explicit.pop("maximize", None):
        explicit["direction"] = "maximize"
    if "budget" in explicit and not explicit["budget"] > 0:
        raise ConfigError(f"--budget must be greater than 0, got {explicit['budget']:g}")
    if script:
        explicit["script"] = script
        base = Path.cwd()
    settings = settings_from(merge_cli({**data, **explicit}, inv.plugins, inv.options))
    runs_dir = base / settings.runs_dir
    run_dir = None if new else RunDirectory.latest_unfinished(runs_dir)
    if run_dir is None and must_continue:
        raise ArrlError(f"no paused or interrupted run in {runs_dir}; start one with `arrl run`")
    if run_dir is not None:
        # A continued run keeps the settings it started with; only what is given on this
        # command line (stop conditions, plugin choices, options) changes.
        meta = run_dir.load_meta()
        stored = {k: v for k, v in meta.settings.items()
                  if k not in ("max_experiments", "max_hours", "target")}
        # Trackers only watch, so a continued run takes them from the configuration as it is now.
        stored["tracking"] = data.get("tracking", {})
        settings = settings_from(merge_cli({**stored, **explicit}, inv.plugins, inv.options),
                                 f"settings of run {meta.run_id}")
    manager = plugin_manager()
    registry = Registry(manager)
    check_choices(registry, settings)
    script_path, repo_root, relative = _resolve_script(settings, base)
    if run_dir is None:
        run_dir = RunDirectory.create(runs_dir, converter.unstructure(settings), repo_root)
        click.echo(f"arrl: run {run_dir.run_id} in {run_dir.path}", err=True)
    else:
        meta = run_dir.load_meta()
        click.echo(f"arrl: continuing run {meta.run_id} ({meta.status.value}"
                   f"{': ' + meta.status_reason if meta.status_reason else ''})", err=True)
    context = _context(settings, run_dir.path, repo_root, relative)
    loop = assemble_loop(manager, settings, run_dir, context, report=lambda line: click.echo(line))
    restore = _on_stop_signals(loop.abort.set)
    try:
        result = loop.run()
    finally:
        restore()
        loop.close()
    click.echo(f"arrl: {result.message}", err=True)
    sys.exit(result.exit_code)


def _on_stop_signals(request_stop: Callable[[], None]) -> Callable[[], None]:
    """First Ctrl-C (or SIGTERM): end the running experiment, record it, stop. Second: force."""
    previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    asked: list[int] = []

    def handler(signum: int, frame: Any) -> None:
        if asked:
            signal.default_int_handler(signum, frame)
        asked.append(signum)
        click.echo("\narrl: stopping: ending the running experiment and recording it "
                   "(Ctrl-C again to force)", err=True)
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
    from .assembly import build_one
    from .manager import Registry, plugin_manager
    from .reproduce import as_dict, check_environment, find_record, pick_run
    from .reproduce import reproduce as reproduce_experiment

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
    from .assembly import build_chain, validate_chain
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
    from .assembly import build_one
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


# --- inspect -----------------------------------------------------------------------------

@main.command()
@click.argument("script", required=False, type=click.Path(path_type=Path, dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_obj
def inspect(inv: Invocation, script: Path | None, as_json: bool) -> None:
    """Show which schema fields SCRIPT sets, where, and which are missing or out of range."""
    from .schema import FIELD_NAMES
    from .script import ScriptError, extract

    settings, base = _settings(inv)
    path = script if script is not None else (base / settings.script if settings.script else None)
    if path is None:
        raise ConfigError("no script: pass SCRIPT or set `script` in arrl.toml")
    try:
        source = path.read_text()
    except OSError as error:
        raise ConfigError(f"cannot read {path}: {error.strerror}") from None
    try:
        found = extract(source, str(path), settings.fields)
    except (ScriptError, ValueError) as error:
        raise ArrlError(str(error)) from None
    rows: list[dict[str, Any]] = []
    for name in FIELD_NAMES:
        site = found.sites.get(name)
        if site is None:
            status = found.problems.get(name, "missing")
            rows.append({"field": name, "value": None, "where": "", "as": "", "style": "", "status": status})
            continue
        status = found.out_of_range.get(name) or ("ok" if site.editable else f"read-only: {site.note}")
        if status == "ok" and site.note:
            status = f"ok ({site.note})"
        where = f"{os.path.relpath(path)}:{site.line}"
        rows.append({"field": name, "value": site.value, "where": where, "as": site.path,
                     "style": site.style, "status": status})
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    _print_table(("FIELD", "VALUE", "WHERE", "AS", "STATUS"),
                 [(str(r["field"]), "-" if r["value"] is None else repr(r["value"]), r["where"] or "-",
                   r["as"] or "-", str(r["status"])) for r in rows])
    present = sum(1 for r in rows if r["value"] is not None)
    click.echo(f"{present} of {len(rows)} fields found; arrl proposes changes only to those marked ok.")


# --- plugins -----------------------------------------------------------------------------

@main.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def plugins(as_json: bool) -> None:
    """List the installed implementations of each role."""
    from .manager import Registry, plugin_manager

    manager = plugin_manager()
    registrations = Registry(manager).all()
    failed = list(manager.load_errors.values())
    if as_json:
        rows = [{"role": r.role, "name": r.name, "package": r.package, "version": r.version,
                 "plugin": r.plugin, "summary": r.summary} for r in registrations]
        broken = [{"plugin": f.name, "package": f.package, "version": f.version, "error": f.error}
                  for f in failed]
        click.echo(json.dumps({"implementations": rows, "failed": broken}, indent=2))
        return
    table = [(r.role, r.name, r.package, r.version, r.summary) for r in registrations]
    _print_table(("ROLE", "NAME", "PACKAGE", "VERSION", "SUMMARY"), table)
    for f in failed:
        click.echo(f"failed to load: plugin {f.name!r} from {f.package} {f.version}: {f.error}", err=True)


# --- history -----------------------------------------------------------------------------

@main.command()
@click.option("--run", "run_id", help="Run id (default: the latest run).")
@click.option("--tsv", is_flag=True, help="Tab-separated output with a header row.")
@click.pass_obj
def history(inv: Invocation, run_id: str | None, tsv: bool) -> None:
    """Show the experiments of a run."""
    settings, base = _settings(inv)
    runs_dir = base / settings.runs_dir
    runs = RunDirectory.all(runs_dir)
    if run_id:
        runs = [r for r in runs if r.run_id == run_id]
        if not runs:
            names = ", ".join(r.run_id for r in RunDirectory.all(runs_dir)) or "none"
            raise ArrlError(f"no run {run_id!r} in {runs_dir}; runs: {names}")
    if not runs:
        raise ArrlError(f"no runs in {runs_dir}; start one with `arrl run`")
    run = runs[-1]
    headers = ("ID", "PARENT", "OUTCOME", "METRIC", "VALUE", "SECONDS", "REWARD", "KEPT", "COMMIT", "WHAT")
    rows = []
    for r in run.records():
        what = r.edit.description if r.edit else ("baseline" if r.id == 0 else r.proposer)
        if r.failure_reason:
            what = f"{what}: {r.failure_reason.splitlines()[0][:120]}"
        rows.append((
            str(r.id), "" if r.parent_id is None else str(r.parent_id), r.outcome.value,
            r.metric_name, f"{r.value:.6g}" if math.isfinite(r.value) else str(r.value),
            f"{r.wall_clock_seconds:.1f}", "" if r.reward is None else f"{r.reward:+.4f}",
            " ".join(m for m in ("yes" if r.kept else "", "noise" if r.within_noise else "") if m),
            r.commit[:10], what,
        ))
    if tsv:
        click.echo("\t".join(headers))
        for row in rows:
            click.echo("\t".join(c.replace("\t", " ") for c in row))
        return
    meta = run.load_meta()
    click.echo(f"run {meta.run_id} ({meta.status.value}{': ' + meta.status_reason if meta.status_reason else ''})")
    _print_table(headers, rows)


def _print_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(headers)]
    for row in [headers, *rows]:
        click.echo("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip())


if __name__ == "__main__":  # pragma: no cover
    main()
