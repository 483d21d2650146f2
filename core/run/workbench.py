"""What every attempt of one run works with, fixed once the run has started: the settings, the
built roles, the run directory, the event hooks, the unmodified script and the search space built
from it, the trusted evaluation's script, and the user's stop flag.
"""

from __future__ import annotations

import posixpath
import threading
import time
from collections.abc import Mapping
from pathlib import Path

import attrs
import pluggy

from arrl.config import Settings
from arrl.errors import ArrlError
from arrl.journal import RunDirectory
from arrl.manager import PluginManager
from arrl.roles import PluginContext
from arrl.schema import SchemaError
from arrl.script.reader import Extraction, ScriptError, extract
from arrl.script.space import Space, build_space
from arrl.trace import KEPT_PROBE, TRACE_NAMED_KNOB, Facts, TraceError, moved, read_kept

from .components import Components
from .evaluation import evaluation_script


def _kept_facts(run: RunDirectory, context: PluginContext, manager: PluginManager) -> Facts | None:
    """What a resumed run's baseline showed (arrl.run.liveness), read back instead of probed again."""
    try:
        return read_kept(run.path, context.script_path)
    except TraceError as error:
        manager.hook.arrl_note(run_id=run.run_id, at=time.time(),
                               message=f"the kept baseline trace cannot be read ({error}); the script is read without it")
        return None


def extract_script(context: PluginContext, script: str, facts: Facts | None = None,
                   files: Mapping[str, str] | None = None, baseline_files: Mapping[str, str] | None = None) -> Extraction:
    """The schema values, editable fields and choices of ``script``, a version of the run's script
    (``facts``: what its baseline run showed, arrl.run.liveness; ``files``: the config files it
    reads as that version has them, else those beside the script)."""
    path = context.script_path
    return extract(script, path, context.field_map, context.space.knobs, (context.repo_root / path).parent, facts,
                   context.args, files, baseline_files)


def in_repository(context: PluginContext, name: str) -> str:
    """A config file's path in the repository, from its name relative to the script's folder."""
    return posixpath.normpath(posixpath.join(posixpath.dirname(context.script_path), name))


def _committed(components: Components, context: PluginContext, commit: str, names: tuple[str, ...]) -> dict[str, str]:
    """The config files ``names`` as ``commit`` has them. One the rollback cannot read there (not
    committed, or a rollback that keeps the script alone) is the file beside the script, so that
    the loop and the proposer read the same texts; one that is neither is left out."""
    files: dict[str, str] = {}
    folder = (context.repo_root / context.script_path).parent
    for name in names:
        try:
            files[name] = components.rollback.read_file(commit, in_repository(context, name))
        except OSError:
            try:
                with open(folder / name, encoding="utf-8", newline="") as handle:
                    files[name] = handle.read()
            except (OSError, UnicodeDecodeError):
                continue
    return files


