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
"""

from __future__ import annotations

import ast
import difflib
import functools
import hashlib
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs
import libcst as cst
from libcst.metadata import MetadataWrapper, PositionProvider

from arrl.schema import FIELDS_BY_NAME, SchemaError, Value, check_heads

if TYPE_CHECKING:
    from .space import Space

ALIASES: Mapping[str, tuple[str, ...]] = {
    "num_layers": ("num_layers", "n_layers", "n_layer", "layers", "depth", "num_blocks", "n_blocks",
                   "num_hidden_layers"),
    "hidden_dim": ("hidden_dim", "hidden_size", "d_model", "n_embd", "n_embed", "embed_dim", "width", "dim",
                   "hidden", "model_dim"),
    "attention_heads": ("attention_heads", "num_heads", "n_heads", "n_head", "heads", "nhead",
                        "num_attention_heads"),
    "activation": ("activation", "act", "activation_fn", "nonlinearity", "hidden_act"),
    "dropout_rate": ("dropout_rate", "dropout", "p_dropout", "p_drop", "drop_rate", "drop", "hidden_dropout_prob",
                     "dropout_prob"),
    "optimizer": ("optimizer", "optimizer_type", "optim", "opt", "optimizer_name", "opt_name"),
    "learning_rate": ("learning_rate", "lr", "base_lr", "max_lr"),
    "weight_decay": ("weight_decay", "wd"),
    "scheduler": ("scheduler", "lr_scheduler", "lr_schedule", "schedule", "lr_scheduler_type", "scheduler_type"),
    "batch_size": ("batch_size", "bs", "train_batch_size", "per_device_train_batch_size", "device_batch_size",
                   "micro_batch_size"),
    "gradient_clip": ("gradient_clip", "grad_clip", "clip_grad_norm", "max_grad_norm", "clip", "clip_norm",
                      "gradient_clip_val", "grad_norm_clip"),
    "mixed_precision": ("mixed_precision", "amp", "use_amp", "autocast", "fp16", "bf16", "use_fp16", "use_bf16"),
}
_FIELD_FOR_ALIAS = {alias: field for field, names in ALIASES.items() for alias in names}

# Calls whose arguments carry schema values: callee name -> {keyword: field} and
# {positional index: field}. Matched on the last part of the callee (``torch.optim.AdamW``).
_OPTIMIZER_CLASSES = {"Adam": "adam", "AdamW": "adamw", "SGD": "sgd", "Lion": "lion"}
_CALL_ARGUMENTS: Mapping[str, tuple[Mapping[str, str], Mapping[int, str]]] = {
    **{name: ({"lr": "learning_rate", "weight_decay": "weight_decay"}, {1: "learning_rate"})
       for name in _OPTIMIZER_CLASSES},
    "Dropout": ({"p": "dropout_rate"}, {0: "dropout_rate"}),
    "Dropout1d": ({"p": "dropout_rate"}, {0: "dropout_rate"}),
    "Dropout2d": ({"p": "dropout_rate"}, {0: "dropout_rate"}),
    "clip_grad_norm_": ({"max_norm": "gradient_clip"}, {1: "gradient_clip"}),
    "DataLoader": ({"batch_size": "batch_size"}, {1: "batch_size"}),
    "TransformerEncoderLayer": (
        {"d_model": "hidden_dim", "nhead": "attention_heads", "dropout": "dropout_rate",
         "activation": "activation"}, {0: "hidden_dim", 1: "attention_heads"}),
    "TransformerDecoderLayer": (
        {"d_model": "hidden_dim", "nhead": "attention_heads", "dropout": "dropout_rate",
         "activation": "activation"}, {0: "hidden_dim", 1: "attention_heads"}),
    "TransformerEncoder": ({"num_layers": "num_layers"}, {1: "num_layers"}),
    "TransformerDecoder": ({"num_layers": "num_layers"}, {1: "num_layers"}),
    "MultiheadAttention": ({"embed_dim": "hidden_dim", "num_heads": "attention_heads",
                            "dropout": "dropout_rate"}, {0: "hidden_dim", 1: "attention_heads"}),
    "autocast": ({"enabled": "mixed_precision"}, {}),
    "GradScaler": ({"enabled": "mixed_precision"}, {}),
}
# Keyword arguments each optimizer accepts; the others are dropped when switching to it.
_OPTIMIZER_KEYWORDS = {
    "adam": {"params", "lr", "betas", "eps", "weight_decay", "amsgrad", "foreach", "maximize",
             "capturable", "differentiable", "fused"},
    "sgd": {"params", "lr", "momentum", "dampening", "weight_decay", "nesterov", "maximize",
            "foreach", "differentiable", "fused"},
    "lion": {"params", "lr", "betas", "weight_decay", "use_triton", "decoupled_weight_decay"},
}
_OPTIMIZER_KEYWORDS["adamw"] = _OPTIMIZER_KEYWORDS["adam"]
_CLASS_FOR_OPTIMIZER = {v: k for k, v in _OPTIMIZER_CLASSES.items()}
_ACTIVATION_CLASSES = {"ReLU": "relu", "GELU": "gelu", "SiLU": "silu", "Tanh": "tanh"}
_ACTIVATION_FUNCTIONS = {"relu": "relu", "gelu": "gelu", "silu": "silu", "tanh": "tanh"}
_ACTIVATION_KEYWORDS = {"relu": {"inplace"}, "silu": {"inplace"}, "gelu": {"approximate"}, "tanh": set()}
_SCHEDULER_CLASSES = {"CosineAnnealingLR": "cosine", "LinearLR": "linear", "ConstantLR": "constant",
                      "get_cosine_schedule_with_warmup": "warmup_cosine"}
# Transformer layers take only these activation names as strings.
_STRING_ACTIVATIONS_OF = {"TransformerEncoderLayer": ("relu", "gelu"),
                          "TransformerDecoderLayer": ("relu", "gelu")}
_CONFIG_CLASS = re.compile(r"(config|conf|cfg|args|hparams|hps?|hyperparameters|settings|params|arguments)$", re.I)
# Calls whose keywords are a run's settings although their names do not say "config".
_CONFIG_CALLS = frozenset({"Trainer", "TrainingArguments", "Seq2SeqTrainingArguments"})


# Name parts that mark evaluation: a value named so is never tuned (it would game the metric),
# and a call site fed by one (DataLoader(test_set, batch_size=args.test_batch_size)) is not
# where a training field lives.
EVALUATION_WORDS = frozenset({"eval", "evals", "evaluation", "evaluate", "val", "valid", "validation", "test", "dev",
                              "tests", "seed", "split", "holdout", "metric", "metrics", "bpb"})


# Name parts of functions and classes that make the task's data (a teacher network that labels
# it, a generator) or implement an activation: their calls are not the model's settings.
DATA_SCOPE_WORDS = frozenset({"data", "dataset", "datasets", "teacher", "synthetic", "labels", "targets"})
# Evaluation words that mark a function that measures (``def evaluate``, ``validation_step``); a
# seed or a split in a name (``def run_seed``) does not.
_EVALUATION_SCOPE_WORDS = EVALUATION_WORDS - {"seed", "split"}
_ACTIVATION_WORDS = frozenset({"gelu", "silu", "swish", "relu", "tanh", "mish", "activation", "act"})
_TRAINING_WORDS = frozenset({"train", "training", "fit"})
_MODEL_BASES = frozenset({"LightningModule", "LightningDataModule", "Module"})
# Names of functions that build a configuration (minGPT's get_default_config, a yacs setup).
_CONFIG_SCOPE_WORDS = frozenset({"config", "cfg", "configs", "defaults", "hparams", "hyperparameters", "settings"})
# Module-level functions whose keyword defaults are a run's settings (called with none given).
_ENTRY_POINTS = frozenset({"main", "train", "run", "setup", "fit", "pretrain", "finetune", "fine_tune", "cli",
                           "train_model", "training_loop"})
_ARCHITECTURE_FIELDS = frozenset({"num_layers", "hidden_dim", "attention_heads", "activation", "dropout_rate"})
FIELD_SET = frozenset(FIELDS_BY_NAME)


def words(name: str) -> list[str]:
    """The parts of a name, lower case: ``EVAL_ITERS`` -> eval, iters; ``--log-interval``,
    ``Config.warmupRatio`` and ``CFG['val_split']`` likewise."""
    last = name.lstrip("-")
    if last.endswith("=)"):  # a keyword of a configuration call: TrainingArguments(output_dir=)
        last = last[last.rfind("(") + 1:-2]
    if last.endswith("']") or last.endswith('"]'):
        last = last[last.rfind("[") + 2:-2]
    last = last.rsplit(".", 1)[-1]
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", last)
    return [w for w in re.split(r"[_\-\s]+", spaced.lower()) if w]


def spells_a_field(name: str) -> bool:
    """Whether ``name`` is one of the spellings arrl reads as a schema field (``lr``,
    ``bf16``, ``dtype``, ``decay_lr``): another place of a field, not a separate knob."""
    key = _normal_name(words_joined(name))
    return key in _FIELD_FOR_ALIAS or key in _PRECISION_NAMES or key in _SCHEDULE_FLAGS


def words_joined(name: str) -> str:
    return "_".join(words(name))


def is_evaluation_name(name: str) -> bool:
    return bool(set(words(name)) & EVALUATION_WORDS)


class ScriptError(ValueError):
    """The script cannot be read (e.g. a syntax error); the message says where."""


@attrs.frozen
class Site:
    """Where a field's value lives and how the script spells it."""

    field: str
    value: Value
    line: int
    style: str  # constant, dict, class, argparse, call, code
    path: str  # the script's own name for it: LR, CONFIG['lr'], Config.lr, --lr, AdamW(lr=)
    editable: bool = True
    note: str = ""
    lines: tuple[int, ...] = ()  # every line an edit of this field may change


