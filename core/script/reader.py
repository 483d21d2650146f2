"""Reading schema values out of a training script and writing new ones back, byte-exact elsewhere.

Scripts are written in many styles, and arrl reads the common ones:

- module-level constants: ``N_LAYERS = 6`` (last assignment wins);
- config dicts: ``CONFIG = {"lr": 3e-4, "optim": {"wd": 0.1}}`` (nested keys too);
- config classes: ``@dataclass class Config: lr: float = 3e-4`` (also ``field(default=...)``);
- argparse defaults: ``parser.add_argument("--lr", type=float, default=3e-4)``;
- keyword (and the usual positional) arguments of well-known calls:
  ``torch.optim.AdamW(params, lr=LR, weight_decay=0.1)``, ``nn.Dropout(p=0.1)``,
  ``clip_grad_norm_(params, 1.0)``, ``DataLoader(ds, batch_size=64)``, ... A name passed there
  (``lr=LR``) is traced back to the module-level assignment that sets it;
- choices written as code: ``torch.optim.SGD(...)``, ``nn.GELU()``, ``CosineAnnealingLR(...)``.

Names are matched through explicit aliases (``n_layer``, ``depth``, ``num_layers``; ``lr``,
``learning_rate``; ...). Anything else the user maps in the config file (``[fields]
learning_rate = "TrainConfig.base_lr"``). Where a value is both named and passed to a call, the
call's argument is what the code really uses, so it wins.

Editing is done on the concrete syntax tree (libcst), so comments, formatting and every byte
that is not a targeted value survive. Switching an optimizer written as code rewrites the call
and drops keyword arguments the new optimizer does not accept (``betas`` for SGD).

This module is the way in; the work is done in :mod:`arrl.script.reading`, one module per style
of script (its docstring lists which module reads which source forms), the rules that weigh
what they find, and the writer.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from arrl.schema import Value

from .reading.extraction import extract
from .reading.names import (
    ALIASES,
    EVALUATION_WORDS,
    FIELD_SET,
    is_evaluation_name,
    spells_a_field,
    words,
    words_joined,
)
from .reading.results import Extraction, Site
from .reading.scope import DATA_SCOPE_WORDS
from .reading.syntax import ScriptError, parse
from .reading.writer import Program, apply_edit, apply_values, changed_lines, format_value, program_hash, unified_diff

if TYPE_CHECKING:
    from arrl.records import Observation
    from arrl.roles import PluginContext


def edit_observed(observation: Observation, changes: Mapping[str, Value], context: PluginContext) -> Program:
    """A proposer's edit of the version it observes: :func:`apply_edit` with all the observation
    and the plugin's context hold (the script's path, the user's ``[fields]``, the run's domains,
    what the baseline showed, the config files, the script's arguments). Send it as
    ``Proposal(program.script, edit, files=program.files)``; ``program.hash(observation.files)`` is
    what ``observation.tried`` holds. Raises :class:`SchemaError` for a value the version cannot take."""
    return apply_edit(observation.script, changes, context.script_path, context.field_map, observation.space,
                      facts=observation.facts, files=observation.files or None, args=context.args)


__all__ = ["ALIASES", "DATA_SCOPE_WORDS", "EVALUATION_WORDS", "FIELD_SET", "Extraction", "Program", "ScriptError", "Site",
           "apply_edit", "apply_values", "changed_lines", "edit_observed", "extract", "format_value", "is_evaluation_name", "parse",
           "program_hash", "spells_a_field", "unified_diff", "words", "words_joined"]
