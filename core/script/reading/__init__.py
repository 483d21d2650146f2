"""How arrl reads a training script: one module per style of script it reads, and the rules
that weigh what they find. :mod:`arrl.script.reader` is the way in (``extract``, ``apply_values``).

The style readers, each with the source forms it reads (the ``style`` of a :class:`.results.Site`):

=====================  ===========  ==========================================================
module                 style        source forms
=====================  ===========  ==========================================================
``constants``          constant     ``N_LAYERS = 6``, ``LR: float = 3e-4`` at module level
``dicts``              dict         ``CONFIG = {"lr": 3e-4, "optim": {"wd": 0.1}}``, ``dict(lr=3e-4)``
``classes``            class        ``@dataclass class Config: lr: float = 3e-4``,
                                    ``field(default=...)``, config-like classes' fields
``argparse_defaults``  argparse     ``parser.add_argument("--lr", default=3e-4, choices=[...])``
``function_defaults``  default      ``def main(lr: float = 6e-4)`` of an entry point
``attributes``         attribute    ``C.trainer.learning_rate = 5e-4``, ``_C.SOLVER.BASE_LR = 1e-3``
``calls``              call         ``AdamW(params, lr=LR)``, ``nn.Dropout(p=0.1)``,
                                    ``DataLoader(ds, batch_size=64)`` (a name or config attribute
                                    passed there traced to its literal);
                                    ``TrainingArguments(learning_rate=2e-5)``
``code``               code         ``torch.optim.SGD(...)``, ``nn.GELU()``, ``F.silu(x)``,
                                    ``CosineAnnealingLR(...)``, ``torch.autocast(...)``
``dispatch``           (its name's) ``if cfg.opt == "adam": ...``, ``ACTIVATIONS[cfg.act]``
``override_files``     constant     ``exec(open('configurator.py').read())``: the file's values
``command_line``       argparse     the ``args`` setting's flags, replacing argparse defaults
``config_files``       yaml         Hydra's ``@hydra.main`` config: each value of ``cfg`` at its file and
                                    key (``conf/optimizer/adam.yaml:lr``), ``_target_`` as the optimizer
=====================  ===========  ==========================================================

What the baseline run showed (:mod:`arrl.trace`) is joined in ``live``: code it never called is
inert, another optimizer's rate is a knob of its own, the batch is not the micro-batch.

Around them: ``syntax`` (parsing, literal values, dotted names), ``names`` (the aliases of each
field, the words of a name), ``scope`` (the enclosing functions and classes, what imports bind),
``walk`` (which reader sees which node), ``findings`` (what the walk gathers), ``tracing`` (what a
name or config attribute passed somewhere stands for), ``aliases`` (fields found by a literal's
name, dtype strings, schedule flags), ``draft`` and ``extraction`` (the rules, in order of
precedence, that settle each field), ``results`` (``Site``, ``Extraction``) and ``writer``
(new values written back, byte-exact elsewhere).
"""