@attrs.frozen
class Extraction:
    """What was found: values, where each one is, what is out of range, what is missing."""

    values: dict[str, Value]
    sites: dict[str, Site]
    out_of_range: dict[str, str]  # outside the design document's domain: the run's domain grows
    problems: dict[str, str]  # fields seen but unusable (ambiguous, a mapping that points nowhere)
    choices: dict[str, tuple[Value, ...]]  # categorical values the script can take, per field
    filename: str = "<script>"
    invalid: dict[str, str] = attrs.Factory(dict)  # values of the wrong type: read, never moved
    knobs: tuple[str, ...] = ()  # the declared knobs found (their values are in ``values``)
    overridden: dict[str, Site] = attrs.Factory(dict)  # values replaced before use: shown, never proposed
    # Every literal the script assigns where a configuration lives (module constants, config
    # classes, argparse defaults, config dicts), the last assignment of each: what
    # arrl.script.candidates picks tunable knobs from.
    literals: tuple[Site, ...] = ()

    @property
    def missing(self) -> tuple[str, ...]:
        return tuple(name for name in FIELDS_BY_NAME if name not in self.values)

    @property
    def editable(self) -> dict[str, Value]:
        """The values arrl may change: what proposers get to move. A value outside the design
        document's domain is editable too (its domain grows); one of the wrong type is not."""
        return {f: v for f, v in self.values.items() if self.sites[f].editable and f not in self.invalid}


# --- reading -----------------------------------------------------------------------------

def parse(source: str, filename: str = "<script>") -> cst.Module:
    try:
        return cst.parse_module(source)
    except cst.ParserSyntaxError as error:
        # Python's own parser words syntax errors the way users know them ("expected ':'").
        try:
            ast.parse(source)
        except SyntaxError as plain:
            raise ScriptError(f"{filename}:{plain.lineno}: syntax error: {plain.msg}") from None
        raise ScriptError(f"{filename}:{error.raw_line}: syntax error: {error.message}") from None


def _literal(module: cst.Module, node: cst.CSTNode) -> Any:
    if isinstance(node, cst.BinaryOperation):  # 2**19, 3 * 1024: read as their value
        try:
            return _arithmetic(ast.parse(module.code_for_node(node).strip(), mode="eval").body)
        except (SyntaxError, ValueError, OverflowError, ZeroDivisionError, RecursionError):
            return None
    if not isinstance(node, (cst.Integer, cst.Float, cst.SimpleString, cst.Name,
                             cst.UnaryOperation, cst.ConcatenatedString)):
        return None
    try:
        value = ast.literal_eval(module.code_for_node(node).strip())
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return None
    return value if isinstance(value, (int, float, str, bool)) else None