@attrs.define
class Workbench:
    """The run's fixed parts, as the loop's start leaves them; an attempt's only way to the run."""

    settings: Settings
    run_dir: RunDirectory
    components: Components
    manager: PluginManager
    context: PluginContext
    abort: threading.Event  # set by Ctrl-C (or a worker's error): experiments end, recorded
    workspace: Path
    baseline_commit: str
    baseline_script: str
    space: Space
    evaluate_path: str  # the trusted evaluation's script in the workspace; "" without `evaluate`
    _last_read: tuple[str, str] = attrs.field(default=("", ""), init=False)  # (commit, script): see read
    facts: Facts | None = attrs.field(default=None, init=False)  # what the baseline showed: use_facts
    # The config files the script reads (arrl.script.configs) as the baseline commit has them.
    baseline_files: dict[str, str] = attrs.field(factory=dict, init=False)
    _files_read: tuple[str, dict[str, str]] = attrs.field(default=("", {}), init=False)  # see read_files

    @classmethod
    def open(cls, settings: Settings, run: RunDirectory, components: Components, manager: PluginManager,
             context: PluginContext, abort: threading.Event) -> Workbench:
        """Stale processes of an earlier arrl removed (once, before any worker starts), the
        workspace opened, the unmodified script read and the run's space built from it."""
        removed = components.runner.cleanup_stale(run.run_id)
        if removed:
            manager.hook.arrl_note(run_id=run.run_id, at=time.time(),
                                   message=f"removed {removed} leftover process(es) of an earlier arrl process")
        workspace = components.rollback.open(run.run_id)
        baseline_commit, baseline_script = components.rollback.baseline()
        facts = _kept_facts(run, context, manager)
        try:
            baseline = extract_script(context, baseline_script, facts)
            # Read again as committed: the run's versions are commits, not the user's working tree.
            files = _committed(components, context, baseline_commit, baseline.config_files)
            if files:
                baseline = extract_script(context, baseline_script, facts, files, files)
        except (ScriptError, SchemaError) as error:
            raise ArrlError(f"the training script cannot be read: {error}") from None
        # The space is the baseline's: its values are always inside, and every proposal is
        # judged against it (arrl.script.space). Knobs only the trace names wait for it.
        declared = context.space if facts is not None else attrs.evolve(context.space, entries={
            name: entry for name, entry in context.space.entries.items() if not TRACE_NAMED_KNOB.search(name)})
        space = build_space(baseline.values, declared, tuple(baseline.editable), strict=True)
        evaluate_path = evaluation_script(settings.evaluate, context.script_path) if settings.evaluate else ""
        bench = cls(settings, run, components, manager, context, abort, workspace, baseline_commit, baseline_script,
                    space, evaluate_path)
        bench.facts, bench.baseline_files = facts, files
        return bench

    @property
    def hooks(self) -> pluggy.HookRelay:
        return self.manager.hook

    @property
    def run_id(self) -> str:
        return self.run_dir.run_id

    def note(self, message: str) -> None:
        """A line for run.log and the display (the ``arrl_note`` event)."""
        self.manager.hook.arrl_note(run_id=self.run_dir.run_id, message=message, at=time.time())

    def read(self, commit: str) -> str:
        """The script at ``commit``. A commit never changes, so the last one read is kept: every
        proposal reads the last good version, and asking git each time cost 10-15 ms of the
        one-at-a-time phase (benchmarks/scaling/scaling_simulated.py)."""
        if self._last_read[0] != commit or not commit:
            self._last_read = (commit, self.components.rollback.read(commit))
        return self._last_read[1]

    def read_files(self, commit: str) -> dict[str, str]:
        """The config files the script reads, as ``commit`` has them (the last one read is kept)."""
        if not self.baseline_files:
            return {}
        if self._files_read[0] != commit or not commit:
            self._files_read = (commit, _committed(self.components, self.context, commit, tuple(self.baseline_files)))
        return dict(self._files_read[1])

    def extract(self, script: str, files: Mapping[str, str] | None = None) -> Extraction:
        """A version's reading: ``script`` and its config files (default: the baseline's)."""
        facts = moved(self.facts, self.baseline_script, script) if self.facts is not None else None
        return extract_script(self.context, script, facts, files if files is not None else self.baseline_files or None,
                              self.baseline_files or None)

    @property
    def probed(self) -> bool:
        """Whether the baseline's trace and probe are kept (arrl.run.liveness): no more tracing."""
        return (self.run_dir.path / KEPT_PROBE).exists()

    def use_facts(self, facts: Facts) -> None:
        """Read the script with what its baseline showed from now on: the space is rebuilt
        around that reading (the main group's lr, the batch, inert knobs out)."""
        try:
            baseline = extract_script(self.context, self.baseline_script, facts, self.baseline_files or None,
                                      self.baseline_files or None)
            space = build_space(baseline.values, self.context.space, tuple(baseline.editable), strict=True)
        except (ScriptError, SchemaError) as error:
            self.note(f"the baseline trace is not used: {error}")
            return
        self.facts, self.space = facts, space
