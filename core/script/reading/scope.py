"""Where the walk is, and what names are bound there: the enclosing functions and classes, the
imports (``torch.backends... =`` is a library's setting, ``optim.`` reaches torch.optim), and
the classes the script defines (its own Lion, its LightningModule).

The enclosing names also say which fields a call there cannot set (:meth:`Scope.ignored_fields`).
"""

from __future__ import annotations

import attrs
import libcst as cst

from .names import EVALUATION_WORDS, FIELD_SET, words
from .syntax import dotted

# Name parts of functions and classes that make the task's data (a teacher network that labels
# it, a generator) or implement an activation: their calls are not the model's settings.
DATA_SCOPE_WORDS = frozenset({"data", "dataset", "datasets", "teacher", "synthetic", "labels", "targets"})
# Evaluation words that mark a function that measures (``def evaluate``, ``validation_step``); a
# seed or a split in a name (``def run_seed``) does not.
EVALUATION_SCOPE_WORDS = EVALUATION_WORDS - {"seed", "split"}
_ACTIVATION_WORDS = frozenset({"gelu", "silu", "swish", "relu", "tanh", "mish", "activation", "act"})
_TRAINING_WORDS = frozenset({"train", "training", "fit"})
_MODEL_BASES = frozenset({"LightningModule", "LightningDataModule", "Module"})
# Names of functions that build a configuration (minGPT's get_default_config, a yacs setup).
CONFIG_SCOPE_WORDS = frozenset({"config", "cfg", "configs", "defaults", "hparams", "hyperparameters", "settings"})
_ARCHITECTURE_FIELDS = frozenset({"num_layers", "hidden_dim", "attention_heads", "activation", "dropout_rate"})


@attrs.define
class Scope:
    """The walk's position: nesting, and the names imports and class definitions bind."""

    depth: int = 0  # function/class nesting: only module-level assignments are constants
    classes: list[tuple[str, bool]] = attrs.Factory(list)  # the enclosing module-level class, if any
    enclosing: list[tuple[str, bool]] = attrs.Factory(list)  # the enclosing functions and classes: (name, is a class)
    imported: set[str] = attrs.Factory(set)  # local names of imports: torch.backends... = is a library setting
    torch_optim_prefix: str | None = None  # how the script reaches torch.optim ("torch.optim.", "optim.")
    names_with_lion: set[str] = attrs.Factory(set)  # where a Lion optimizer is at hand
    model_classes: set[str] = attrs.Factory(set)  # the script's LightningModule, LightningDataModule, nn.Module

    @property
    def at_module_level(self) -> bool:
        return self.depth == 0 and not self.classes

    @property
    def in_class_body(self) -> bool:
        """Directly inside a module-level class (its fields), not in one of its methods."""
        return bool(self.classes) and self.depth == 1

    def enter_class(self, node: cst.ClassDef, is_config: bool) -> None:
        if node.name.value == "Lion" and self.at_module_level:
            self.names_with_lion.add("Lion")
        if self.depth == 0 and any(dotted(b.value).split(".")[-1] in _MODEL_BASES for b in node.bases):
            self.model_classes.add(node.name.value)
        if self.depth == 0:
            self.classes.append((node.name.value, is_config))
        self.depth += 1
        self.enclosing.append((node.name.value, True))

    def leave_class(self) -> None:
        self.depth -= 1
        self.enclosing.pop()
        if self.depth == 0:
            self.classes.pop()

    def enter_function(self, node: cst.FunctionDef) -> None:
        self.depth += 1
        self.enclosing.append((node.name.value, False))

    def leave_function(self) -> None:
        self.depth -= 1
        self.enclosing.pop()

    def import_from(self, node: cst.ImportFrom) -> None:
        module = dotted(node.module) if node.module else ""
        if isinstance(node.names, cst.ImportStar):
            return
        for alias in node.names:
            name = dotted(alias.name)
            local = alias.asname.name.value if alias.asname and isinstance(alias.asname.name, cst.Name) else name
            self.imported.add(local)
            if name == "Lion":
                self.names_with_lion.add(local)
            if module == "torch" and name == "optim":
                self.torch_optim_prefix = f"{local}."

    def import_(self, node: cst.Import) -> None:
        for alias in node.names:
            name = dotted(alias.name)
            local = alias.asname.name.value if alias.asname and isinstance(alias.asname.name, cst.Name) else name
            self.imported.add(local.split(".")[0])
            if name == "torch" and self.torch_optim_prefix is None:
                self.torch_optim_prefix = f"{local}.optim."
            elif name == "torch.optim":
                self.torch_optim_prefix = f"{local}." if alias.asname else "torch.optim."

    def ignored_fields(self) -> frozenset[str]:
        """The fields the calls here do not set, by the names of the enclosing functions and
        classes: none in code that measures the result (``def evaluate``: its own DataLoader's
        batch size games the metric), no architecture in code that makes the data (``def
        make_dataset`` with a teacher network: its nn.Tanh() is the task, not the model; its
        DataLoader's batch size is still training's), no activation inside one's implementation
        (``class NewGELU``: its torch.tanh is the formula). A name that says training
        (``def train_and_evaluate``) marks nothing."""
        ignored: set[str] = set()
        for name, is_class in self.enclosing:
            named = words(name)
            parts = set(named)
            if parts & _TRAINING_WORDS:
                continue
            if parts & EVALUATION_SCOPE_WORDS and not is_class:  # class MetricLearningNet is a model
                return FIELD_SET
            if parts & DATA_SCOPE_WORDS:
                ignored |= _ARCHITECTURE_FIELDS
            if named and named[-1] in _ACTIVATION_WORDS:  # NewGELU, not SiluMLP
                ignored.add("activation")
        return frozenset(ignored)