_ARITHMETIC = {ast.Add: lambda a, b: a + b, ast.Sub: lambda a, b: a - b, ast.Mult: lambda a, b: a * b,
               ast.Div: lambda a, b: a / b, ast.FloorDiv: lambda a, b: a // b}


def _arithmetic(node: ast.expr) -> int | float | None:
    """The value of constant arithmetic (numbers, + - * / // and small powers); None otherwise.
    Nothing is executed: the tree is walked, and powers are bounded so 10**10**10 cannot hang."""
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        inner = _arithmetic(node.operand)
        return None if inner is None else (-inner if isinstance(node.op, ast.USub) else inner)
    if isinstance(node, ast.BinOp):
        left, right = _arithmetic(node.left), _arithmetic(node.right)
        if left is None or right is None:
            return None
        if isinstance(node.op, ast.Pow):
            return left**right if abs(right) <= 64 and abs(left) <= 1e6 else None
        operation = _ARITHMETIC.get(type(node.op))
        return operation(left, right) if operation else None
    return None


def _dotted(node: cst.BaseExpression) -> str:
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        base = _dotted(node.value)
        return f"{base}.{node.attr.value}" if base else ""
    return ""


def _string_value(node: cst.BaseExpression | None) -> str | None:
    if isinstance(node, cst.SimpleString):
        value = node.evaluated_value
        return value if isinstance(value, str) else None
    return None


def _normal_name(name: str) -> str:
    return name.lstrip("-").replace("-", "_").lower()


@attrs.define
class _Candidate:
    """A literal the script assigns, with the node to replace when it is edited."""

    path: str
    key: str  # the last part of the path, normalised, for alias matching
    value: Any
    node: cst.BaseExpression
    line: int
    style: str
    order: int  # position in the file, for "last assignment wins"
    aliasable: bool = True  # False for fields of classes that do not look like configs


@attrs.define
class _CallSite:
    field: str
    node: cst.BaseExpression  # the argument value, or the name's assigned literal when traced
    value: Any
    line: int
    path: str
    order: int
    style: str = "call"
    note: str = ""


@attrs.define
class _CodeChoice:
    """A choice written as code: a call or reference whose callee names the value."""

    field: str
    value: str
    node: cst.Call | cst.Attribute | cst.Name  # the call (or the callee) to rewrite
    line: int
    path: str
    switchable: bool


class _Collector(cst.CSTVisitor):
    METADATA_DEPENDENCIES = (PositionProvider,)

    def __init__(self, module: cst.Module) -> None:
        self.module = module
        self.candidates: list[_Candidate] = []
        self.calls: list[_CallSite] = []
        self.code: list[_CodeChoice] = []
        self.string_kwargs: list[tuple[_CallSite, str]] = []  # (site, callee) for activation=
        self.module_literals: dict[str, _Candidate] = {}
        self.names_with_lion: set[str] = set()
        self.torch_optim_prefix: str | None = None
        self._depth = 0  # function/class nesting: only module-level assignments are constants
        self._class: list[tuple[str, bool]] = []  # the enclosing module-level class, if any
        self._scopes: list[tuple[str, bool]] = []  # the enclosing functions and classes: (name, is a class)
        self._order = 0
        # Deeper reading: calls with keywords (class instantiations), module-level instances
        # (H = HParams()), config attributes passed to calls (nn.Dropout(H.p_drop)), and
        # string dispatch (if cfg.opt == "adam").
        self.instantiations: list[tuple[str, dict[str, cst.BaseExpression], bool, int]] = []
        self.instances: dict[str, cst.Call] = {}
        self.attribute_uses: list[tuple[str, str, str, str, int]] = []  # field, base, attr, label, order
        self.comparisons: list[tuple[str, str]] = []  # (compared name, string)
        self.argparse_choices: dict[str, tuple[str, ...]] = {}  # flag -> its choices=[...]
        self.imported: set[str] = set()  # local names of imports: torch.backends... = is a library setting
        self.string_tables: dict[str, list[str]] = {}  # module-level dicts keyed by strings: name -> keys
        self.string_lists: dict[str, list[str]] = {}  # module-level lists and tuples of strings
        self.model_classes: set[str] = set()  # the script's LightningModule, LightningDataModule, nn.Module
        # An entry point's parameters (``main(lr=)`` -> function, position or None for keyword-only)
        # and every call by name (positional count, keywords, any * or **): a default some call
        # replaces is not the setting.
        self.entry_params: dict[str, tuple[str, int | None]] = {}
        self.calls_by_name: dict[str, list[tuple[int, set[str], bool]]] = {}

    def _line(self, node: cst.CSTNode) -> int:
        return self.get_metadata(PositionProvider, node).start.line

    def _next(self) -> int:
        self._order += 1
        return self._order

    def _add(self, path: str, key: str, value_node: cst.BaseExpression, style: str,
             aliasable: bool = True) -> None:
        value = _literal(self.module, value_node)
        if value is not None:
            candidate = _Candidate(path, _normal_name(key), value, value_node, self._line(value_node),
                                   style, self._next(), aliasable)
            self.candidates.append(candidate)
            if style == "constant":
                self.module_literals[path] = candidate
        elif isinstance(value_node, cst.Dict) and style in ("constant", "dict"):
            self._add_dict(path, value_node)
        elif isinstance(value_node, cst.Call) and _dotted(value_node.func) == "dict" and style in ("constant", "dict"):
            for arg in value_node.args:
                if arg.keyword is not None:
                    self._add(f"{path}[{arg.keyword.value!r}]", arg.keyword.value, arg.value, "dict")

    def _add_dict(self, path: str, node: cst.Dict) -> None:
        for element in node.elements:
            if isinstance(element, cst.DictElement):
                key = _string_value(element.key)
                if key is not None:
                    self._add(f"{path}[{key!r}]", key, element.value, "dict")

    # module-level and class-level assignments
    def visit_Assign(self, node: cst.Assign) -> None:
        if len(node.targets) != 1:
            return
        target = node.targets[0].target
        if isinstance(target, cst.Attribute):
            self._attribute_assignment(target, node.value)
        if not isinstance(target, cst.Name):
            return
        self._assignment(target.value, node.value)

    def _attribute_assignment(self, target: cst.Attribute, value: cst.BaseExpression) -> None:
        """``C.trainer.learning_rate = 5e-4`` (minGPT's CfgNode) or ``_C.SOLVER.BASE_LR = 0.001``
        (yacs, detectron2): settings when assigned at module level or in a function that builds a
        configuration (``def get_config``, ``def get_default_config``), not in a dataset's."""
        path = _dotted(target)
        root = path.split(".")[0]
        if not path or root in ("self", "cls") or root in self.imported or _literal(self.module, value) is None:
            return
        if any(set(words(part)) & _EVALUATION_SCOPE_WORDS for part in path.split(".")[:-1]):
            return  # _C.TEST.BATCH_SIZE, C.eval.max_iters: the evaluation's, never the training's
        scopes = [set(words(name)) for name, _ in self._scopes]
        if any(parts & DATA_SCOPE_WORDS for parts in scopes):
            return
        if self._depth == 0 or any(parts & _CONFIG_SCOPE_WORDS for parts in scopes):
            self._add(path, target.attr.value, value, "attribute")

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        if node.value is not None and isinstance(node.target, cst.Name):
            value = node.value
            if isinstance(value, cst.Call) and _dotted(value.func).split(".")[-1] in ("field", "Field", "attrib", "ib"):
                default = next((a.value for a in value.args if a.keyword and a.keyword.value == "default"), None)
                if default is None:
                    return
                value = default
            self._assignment(node.target.value, value)

    def _assignment(self, name: str, value: cst.BaseExpression) -> None:
        if self._depth == 0 and not self._class and isinstance(value, cst.Dict):
            keys = [_string_value(e.key) for e in value.elements if isinstance(e, cst.DictElement)]
            if keys and all(k is not None for k in keys):
                self.string_tables[name] = [k for k in keys if k is not None]
        items = None if isinstance(value, cst.Set) else _strings(value)
        if self._depth == 0 and not self._class and items:
            self.string_lists[name] = items  # for choices=ACTS
        if self._depth == 0 and not self._class:
            if isinstance(value, cst.Call):
                self.instances[name] = value
            self._add(name, name, value, "constant")
        elif self._class and self._depth == 1:
            # Any module-level class can be mapped by name; only config-like ones are guessed.
            name_of_class, is_config = self._class[-1]
            self._add(f"{name_of_class}.{name}", name, value, "class", aliasable=is_config)

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        decorators = {_dotted(d.decorator.func if isinstance(d.decorator, cst.Call) else d.decorator).split(".")[-1]
                      for d in node.decorators}
        is_config = bool(decorators & {"dataclass", "define", "frozen", "s", "attrs"}) or bool(
            _CONFIG_CLASS.search(node.name.value)) or any(
            _dotted(b.value).split(".")[-1] in ("BaseModel", "NamedTuple", "BaseSettings") for b in node.bases)
        if node.name.value == "Lion" and self._depth == 0 and not self._class:
            self.names_with_lion.add("Lion")
        if self._depth == 0 and any(_dotted(b.value).split(".")[-1] in _MODEL_BASES for b in node.bases):
            self.model_classes.add(node.name.value)
        if self._depth == 0:
            self._class.append((node.name.value, is_config))
        self._depth += 1
        self._scopes.append((node.name.value, True))

    def leave_ClassDef(self, original_node: cst.ClassDef) -> None:
        self._depth -= 1
        self._scopes.pop()
        if self._depth == 0:
            self._class.pop()

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        if self._depth == 0 and node.name.value in _ENTRY_POINTS:
            # fire, jsonargparse's CLI(main), litgpt: the settings are the entry point's keyword
            # defaults (`def main(n_layer: int = 2, lr: float = 6e-4)`), named `main(lr=)`.
            params = node.params
            positions: list[int | None] = [*range(len(params.params)), *([None] * len(params.kwonly_params))]
            for param, position in zip((*params.params, *params.kwonly_params), positions):
                if param.default is not None:
                    name = param.name.value
                    self.entry_params[f"{node.name.value}({name}=)"] = (node.name.value, position)
                    self._add(f"{node.name.value}({name}=)", name, param.default, "default")
        self._depth += 1
        self._scopes.append((node.name.value, False))

    def leave_FunctionDef(self, original_node: cst.FunctionDef) -> None:
        self._depth -= 1
        self._scopes.pop()

    def _ignored_here(self) -> frozenset[str]:
        """The fields the calls here do not set, by the names of the enclosing functions and
        classes: none in code that measures the result (``def evaluate``: its own DataLoader's
        batch size games the metric), no architecture in code that makes the data (``def
        make_dataset`` with a teacher network: its nn.Tanh() is the task, not the model; its
        DataLoader's batch size is still training's), no activation inside one's implementation
        (``class NewGELU``: its torch.tanh is the formula). A name that says training
        (``def train_and_evaluate``) marks nothing."""
        ignored: set[str] = set()
        for name, is_class in self._scopes:
            named = words(name)
            parts = set(named)
            if parts & _TRAINING_WORDS:
                continue
            if parts & _EVALUATION_SCOPE_WORDS and not is_class:  # class MetricLearningNet is a model
                return FIELD_SET
            if parts & DATA_SCOPE_WORDS:
                ignored |= _ARCHITECTURE_FIELDS
            if named and named[-1] in _ACTIVATION_WORDS:  # NewGELU, not SiluMLP
                ignored.add("activation")
        return frozenset(ignored)

    def visit_ImportFrom(self, node: cst.ImportFrom) -> None:
        module = _dotted(node.module) if node.module else ""
        if isinstance(node.names, cst.ImportStar):
            return
        for alias in node.names:
            name = _dotted(alias.name)
            local = alias.asname.name.value if alias.asname and isinstance(alias.asname.name, cst.Name) else name
            self.imported.add(local)
            if name == "Lion":
                self.names_with_lion.add(local)
            if module == "torch" and name == "optim":
                self.torch_optim_prefix = f"{local}."

    def visit_Import(self, node: cst.Import) -> None:
        for alias in node.names:
            name = _dotted(alias.name)
            local = alias.asname.name.value if alias.asname and isinstance(alias.asname.name, cst.Name) else name
            self.imported.add(local.split(".")[0])
            if name == "torch" and self.torch_optim_prefix is None:
                self.torch_optim_prefix = f"{local}.optim."
            elif name == "torch.optim":
                self.torch_optim_prefix = f"{local}." if alias.asname else "torch.optim."

    def visit_Subscript(self, node: cst.Subscript) -> None:
        # ACTIVATIONS[cfg.act] over a table {"gelu": nn.GELU, ...}: a dispatch on cfg.act whose
        # choices are the table's keys, as `if cfg.act == "gelu"` would be.
        table = node.value.value if isinstance(node.value, cst.Name) else None
        if table not in self.string_tables or len(node.slice) != 1:
            return
        element = node.slice[0].slice
        subject = _dotted(element.value) if isinstance(element, cst.Index) else ""
        if subject:
            self.comparisons += [(subject, key) for key in self.string_tables[table]]

    def visit_Comparison(self, node: cst.Comparison) -> None:
        subject = _dotted(node.left)
        for target in node.comparisons:
            if isinstance(target.operator, (cst.Equal, cst.In)) and subject:
                strings = [_string_value(target.comparator)]
                if isinstance(target.comparator, (cst.Tuple, cst.List, cst.Set)):
                    strings = [_string_value(e.value) for e in target.comparator.elements]
                self.comparisons += [(subject, v) for v in strings if v]

    def visit_Call(self, node: cst.Call) -> None:
        callee = _dotted(node.func)
        short = callee.split(".")[-1]
        line = self._line(node)
        self.calls_by_name.setdefault(callee, []).append((
            sum(1 for a in node.args if a.keyword is None and not a.star),
            {a.keyword.value for a in node.args if a.keyword is not None}, any(a.star for a in node.args)))
        # A function handed to a launcher with arguments of its own (mp.spawn(train, args=...),
        # Process(target=train, args=...), partial(train, lr=...)) is called with them: its
        # defaults may be replaced. fire.Fire(main) and CLI(main) pass nothing else.
        handed = [a.value.value for a in node.args if isinstance(a.value, cst.Name)
                  and (a.keyword is None or a.keyword.value in ("target", "fn", "func", "function"))]
        if handed and len(node.args) > 1:
            for name in handed:
                self.calls_by_name.setdefault(name, []).append((0, set(), True))
        ignored = self._ignored_here()
        if ignored == FIELD_SET:
            return
        found = len(self.code)
        passed = {a.keyword.value: a.value for a in node.args if a.keyword is not None}
        if short[:1].isupper() and passed:
            self.instantiations.append((short, passed, any(a.star == "**" for a in node.args), line))
        # LitModel(lr=3e-4), MNISTDataModule(batch_size=32): a model or data module of the script's
        # own, built outside any class (not a layer inside a model), takes its settings as keywords.
        built_here = short in self.model_classes and not self._class
        if short in _CONFIG_CALLS or (short[:1].isupper() and _CONFIG_CLASS.search(short)) or built_here:
            # TrainingArguments(learning_rate=2e-5, ...), L.Trainer(precision="bf16-mixed", ...):
            # literal keywords of a configuration call are settings like any other.
            for keyword, value in passed.items():
                self._add(f"{short}({keyword}=)", keyword, value, "call")
        if short == "add_argument":
            self._argparse(node)
        if short in _OPTIMIZER_CLASSES:
            positional = sum(1 for a in node.args if a.keyword is None)
            self.code.append(_CodeChoice("optimizer", _OPTIMIZER_CLASSES[short], node, line, f"{callee}(...)",
                                         switchable=positional <= 2 and all(a.star == "" for a in node.args)))
        elif short in _ACTIVATION_CLASSES and callee.split(".")[0] in ("nn", "torch"):
            self.code.append(_CodeChoice("activation", _ACTIVATION_CLASSES[short], node, line, f"{callee}()", True))
        elif short in _ACTIVATION_FUNCTIONS and len(callee.split(".")) > 1 and callee.split(".")[-2] in ("F", "functional", "torch"):
            self.code.append(_CodeChoice("activation", short, node, line, f"{callee}()", True))
        elif short in _SCHEDULER_CLASSES:
            self.code.append(_CodeChoice("scheduler", _SCHEDULER_CLASSES[short], node, line, f"{callee}(...)", False))
        elif short == "autocast" and "enabled" not in passed:
            # torch.autocast(...) without enabled=: mixed precision is on; turning it off adds enabled=False.
            self.code.append(_CodeChoice("mixed_precision", True, node, line, f"{callee}(...)", True))  # type: ignore[arg-type]
        self.code[found:] = [c for c in self.code[found:] if c.field not in ignored]
        table = _CALL_ARGUMENTS.get(short)
        if table is None:
            return
        keywords, positions = table
        index = 0
        for arg in node.args:
            if arg.star:
                break
            if arg.keyword is None:
                field = positions.get(index)
                index += 1
                label = f"{short}(#{index})"
            else:
                field = keywords.get(arg.keyword.value)
                label = f"{short}({arg.keyword.value}=)"
            if field is None or field in ignored:
                continue
            self._call_value(field, arg.value, label, short)

    def _call_value(self, field: str, value: cst.BaseExpression, label: str, callee: str) -> None:
        literal = _literal(self.module, value)
        if literal is not None and not (isinstance(value, cst.Name) and value.value not in ("True", "False", "None")):
            site = _CallSite(field, value, literal, self._line(value), label, self._next())
        elif isinstance(value, cst.Name) and value.value in self.module_literals:
            # A name: the last module-level assignment before this call sets it.
            target = self.module_literals[value.value]
            site = _CallSite(field, target.node, target.value, target.line, target.path, self._next(),
                             "constant", f"passed to {label}")
        elif isinstance(value, cst.Attribute) and isinstance(value.value, cst.Name):
            # A config attribute (H.p_drop, args.clip): resolved once every class is known.
            self.attribute_uses.append((field, value.value.value, value.attr.value, label, self._next()))
            return
        else:
            return
        if field == "activation":
            self.string_kwargs.append((site, callee))
        else:
            self.calls.append(site)

    def _argparse(self, node: cst.Call) -> None:
        flags = [s for s in (_string_value(a.value) for a in node.args if a.keyword is None) if s]
        default = next((a.value for a in node.args if a.keyword and a.keyword.value == "default"), None)
        dest = next((_string_value(a.value) for a in node.args if a.keyword and a.keyword.value == "dest"), None)
        if not flags or default is None:
            return
        long = next((f for f in flags if f.startswith("--")), flags[0])
        self._add(long, dest or long, default, "argparse")
        listed = next((a.value for a in node.args if a.keyword and a.keyword.value == "choices"), None)
        strings = self.string_lists.get(listed.value) if isinstance(listed, cst.Name) else _strings(listed)
        if strings:
            self.argparse_choices[long] = tuple(strings)


def _strings(node: cst.BaseExpression | None) -> list[str] | None:
    """The items of a literal list, tuple or set of strings; None for anything else."""
    if not isinstance(node, (cst.List, cst.Tuple, cst.Set)):
        return None
    items = [_string_value(e.value) for e in node.elements]
    return [i for i in items if i is not None] if items and None not in items else None


@attrs.frozen
class _Analysis:
    extraction: Extraction
    targets: dict[str, list[Any]]  # per field, the nodes (or code choices) an edit rewrites
    module: cst.Module  # the tree those nodes belong to
    optimizer_prefix: str | None  # how the script reaches torch.optim ("torch.optim.", "optim.")
    # How the script spells the values a string field may take ("ReLU" for relu), where it lists
    # them (argparse choices=, a dispatch, a table's keys): a switch writes that spelling.
    spellings: dict[str, dict[str, str]] = attrs.Factory(dict)


# Words that say which field a string dispatch chooses (``if cfg.opt == "adam": ...``).
_DISPATCH_VOCABULARY: Mapping[str, frozenset[str]] = {
    "optimizer": frozenset({"adam", "adamw", "sgd", "lion", "rmsprop", "adagrad", "adafactor", "muon", "lamb",
                            "adamax", "nadam", "radam", "sophia"}),
    "activation": frozenset({"relu", "gelu", "silu", "tanh", "swish", "leaky_relu", "elu", "sigmoid", "mish",
                             "relu2", "relu_squared", "squared_relu", "selu", "softplus", "gelu_new"}),
    "scheduler": frozenset({"cosine", "linear", "constant", "warmup_cosine", "step", "exponential", "onecycle",
                            "one_cycle", "polynomial", "cosine_with_restarts", "constant_with_warmup", "wsd",
                            "plateau", "multistep"}),
}
# Mixed precision written as a dtype or precision string: its full- and half-precision spellings.
_PRECISION_NAMES = frozenset({"dtype", "precision", "amp_dtype", "autocast_dtype", "mixed_precision", "compute_dtype",
                              "train_dtype", "ptdtype"})
_FULL_FOR_HALF = {"bfloat16": "float32", "float16": "float32", "half": "float32", "bf16": "fp32", "fp16": "fp32",
                  "16": "32", "16-mixed": "32-true", "bf16-mixed": "32-true"}
_HALF_FOR_FULL = {"float32": "bfloat16", "float": "bfloat16", "fp32": "bf16", "32": "bf16-mixed",
                  "32-true": "bf16-mixed", "no": "bf16"}
# Flags that turn a learning-rate schedule on or off (nanoGPT's decay_lr).
_SCHEDULE_FLAGS = frozenset({"decay_lr", "lr_decay", "use_scheduler", "use_lr_scheduler", "use_lr_schedule",
                             "cosine_decay", "use_cosine", "use_cosine_schedule", "schedule_lr", "anneal_lr"})


@attrs.frozen
class _Mapped:
    """A literal that spells a field another way: a dtype string for mixed precision, a
    schedule flag for the scheduler. ``texts`` gives the literal to write for each value."""

    node: cst.BaseExpression
    texts: Mapping[Value, Value]


def _precision_texts(original: str) -> dict[Value, Value] | None:
    lower = original.lower()
    if lower in _FULL_FOR_HALF:
        return {True: original, False: _FULL_FOR_HALF[lower]}
    if lower in _HALF_FOR_FULL:
        return {True: _HALF_FOR_FULL[lower], False: original}
    return None


def _override_file_sets(source: str, directory: Path | None) -> dict[str, tuple[Any, str, int, int]]:
    """Names an override file sets (nanoGPT's ``exec(open('configurator.py').read())``):
    name -> (value, file, line there, line of the exec in the script)."""
    if directory is None:
        return {}
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return {}
    found: dict[str, tuple[Any, str, int, int]] = {}
    for statement in tree.body:
        call = statement.value if isinstance(statement, ast.Expr) else None
        if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id == "exec"
                and call.args and isinstance(call.args[0], ast.Call)):
            continue
        read = call.args[0].func
        opened = read.value if isinstance(read, ast.Attribute) and read.attr == "read" else None
        if not (isinstance(opened, ast.Call) and isinstance(opened.func, ast.Name) and opened.func.id == "open"
                and opened.args and isinstance(opened.args[0], ast.Constant) and isinstance(opened.args[0].value, str)):
            continue
        name = opened.args[0].value
        try:
            other = ast.parse((directory / name).read_text())
        except (OSError, SyntaxError, UnicodeDecodeError, ValueError):
            continue
        for assignment in other.body:
            if isinstance(assignment, ast.Assign) and len(assignment.targets) == 1 and \
                    isinstance(assignment.targets[0], ast.Name):
                try:
                    value: Any = ast.literal_eval(assignment.value)
                except (ValueError, SyntaxError, TypeError, RecursionError):
                    value = _arithmetic(assignment.value)
                if isinstance(value, (int, float, str, bool)):
                    found[assignment.targets[0].id] = (value, name, assignment.lineno, statement.lineno)
    return found


def _last_name(path: str) -> str:
    if path.startswith("-"):
        return path.lstrip("-").replace("-", "_")
    if path.endswith("']"):
        return path[path.rfind("['") + 2:-2]
    return path.rsplit(".", 1)[-1]


def _analyse(source: str, filename: str, mapping: Mapping[str, str] | None, knobs: Sequence[str] = (),
             directory: Path | None = None) -> _Analysis:
    module = parse(source, filename)
    wrapper = MetadataWrapper(module, unsafe_skip_copy=True)
    collector = _Collector(module)
    wrapper.visit(collector)
    mapping = dict(mapping or {})
    unknown = sorted(set(mapping) - set(FIELDS_BY_NAME))
    if unknown:
        raise SchemaError(f"[fields] maps unknown field(s) {', '.join(unknown)}; fields are: {', '.join(FIELDS_BY_NAME)}")

    sites: dict[str, Site] = {}
    targets: dict[str, list[Any]] = {}
    values: dict[str, Value] = {}
    problems: dict[str, str] = {}
    choices: dict[str, tuple[Value, ...]] = {}
    spelled_as: dict[str, dict[str, str]] = {}  # field -> value -> the script's spelling
    overridden: dict[str, Site] = {}

    def normalise(field: str, value: Any) -> Any:
        return value.lower() if isinstance(value, str) and FIELDS_BY_NAME[field].kind == "choice" else value

    # 0. Values replaced before use are shown, never proposed: a config-class default that every
    #    instantiation passes explicitly, a constant an override file sets again.
    class_names = {c.path.split(".")[0] for c in collector.candidates if c.style == "class"}
    builds: dict[str, list[tuple[dict[str, cst.BaseExpression], bool, int]]] = {}
    for short, keywords, star, line in collector.instantiations:
        if short in class_names:
            builds.setdefault(short, []).append((keywords, star, line))
    replaced: dict[int, str] = {}  # id(candidate) -> why
    winning: dict[int, Any] = {}  # id(candidate) -> the value that replaces it, where known
    for candidate in collector.candidates:
        if candidate.style == "class":
            cls, attr = candidate.path.split(".", 1)
            made = builds.get(cls, [])
            if made and all(attr in keywords and not star for keywords, star, _ in made):
                replaced[id(candidate)] = f"overridden where {cls} is built (line {made[0][2]})"
    for name, (value, file, line, exec_line) in _override_file_sets(source, directory).items():
        for candidate in collector.candidates:
            if candidate.style == "constant" and candidate.path == name and candidate.line < exec_line:
                replaced[id(candidate)] = f"set again in {file}:{line} (to {value!r}), whose value wins"
                winning[id(candidate)] = value
    # An entry point's default that a call of it replaces (train(model, lr=args.lr)) is not used.
    for candidate in collector.candidates:
        if candidate.style == "default" and candidate.path in collector.entry_params:
            function, position = collector.entry_params[candidate.path]
            for positional, given, starred in collector.calls_by_name.get(function, []):
                if starred or candidate.path[len(function) + 1:-2] in given \
                        or (position is not None and positional > position):
                    replaced[id(candidate)] = f"passed where {function} is called, which replaces the default"
                    break
    for candidate in collector.candidates:
        if id(candidate) in replaced:
            overridden[candidate.path] = Site("", candidate.value, candidate.line, candidate.style, candidate.path,
                                              False, replaced[id(candidate)])
    live = [c for c in collector.candidates if id(c) not in replaced]

    def traced(node: cst.BaseExpression) -> _Candidate | None:
        """The live literal a value node stands for: itself, or the constant a name refers to."""
        if isinstance(node, cst.Name) and node.value not in ("True", "False", "None"):
            found = [c for c in live if c.style == "constant" and c.path == node.value]
            return max(found, key=lambda c: c.order) if found else None
        literal = _literal(module, node)
        if literal is None:
            return None
        return _Candidate("", "", literal, node, 0, "call", 0)

    def attribute(base: str, attr: str) -> _Candidate | None:
        """The live literal behind ``base.attr``: a keyword of the instance's construction, a
        config-class default, or an argparse default."""
        built = collector.instances.get(base)
        cls = None
        if built is not None:
            for arg in built.args:
                if arg.keyword is not None and arg.keyword.value == attr:
                    return traced(arg.value)
            cls = _dotted(built.func).split(".")[-1]
        found = [c for c in live if c.style == "class" and c.path.split(".", 1)[-1] == attr
                 and (c.aliasable if cls is None else c.path.split(".")[0] == cls)]
        if cls is None:
            found += [c for c in live if c.style == "argparse" and _normal_name(_last_name(c.path)) == attr.lower()]
        paths = {c.path for c in found}
        return max(found, key=lambda c: c.order) if len(paths) == 1 else None

    # 1. Fields the user mapped by name.
    for field, path in mapping.items():
        matches = [c for c in collector.candidates if c.path == path or c.path == _normal_path(path)]
        if not matches:
            # An error, as a misspelled [space] name is: left as a note, the field would quietly be
            # found elsewhere (or not at all) and the user's mapping ignored.
            names = sorted({c.path for c in collector.candidates})
            close = difflib.get_close_matches(path, names, n=3, cutoff=0.5)
            hint = f"did you mean {', '.join(repr(n) for n in close)}?" if close else \
                f"it assigns {', '.join(repr(n) for n in names[:8])}{', ...' if len(names) > 8 else ''}"
            raise SchemaError(f"[fields] maps {field} to {path!r}, which {filename} does not assign a literal to; "
                              f"{hint}")
        last = max(matches, key=lambda c: c.order)
        values[field] = normalise(field, last.value)
        sites[field] = Site(field, values[field], last.line, last.style, last.path, note="mapped in the config")
        targets[field] = [last.node]

    # 2. Arguments of well-known calls: what the code really uses. A config attribute passed
    #    there (nn.Dropout(H.p_drop)) and a keyword of a config class's construction
    #    (GPTConfig(n_head=N_HEAD)) count too.
    calls = list(collector.calls)
    for field, base, attr, label, order in collector.attribute_uses:
        target = attribute(base, attr)
        if target is not None and field != "activation" and not is_evaluation_name(attr):
            calls.append(_CallSite(field, target.node, target.value, target.line or _position(wrapper, target.node),
                                   target.path or f"{base}.{attr}", order, target.style, f"{base}.{attr} passed to {label}"))
    for short, keywords, _star, line in collector.instantiations:
        if short not in class_names:
            continue
        for keyword, node in keywords.items():
            aliased = _FIELD_FOR_ALIAS.get(_normal_name(keyword))
            target = traced(node)
            if aliased is not None and target is not None:
                calls.append(_CallSite(aliased, target.node, target.value, target.line or line,
                                       target.path or f"{short}({keyword}=)", target.order or line,
                                       target.style, f"passed to {short}({keyword}=)"))
    by_field: dict[str, list[_CallSite]] = {}
    for call in calls:
        if call.style == "constant" and is_evaluation_name(call.path):
            continue  # EVAL_BATCH_SIZE passed to a DataLoader is evaluation, not training
        by_field.setdefault(call.field, []).append(call)
    for site, callee in collector.string_kwargs:
        if isinstance(site.value, str) and site.value.lower() in _STRING_ACTIVATIONS_OF.get(callee, ()):
            by_field.setdefault("activation", []).append(site)
            choices["activation"] = _STRING_ACTIVATIONS_OF[callee]
    for field, found_calls in by_field.items():
        if field in values:
            continue
        nodes = list({id(c.node): c.node for c in found_calls}.values())
        latest = max(found_calls, key=lambda c: c.order)
        earliest = min(found_calls, key=lambda c: c.line)
        distinct = {repr(c.value) for c in found_calls}
        note = earliest.note if len(distinct) == 1 else f"set differently in {len(nodes)} places; an edit sets them all"
        values[field] = normalise(field, latest.value)
        sites[field] = Site(field, values[field], earliest.line, earliest.style, earliest.path, note=note)
        targets[field] = nodes

    # 3. String dispatch: ``if cfg.opt == "adam": ... elif cfg.opt == "sgd": ...`` says both
    #    where the optimizer is chosen and which values the script can take.
    settled = set(mapping) | set(by_field)
    dispatched: dict[str, list[str]] = {}
    for subject, text in collector.comparisons:
        dispatched.setdefault(subject, [])
        if text not in dispatched[subject]:
            dispatched[subject].append(text)
    # A dispatch whose subject arrl cannot trace (cfg = SimpleNamespace(**hparams)) still says
    # which values the field may take, once a name of the same spelling sets it (below).
    untraced: dict[str, tuple[str, ...]] = {}
    for subject, spelled in dispatched.items():
        words = [w.lower() for w in spelled]
        chosen = next((f for f, vocabulary in _DISPATCH_VOCABULARY.items() if set(words) <= vocabulary), None)
        if chosen is None or chosen in settled:
            continue
        base, _, attr = subject.rpartition(".")
        target = attribute(base, attr) if base else traced(cst.Name(subject))
        if target is None and _FIELD_FOR_ALIAS.get(_normal_name(attr or subject)) == chosen:
            untraced[chosen] = tuple(words)
            spelled_as.setdefault(chosen, dict(zip(words, spelled)))
        if target is None or not isinstance(target.value, str) or target.value.lower() not in words:
            continue
        spelled_as[chosen] = dict(zip(words, spelled))
        values[chosen] = target.value.lower()
        sites[chosen] = Site(chosen, target.value, target.line, target.style, target.path,
                             note=f"dispatched on {subject} (one of {', '.join(words)})")
        targets[chosen] = [target.node]
        choices[chosen] = tuple(words)
        settled.add(chosen)

    # 4. Names and keys that match an alias; the last assignment wins. Dtype strings count as
    #    mixed precision, schedule flags as the scheduler.
    for candidate in sorted(live, key=lambda c: c.order):
        mapped: _Mapped | None = None
        aliased = _FIELD_FOR_ALIAS.get(candidate.key) if candidate.aliasable else None
        if candidate.aliasable and candidate.key in _PRECISION_NAMES and isinstance(candidate.value, str):
            spellings = _precision_texts(candidate.value)
            if spellings is None:
                continue
            aliased, mapped = "mixed_precision", _Mapped(candidate.node, spellings)
        elif candidate.aliasable and candidate.key in _SCHEDULE_FLAGS and isinstance(candidate.value, bool):
            aliased, mapped = "scheduler", _Mapped(candidate.node, {"cosine": True, "constant": False})
        if aliased is None or aliased in settled:
            continue
        if FIELDS_BY_NAME[aliased].kind == "choice" and isinstance(candidate.value, bool) and mapped is None:
            continue
        value = candidate.value if mapped is None else next(k for k, v in mapped.texts.items() if v == candidate.value)
        values[aliased] = normalise(aliased, value)
        note = "" if mapped is None else f"{candidate.path} = {candidate.value!r}"
        sites[aliased] = Site(aliased, values[aliased], candidate.line, candidate.style, candidate.path, note=note)
        targets[aliased] = [candidate.node if mapped is None else mapped]
        listed = collector.argparse_choices.get(candidate.path) if candidate.style == "argparse" else None
        if listed and mapped is None and FIELDS_BY_NAME[aliased].kind == "choice":
            # argparse checks a value given on the command line against choices=, never the
            # default: a default outside them would run, and crash where the script dispatches.
            choices[aliased] = tuple(normalise(aliased, c) for c in listed)
            spelled_as[aliased] = {normalise(aliased, c): c for c in listed}
        elif aliased == "scheduler":  # a flag can only turn the schedule on or off
            if mapped is not None:
                choices[aliased] = ("cosine", "constant")
            elif candidate.key == "lr_scheduler_type":  # Hugging Face's names: no "warmup_cosine"
                choices[aliased] = ("cosine", "linear", "constant")
            else:
                choices.pop(aliased, None)

    for field, allowed in untraced.items():
        if field not in choices and values.get(field) in allowed:
            choices[field] = allowed

    # A field whose only site an override file replaces: shown with the winning value, read-only
    # (arrl edits the training script alone).
    for candidate in sorted(collector.candidates, key=lambda c: c.order):
        aliased = _FIELD_FOR_ALIAS.get(candidate.key) if candidate.aliasable else None
        if id(candidate) in winning and aliased is not None and aliased not in values:
            value = normalise(aliased, winning[id(candidate)])
            values[aliased] = value
            sites[aliased] = Site(aliased, value, candidate.line, candidate.style, candidate.path, False,
                                  replaced[id(candidate)] + "; arrl edits only the training script")
            targets[aliased] = [candidate.node]

    # 5. Choices written as code, when no name or string says it.
    code_by_field: dict[str, list[_CodeChoice]] = {}
    for choice in collector.code:
        code_by_field.setdefault(choice.field, []).append(choice)
    for field, found in code_by_field.items():
        if field in values:
            continue
        kinds = sorted({c.value for c in found})
        where = ", ".join(str(c.line) for c in found)
        if len(kinds) > 1:
            problems[field] = f"written as code with several values ({', '.join(kinds)}; lines {where}); map it in the config"
            continue
        editable = all(c.switchable for c in found)
        note = "" if editable else "written as code arrl does not rewrite"
        values[field] = kinds[0]
        sites[field] = Site(field, kinds[0], found[0].line, "code", found[0].path, editable, note)
        targets[field] = list(found)

    # Which optimizers a script can switch to depends on what it has at hand.
    if sites.get("optimizer") and sites["optimizer"].style == "code":
        available: list[str] = []
        for name in ("adam", "adamw", "sgd"):
            if collector.torch_optim_prefix or all(_dotted(c.node.func).count(".") for c in targets["optimizer"]):
                available.append(name)
        if collector.names_with_lion:
            available.append("lion")
        if values["optimizer"] not in available:
            available.append(str(values["optimizer"]))
        choices["optimizer"] = tuple(c for c in FIELDS_BY_NAME["optimizer"].choices if c in available)

    # A value outside the design document's domain is a valid starting point (the run's domain
    # grows to include it); only a value of the wrong type is unusable.
    out_of_range: dict[str, str] = {}
    invalid: dict[str, str] = {}
    for field, value in list(values.items()):
        design = FIELDS_BY_NAME[field]
        try:
            values[field] = design.grown(value).check(value)
        except SchemaError as error:
            invalid[field] = str(error)
            continue
        try:
            design.check(value)
        except SchemaError as error:
            out_of_range[field] = str(error)
            if design.kind == "choice" and not design.ordinal and field not in choices:
                # A name the design document does not know: nothing says what else the code takes.
                choices[field] = (values[field],)

    # 6. Declared knobs, by the script's own name.
    found_knobs: list[str] = []
    for name in knobs:
        if name in FIELDS_BY_NAME:
            continue
        matches = [c for c in collector.candidates if c.path in (name, _normal_path(name))]
        if not matches:
            matches = [c for c in collector.candidates if _last_name(c.path) == name]
            if len({c.path for c in matches}) > 1:
                problems[name] = f"{name} names several places ({', '.join(sorted({c.path for c in matches}))})"
                continue
        if not matches:
            continue
        last = max(matches, key=lambda c: c.order)
        why = replaced.get(id(last), "")
        values[name] = last.value
        sites[name] = Site(name, last.value, last.line, last.style, last.path, editable=not why, note=why)
        targets[name] = [last.node]
        found_knobs.append(name)

    positions = wrapper.resolve(PositionProvider)

    def span(target: Any) -> range:
        where = positions[target.node if isinstance(target, (_CodeChoice, _Mapped)) else target]
        return range(where.start.line, where.end.line + 1)

    sites = {f: attrs.evolve(s, value=values[f],
                             lines=tuple(sorted({n for t in targets[f] for n in span(t)})))
             for f, s in sites.items()}
    last_of: dict[str, _Candidate] = {}
    for literal in sorted(live, key=lambda c: c.order):
        if literal.aliasable:
            last_of[literal.path] = literal
    literals = tuple(Site("", c.value, c.line, c.style, c.path) for c in last_of.values())
    extraction = Extraction(values, sites, out_of_range, problems, choices, filename, invalid, tuple(found_knobs),
                            overridden, literals)
    return _Analysis(extraction, targets, module, collector.torch_optim_prefix, spelled_as)


def _position(wrapper: MetadataWrapper, node: cst.CSTNode) -> int:
    try:
        return wrapper.resolve(PositionProvider)[node].start.line
    except KeyError:
        return 0


def _normal_path(path: str) -> str:
    # Users write CONFIG["lr"]; sites are stored as CONFIG['lr'].
    return path.replace('"', "'")


def extract(source: str, filename: str = "<script>", mapping: Mapping[str, str] | None = None,
            knobs: Sequence[str] = (), directory: Path | None = None) -> Extraction:
    """Find every schema field the script sets, and where; and the declared ``knobs`` (the
    script's own names, from ``[space]``). ``directory`` is where the script lives, to read the
    override files it loads."""
    return _analyse(source, filename, mapping, knobs, directory).extraction


# --- writing -----------------------------------------------------------------------------

def format_value(value: Value, original: str = "") -> str:
    """Source text for ``value``, keeping the original's quote style for strings."""
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, int) and re.fullmatch(r"\s*2\s*\*\*\s*\d+\s*", original) and value > 0 \
            and value & (value - 1) == 0:
        return f"2**{value.bit_length() - 1}"  # 2**19 stays written as a power of two
    if isinstance(value, str):
        quote = "'" if original.lstrip().startswith("'") else '"'
        return f"{quote}{value}{quote}"
    if isinstance(value, float):
        text = repr(value)
        # 0.0003 reads better as 3e-4, the way people write learning rates.
        short = f"{value:.6g}"
        if float(short) != value or len(short) >= len(text):
            short = text
        # A float stays a float in the script: 2.0, not 2.
        return short if any(c in short for c in ".eEn") else short + ".0"
    return str(value)


def _literal_node(text: str, _: cst.CSTNode) -> cst.CSTNode:
    return cst.parse_expression(text)


class _Rewriter(cst.CSTTransformer):
    """Rewrites the nodes it is given, identified by the original tree's node identity.

    A rewrite is a function of the *updated* node, so that an optimizer switch applied to a
    call keeps the new literal already written into one of its arguments (``weight_decay``).
    """

    def __init__(self, rewrites: dict[int, Callable[[Any], cst.CSTNode]]) -> None:
        self.rewrites = rewrites

    def on_leave(self, original_node: cst.CSTNode, updated_node: cst.CSTNode) -> Any:
        rewrite = self.rewrites.get(id(original_node))
        return rewrite(updated_node) if rewrite is not None else updated_node


def _rename_callee(func: cst.BaseExpression, new_name: str) -> cst.BaseExpression:
    if isinstance(func, cst.Attribute):
        return func.with_changes(attr=cst.Name(new_name))
    return cst.Name(new_name)


def _filter_keywords(call: cst.Call, allowed: set[str]) -> list[cst.Arg]:
    kept = [a for a in call.args if a.keyword is None or a.keyword.value in allowed]
    if kept and call.args and kept[-1] is not call.args[-1]:
        kept[-1] = kept[-1].with_changes(comma=call.args[-1].comma)
    return kept


def _switch_optimizer(call: cst.Call, target: str, prefix: str | None) -> cst.Call:
    new_class = _CLASS_FOR_OPTIMIZER[target]
    if target == "lion":
        func: cst.BaseExpression = cst.Name("Lion")
    elif isinstance(call.func, cst.Attribute):
        func = _rename_callee(call.func, new_class)
    else:
        func = cst.parse_expression(f"{prefix}{new_class}") if prefix else cst.Name(new_class)
    return call.with_changes(func=func, args=_filter_keywords(call, _OPTIMIZER_KEYWORDS[target]))


def _set_enabled(call: cst.Call, enabled: bool) -> cst.Call:
    args = [a for a in call.args if not (a.keyword is not None and a.keyword.value == "enabled")]
    if enabled:
        return call.with_changes(args=_filter_keywords(call, {a.keyword.value for a in args if a.keyword}))
    comma = cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))
    if args:
        args[-1] = args[-1].with_changes(comma=comma)
    flag = cst.Arg(value=cst.Name("False"), keyword=cst.Name("enabled"),
                   equal=cst.AssignEqual(whitespace_before=cst.SimpleWhitespace(""),
                                         whitespace_after=cst.SimpleWhitespace("")))
    return call.with_changes(args=[*args, flag])


def _switch_activation(node: cst.Call, target: str) -> cst.Call:
    current = _dotted(node.func).split(".")[-1]
    name = next(k for k, v in _ACTIVATION_CLASSES.items() if v == target) if current in _ACTIVATION_CLASSES else target
    call = node.with_changes(func=_rename_callee(node.func, name))
    if current in _ACTIVATION_CLASSES:  # module classes: keep only keywords the new one takes
        call = call.with_changes(args=_filter_keywords(call, _ACTIVATION_KEYWORDS[target]))
    return call


def apply_values(source: str, changes: Mapping[str, Value], filename: str = "<script>",
                 mapping: Mapping[str, str] | None = None, space: Space | None = None,
                 directory: Path | None = None) -> str:
    """``source`` with each changed field or knob rewritten and nothing else touched.

    A name that is not a schema field is a knob, found by the script's own name (``MATRIX_LR``).
    Values are judged against ``space`` (the run's domains) when given, else against the design
    document's domains grown around the script's current values. Raises :class:`SchemaError`
    for a value outside its domain or a name arrl cannot edit here.
    """
    knobs = tuple(k for k in changes if k not in FIELDS_BY_NAME)
    analysis = _analyse(source, filename, mapping, knobs, directory)
    extraction = analysis.extraction
    for field, value in changes.items():
        if field not in extraction.sites:
            raise SchemaError(f"{field}: not present in {filename}, so it cannot be edited")
        _check_change(field, value, extraction.values[field], space)
    if {"attention_heads", "hidden_dim"} & set(changes):
        check_heads({**extraction.values, **changes})
    rewrites: dict[int, Callable[[Any], cst.CSTNode]] = {}
    for field, value in changes.items():
        site = extraction.sites[field]
        if not site.editable:
            raise SchemaError(f"{field}: {site.note} ({filename}:{site.line})")
        allowed = extraction.choices.get(field)
        if allowed is not None and value not in allowed:
            raise SchemaError(
                f"{field}: {value!r} is not available in {filename}; it can be {', '.join(map(str, allowed))}")
        for target in analysis.targets[field]:
            if isinstance(target, _CodeChoice):
                if field == "optimizer":
                    rewrites[id(target.node)] = functools.partial(
                        _switch_optimizer, target=str(value), prefix=analysis.optimizer_prefix)
                elif field == "mixed_precision":
                    rewrites[id(target.node)] = functools.partial(_set_enabled, enabled=bool(value))
                else:
                    rewrites[id(target.node)] = functools.partial(_switch_activation, target=str(value))
            elif isinstance(target, _Mapped):
                text = format_value(target.texts[value], analysis.module.code_for_node(target.node))
                rewrites[id(target.node)] = functools.partial(_literal_node, text)
            else:
                spelled = analysis.spellings.get(field, {}).get(value, value) if isinstance(value, str) else value
                text = format_value(spelled, analysis.module.code_for_node(target))
                rewrites[id(target)] = functools.partial(_literal_node, text)
    return analysis.module.visit(_Rewriter(rewrites)).code


def _check_change(name: str, value: Value, current: Value, space: Space | None) -> None:
    field = space.domain(name) if space is not None else None
    if field is None and name in FIELDS_BY_NAME:
        field = FIELDS_BY_NAME[name].grown(current)
    if field is not None:
        field.check(value)
        return
    # A knob with no declared domain: at least the type must be the one the script uses.
    if isinstance(current, bool) != isinstance(value, bool) or isinstance(current, str) != isinstance(value, str):
        raise SchemaError(f"{name}: {value!r} is not of the type the script uses ({current!r})")


def unified_diff(before: str, after: str, path: str) -> str:
    """A diff that ``git apply`` accepts, including the no-newline-at-end marker."""
    out: list[str] = []
    for line in difflib.unified_diff(before.splitlines(keepends=True), after.splitlines(keepends=True),
                                     f"a/{path}", f"b/{path}"):
        out.append(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n")
    return "".join(out)


def program_hash(source: str) -> str:
    """sha256 of the program's syntax tree: two scripts that differ only in comments or
    formatting are the same experiment, and running it again would teach nothing."""
    try:
        normal = ast.dump(ast.parse(source), include_attributes=False)
    except SyntaxError:
        normal = source
    return hashlib.sha256(normal.encode()).hexdigest()


def changed_lines(before: str, after: str) -> list[int]:
    """1-based line numbers of ``before`` that an edit changed (for tests and reviews)."""
    matcher = difflib.SequenceMatcher(a=before.splitlines(), b=after.splitlines(), autojunk=False)
    lines: list[int] = []
    for tag, i1, i2, _, _ in matcher.get_opcodes():
        if tag != "equal":
            lines.extend(range(i1 + 1, max(i2, i1 + 1) + 1))
    return lines
