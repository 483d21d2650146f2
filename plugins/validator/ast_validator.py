"""The AST validator: a proposal's new code must stay inside what training code needs.

Trust model: the user's baseline script is trusted; code a proposal adds or changes is not. A
statement of the proposal is trusted only if the baseline holds the same statement (compared as
syntax without positions, so moving or re-indenting it is fine); every other statement is
checked against:

1. the source as the interpreter reads it: the proposal is decoded by its encoding declaration,
   and one that declares another encoding than the baseline (``# coding: raw_unicode_escape``,
   which turns a "comment" into code) is refused;
2. an allow-list of syntax: no async code, no metaclasses, no dunder methods beyond the ones a
   model or dataset needs (``__init_subclass__`` and ``__torch_function__`` are hooks into code the
   script does not own), no dunder attributes in ``match`` class patterns either;
3. resolution, not matching: every name and attribute chain is resolved to the object it denotes by
   importing the libraries the script imports, in a separate process of the experiment's
   interpreter (:mod:`arrl.plugins.validator.name_resolver`): ``torch.os.system`` is ``os.system``, ``t.load``
   after ``t = torch`` is ``torch.load``, ``from torch.serialization import load`` is ``torch.load``.
   A chain that does not resolve is refused, and so is a module used as a value. A chain through a
   workspace module is followed by parsing its source (never importing it);
4. deny-lists over the resolved objects: process, shell, network, native code, dynamic code and
   imports, lookups by string (``pydoc.locate``, ``attrgetter`` with dunders or computed paths),
   unsafe deserialisation, signal and resource-limit tampering, and file-system writes;
5. introspection escapes: dunder attributes (``__subclasses__``, ``__globals__``, ...) and the
   builtins behind them (``globals()``, ``vars()``, ``__builtins__``, ``getattr`` passed around);
6. objects the script did not create are not changed: assigning attributes of modules, library
   classes and functions, ``type(x)`` or builtins is refused (documented settings such as
   ``torch.backends.cudnn.benchmark`` excepted); the script's own objects are its business;
7. what new code reads: absolute paths outside the workspace and the data directories, relative
   paths that climb out of it, and network URLs (folded from constants, so ``'/et' + 'c/passwd'``
   counts; a string only compared, printed or left unused is text, not a path), and environment
   variables that may hold secrets (``os.path.expandvars`` included); strings that carry code
   (a dunder, ``!!python/`` tags, imports, names of forbidden objects) are refused wherever they are;
8. the domains of the values arrl reads, judged against the *baseline's* space (arrl.script.space):
   a value is refused only if it differs from the baseline's and lies outside the domain grown
   around it (``learning_rate = 1e10`` is refused; an untouched ``batch_size = 12`` never is);
9. frozen evaluation code: lines between ``# arrl: frozen`` and ``# arrl: end frozen`` must stay
   byte-identical, names they define or read (``evaluate``, ``print``, ``F``) may not be rebound,
   modules named in ``frozen_modules`` may not be patched, and with frozen code or a trusted
   ``evaluate`` command new code may not write to stdout, where metric lines are read, by any
   route it can be seen to take (``print(..., file=sys.stderr)`` is fine).

Nothing here executes or imports the proposal. See docs/security.md for what this does not
stop and what the runners contain instead.
"""

from __future__ import annotations

import ast
import codecs
import io
import os
import posixpath
import re
import string
import sys
import tokenize
from collections import Counter
from collections.abc import Generator, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import attrs

import arrl
from arrl.records import ValidationIssue, ValidationResult
from arrl.schema import SchemaError
from arrl.script.space import SpaceSettings, build_space

from .constant_folding import absolute_paths, constant_prefix, fold
from .name_resolver import NameResolver, Resolution, ResolutionError
from .script_scope import Ref, Scope

# Statements and expressions new code may use. Anything else (async code) is refused. ``global`` is
# fine: every name a frozen region uses is protected wherever it is rebound.
ALLOWED_NODES: frozenset[type] = frozenset({
    ast.Module, ast.Expr, ast.Global, ast.Nonlocal, ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Delete, ast.Pass, ast.Break,
    ast.Continue, ast.Return, ast.If, ast.For, ast.While, ast.With, ast.withitem, ast.Try, ast.TryStar,
    ast.ExceptHandler, ast.Raise, ast.Assert, ast.FunctionDef, ast.ClassDef, ast.Lambda, ast.arguments,
    ast.arg, ast.keyword, ast.Import, ast.ImportFrom, ast.alias, ast.Match, ast.match_case,
    ast.MatchValue, ast.MatchSingleton, ast.MatchSequence, ast.MatchMapping, ast.MatchClass,
    ast.MatchStar, ast.MatchAs, ast.MatchOr,
    ast.BoolOp, ast.BinOp, ast.UnaryOp, ast.IfExp, ast.Compare, ast.Call, ast.NamedExpr,
    ast.Attribute, ast.Subscript, ast.Slice, ast.Starred, ast.Name, ast.Constant, ast.JoinedStr,
    ast.FormattedValue, ast.List, ast.Tuple, ast.Set, ast.Dict, ast.ListComp, ast.SetComp,
    ast.DictComp, ast.GeneratorExp, ast.comprehension, ast.Yield, ast.YieldFrom,
    ast.Load, ast.Store, ast.Del,
    ast.And, ast.Or, ast.Add, ast.Sub, ast.Mult, ast.MatMult, ast.Div, ast.Mod, ast.Pow, ast.LShift,
    ast.RShift, ast.BitOr, ast.BitXor, ast.BitAnd, ast.FloorDiv, ast.Invert, ast.Not, ast.UAdd,
    ast.USub, ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.Is, ast.IsNot, ast.In, ast.NotIn,
})

# Module (or package prefix) -> why new code may not touch it. A name resolving into one of these
# is refused unless it is in ALLOWED_NAMES.
FORBIDDEN_MODULES: dict[str, str] = {
    **dict.fromkeys(("subprocess", "pty", "multiprocessing", "concurrent", "asyncio", "sched", "pipes",
                     "torch.multiprocessing", "_posixsubprocess", "torch.distributed.elastic",
                     "torch.distributed.run", "torch.distributed.launch", "torch.distributed.launcher"),
                    "process spawning"),
    **dict.fromkeys(("socket", "ssl", "http", "urllib", "urllib3", "requests", "httpx", "aiohttp", "ftplib",
                     "smtplib", "poplib", "imaplib", "telnetlib", "xmlrpc", "socketserver", "webbrowser",
                     "grpc", "paramiko", "torch.hub", "antigravity", "torch.distributed.rpc", "fsspec",
                     "huggingface_hub", "boto3", "botocore", "s3fs", "gcsfs", "google.cloud", "azure", "wandb",
                     "mlflow", "comet_ml", "neptune", "kaggle", "gdown", "websocket", "websockets", "zmq", "pika",
                     "kafka", "redis", "pymongo", "psycopg2", "pycurl", "dns", "torch.distributed.TCPStore",
                     "torch.distributed.FileStore", "torch.distributed.rendezvous"), "network access"),
    **dict.fromkeys(("numpy.f2py", "numpy.distutils", "distutils", "setuptools", "pip", "ensurepip", "venv"),
                    "building or installing code"),
    **dict.fromkeys(("ctypes", "cffi", "_ctypes", "mmap", "numpy.ctypeslib", "torch.utils.cpp_extension",
                     "torch.library", "torch._library", "torch._C", "torch._ops", "torch.overrides",
                     "torch.utils._python_dispatch"), "native code or library internals"),
    **dict.fromkeys(("importlib", "imp", "pkgutil", "runpy", "zipimport", "code", "codeop", "builtins",
                     "__builtin__", "inspect", "gc", "sysconfig", "types", "site", "pydoc", "timeit",
                     "doctest", "pdb", "bdb", "trace", "cProfile", "profile", "unittest", "logging.config",
                     "idlelib", "tkinter", "turtle", "this", "torch._utils", "sympy", "mako", "numexpr"),
                    "dynamic code, imports or lookups by string"),
    **dict.fromkeys(("pickle", "cPickle", "_pickle", "dill", "cloudpickle", "marshal", "shelve", "joblib",
                     "copyreg"), "unsafe deserialisation"),
    **dict.fromkeys(("signal", "resource", "faulthandler", "atexit"), "signal or resource-limit tampering"),
    **dict.fromkeys(("shutil", "tempfile", "fcntl", "posix", "nt"), "file-system changes"),
    **dict.fromkeys(("pwd", "spwd", "grp", "netrc", "keyring", "dotenv", "getpass"), "reading accounts or secrets"),
    "os": "process, shell and file-system access",
    "sys": "interpreter internals",
}
# Internals judged by the path that reaches them only: many public functions are *defined* there
# (torch.nn.functional.gelu is torch._C._nn.gelu) and stay fine when reached the public way.
PATH_ONLY_MODULES = frozenset({"torch._C", "torch._ops", "torch._library", "torch.library", "torch.overrides",
                               "torch.utils._python_dispatch", "torch._utils"})
# The pure path functions of os.path (``expandvars`` reads the environment and is judged like a
# read of it); anything else reached through os.path (``os.path.os``, ``os.path.sys``) is judged
# as the object it is.
OS_PATH_PURE = frozenset(f"os.path.{n}" for n in (
    "abspath", "altsep", "basename", "commonpath", "commonprefix", "curdir", "defpath", "devnull", "dirname",
    "exists", "expanduser", "extsep", "getatime", "getctime", "getmtime", "getsize", "isabs", "isdir", "isfile",
    "islink", "ismount", "join", "lexists", "normcase", "normpath", "pardir", "pathsep", "realpath", "relpath",
    "samefile", "sep", "split", "splitdrive", "splitext", "supports_unicode_filenames"))
# Harmless members of otherwise forbidden modules that training code uses.
# Reads of the workspace (``os.listdir``) and directory creation (``os.makedirs``) are allowed: the
# paths they are given are judged like every other path.
ALLOWED_NAMES: frozenset[str] = frozenset({
    "os.environ", "os.environ.get", "os.environ.setdefault", "os.getenv", "os.path", "os.cpu_count",
    "os.getpid", "os.sep", "os.linesep", "os.fspath", "os.PathLike", "os.getcwd", "os.listdir", "os.scandir",
    "os.walk", "os.makedirs", "os.mkdir", "os.path.expandvars", *OS_PATH_PURE,
    "sys.argv", "sys.version", "sys.version_info", "sys.platform", "sys.maxsize", "sys.float_info",
    "sys.int_info", "sys.stdout", "sys.stderr", "sys.stdout.flush", "sys.stderr.flush", "sys.stdout.write",
    "sys.stderr.write", "sys.exit", "sys.getsizeof", "sys.byteorder",
    "gc.collect", "gc.disable", "gc.enable", "gc.freeze", "gc.isenabled", "types.SimpleNamespace",
    "inspect.isclass", "inspect.isfunction", "multiprocessing.cpu_count",
    "concurrent.futures.ThreadPoolExecutor", "concurrent.futures.as_completed", "concurrent.futures.wait",
})
# Allowed names whose attributes are plain data (``sys.float_info.epsilon``).
ALLOWED_DATA = frozenset({"sys.float_info", "sys.version_info", "sys.int_info"})
# Forbidden modules that may still be imported, for the allowed names above; each use is judged.
IMPORTABLE = frozenset(n.rsplit(".", 1)[0] for n in ALLOWED_NAMES) | {"os", "sys"}
FORBIDDEN_BUILTINS: dict[str, str] = {
    **dict.fromkeys(("eval", "exec", "compile", "__import__"), "dynamic code"),
    **dict.fromkeys(("globals", "locals", "vars", "__builtins__", "__loader__", "__spec__"), "an introspection escape"),
    "breakpoint": "a debugger hook", "input": "reading standard input", "memoryview": "raw memory access",
}
# Fully resolved callables refused wherever they are.
FORBIDDEN_CALLS: dict[str, str] = {
    **dict.fromkeys(("torch.load", "torch.jit.load", "torch.package.PackageImporter", "numpy.load",
                     "pandas.read_pickle", "yaml.load", "yaml.unsafe_load", "yaml.full_load", "yaml.unsafe_load_all",
                     "yaml.load_all", "numpy.lib.format.read_array", "yaml.Loader", "yaml.UnsafeLoader",
                     "yaml.FullLoader", "yaml.CLoader", "yaml.CUnsafeLoader", "yaml.CFullLoader", "yaml.full_load_all",
                     "yaml.constructor.UnsafeConstructor", "yaml.constructor.FullConstructor",
                     "yaml.constructor.Constructor"), "unsafe deserialisation"),
    **dict.fromkeys(("torch.ops.load_library", "torch.classes.load_library"), "native code"),
    **dict.fromkeys(("logging.handlers.SocketHandler", "logging.handlers.DatagramHandler",
                     "logging.handlers.SysLogHandler", "logging.handlers.SMTPHandler", "logging.handlers.HTTPHandler",
                     "datasets.load_dataset", "torchvision.datasets.utils.download_url",
                     "torchvision.datasets.utils.download_and_extract_archive"), "network access"),
    **dict.fromkeys(("pandas.eval", "numexpr.evaluate", "sympy.sympify", "sympy.parse_expr",
                     "sympy.parsing.sympy_parser.parse_expr", "hydra.utils.get_class", "hydra.utils.get_method",
                     "hydra.utils.get_object", "hydra.utils.instantiate", "hydra.utils.call",
                     "torch.utils.collect_env.run", "typing.get_type_hints", "typing.ForwardRef",
                     "attrs.resolve_types", "attr.resolve_types", "pydantic.ImportString",
                     "torch.utils.benchmark.Timer", "torch.utils.benchmark.utils.timer.Timer", "logging.currentframe",
                     "string.Formatter", "typing._eval_type"),
                    "evaluating a string as code or a lookup by string"),
}
# Callables that write to stdout unless told otherwise: refused in new code when stdout is reserved.
STDOUT_WRITERS = frozenset({"pprint.pprint", "pprint.pp", "pprint.PrettyPrinter", "help", "builtins.help",
                            "dis.dis", "dis.show_code", "dis.disassemble", "numpy.info", "tqdm.std.tqdm.write",
                            "tqdm.tqdm.write", "torchinfo.summary", "torchsummary.summary", "rich.print",
                            "rich.console.Console", "IPython.display.display", "contextlib.redirect_stdout",
                            "contextlib.redirect_stderr"})
# Functions that open files: a write mode or a file descriptor is refused.
OPENERS = frozenset({"open", "io.open", "io.FileIO", "io.open_code", "codecs.open", "gzip.open", "gzip.GzipFile",
                     "pathlib.Path.open", "pathlib.PosixPath.open",
                     "bz2.open", "bz2.BZ2File", "lzma.open", "lzma.LZMAFile", "tarfile.open", "zipfile.ZipFile"})
# Deserialisers that are safe in one form: entry -> (keyword, its safe value, at most this many
# positional arguments, safe when the keyword is left out).
SAFE_FORMS: dict[str, tuple[str, bool, int, bool]] = {"torch.load": ("weights_only", True, 2, False),
                                                      "numpy.load": ("allow_pickle", False, 2, True)}
# Attributes of library objects that a script sets to configure them.
SETTINGS = frozenset({
    "torch.backends.cudnn.benchmark", "torch.backends.cudnn.deterministic", "torch.backends.cudnn.allow_tf32",
    "torch.backends.cudnn.enabled", "torch.backends.cuda.matmul.allow_tf32",
    "torch.backends.cuda.matmul.allow_fp16_reduced_precision_reduction",
    "torch.backends.cuda.matmul.allow_bf16_reduced_precision_reduction", "torch.backends.mkldnn.enabled",
    "torch.backends.opt_einsum.enabled", "torch.backends.opt_einsum.strategy",
    "torch.backends.cuda.cufft_plan_cache.max_size", "torch.backends.mps.enabled",
})
SETTING_PREFIXES = ("torch._dynamo.config.", "torch._inductor.config.", "torch._functorch.config.")
# Parts of setting names that name a program the library will run (inductor's cpp.cxx): a command.
COMMAND_SETTINGS = frozenset({"cxx", "cc", "compiler", "cmd", "command", "executable", "exe", "path", "bin", "ld",
                              "linker", "nvcc", "prefix"})
# Method names that change the file system, on whatever object they are called.
# (``mkdir`` is not one: creating a directory writes no file's contents, and its path is judged.)
WRITE_METHODS = frozenset({"write_text", "write_bytes", "unlink", "rmdir", "rename", "touch", "symlink_to",
                           "hardlink_to", "chmod", "lchmod", "chown", "rmtree", "removedirs", "replace", "tofile",
                           "to_csv", "to_json", "to_parquet", "to_pickle", "to_feather", "to_hdf", "to_excel",
                           "to_sql", "to_stata", "to_orc", "to_netcdf", "to_zarr", "savefig", "link_to", "copy_into",
                           "move_into", "dump_stats", "export_chrome_trace"})
# Methods that change a container in place: refused on library objects (``sys.path.append``).
MUTATING_METHODS = frozenset({"update", "setdefault", "pop", "popitem", "clear", "append", "extend", "insert",
                              "remove", "add", "discard", "__setitem__", "__delitem__"})
# Dunder attributes a model definition needs; every other one is an escape hatch
# (``().__class__.__bases__[0].__subclasses__()``).
ALLOWED_DUNDERS = frozenset({"__init__", "__name__", "__doc__", "__version__", "__call__", "__len__",
                             "__getitem__", "__iter__", "__repr__", "__enter__", "__exit__", "__file__",
                             "__main__", "__post_init__", "__slots__", "__qualname__"})
# Special methods new classes may define; the others hook into code the script does not own
# (``__init_subclass__``, ``__torch_function__``, ``__set_name__``, ``__del__``, ``__format__``).
ALLOWED_SPECIAL_METHODS = frozenset({"__init__", "__call__", "__len__", "__getitem__", "__iter__", "__next__",
                                     "__repr__", "__str__", "__enter__", "__exit__", "__post_init__",
                                     "__contains__", "__setitem__", "__eq__", "__ne__", "__lt__", "__le__",
                                     "__gt__", "__ge__", "__hash__", "__bool__"})
# Dunder names a string may hold without being code: names of the above, packages' files.
STRING_DUNDERS = ALLOWED_DUNDERS | ALLOWED_SPECIAL_METHODS | {"__pycache__", "__future__", "__all__", "__module__"}
# Schemes of URLs that name another machine (``file:`` URLs are judged as absolute paths).
URL = re.compile(r"^\s*(?:[a-z][a-z0-9+.-]*\+)?(?:https?|ftps?|sftp|wss?|s3a?|gs|gcs|hf|ssh|git|rsync|tcp|udp|smb|"
                 r"hdfs|webhdfs|az|abfss?|adl|oss|dropbox|gdrive|ipfs|rtsp|ldap|telnet|mongodb|redis|amqp|"
                 r"postgres(?:ql)?|mysql)://", re.IGNORECASE)
# Code in a string (after folding): a dunder, a YAML tag that builds Python objects, an import,
# or a dotted name of a forbidden object, called or standing alone.
STRING_DUNDER = re.compile(r"__([A-Za-z0-9]\w*?)__")
YAML_PYTHON_TAG = re.compile(r"!!python/|tag:yaml\.org,2002:python/")
STRING_IMPORT = re.compile(r"\b(?:import|from)\s+([A-Za-z_][\w.]*)")
STRING_CALL = re.compile(r"([A-Za-z_]\w*(?:\s*\.\s*[A-Za-z_]\w*)+)\s*\(")
STRING_BUILTIN_CALL = re.compile(r"(?<![\w.])(eval|exec|compile|__import__|getattr|setattr|globals|locals|vars|"
                                 r"breakpoint|open)\s*\(")
STRING_DOTTED = re.compile(r"\s*([A-Za-z_]\w*(?:[.:][A-Za-z_]\w*)+)\s*")
# A name.ext string is a file name, not a lookup (``profile.json``, ``trace.json``).
FILE_EXTENSIONS = frozenset({
    "json", "jsonl", "txt", "csv", "tsv", "log", "py", "pt", "pth", "bin", "npy", "npz", "pkl", "yaml", "yml", "toml",
    "cfg", "ini", "png", "jpg", "jpeg", "gif", "svg", "pdf", "html", "md", "gz", "zip", "tar", "h5", "hdf5", "ckpt",
    "safetensors", "out", "err", "dat", "parquet", "arrow", "onnx", "db", "sqlite", "lock", "tmp", "bak", "prof",
    "trace", "xml", "idx", "model", "vocab", "tgz", "bz2", "xz", "pb", "mp4", "wav"})
# Bases a new class may not have while stdout is reserved: a subclass overriding ``item`` or
# ``__format__`` would change what the frozen code prints.
VALUE_BASES = frozenset({"torch.Tensor", "torch._C.TensorBase", "torch._C._TensorBase", "numpy.ndarray",
                         "numpy.generic", "builtins.float", "builtins.int", "builtins.complex", "builtins.str",
                         "builtins.bytes"})
# Attributes of frames, generators, coroutines, tracebacks and code objects: a way to every
# module's globals and builtins without a dunder (``(x for x in ()).gi_frame.f_globals``).
FRAME_ATTRIBUTES = frozenset({"gi_frame", "gi_code", "gi_yieldfrom", "cr_frame", "cr_code", "cr_await", "ag_frame",
                              "ag_code", "f_globals", "f_builtins", "f_locals", "f_back", "f_code", "tb_frame",
                              "tb_next", "co_code", "co_consts", "func_globals", "func_code"})
ATTRIBUTE_FUNCTIONS = frozenset({"getattr", "setattr", "hasattr", "delattr"})
STRING_LOOKUPS = frozenset({"operator.attrgetter", "operator.methodcaller", "operator.itemgetter"})
WRITE_MODES = frozenset("wax+")
FROZEN_START = re.compile(r"#\s*arrl:\s*frozen\b")
FROZEN_END = re.compile(r"#\s*arrl:\s*end\s+frozen\b")

# Environment variables new code may read whatever their name looks like, and may set.
ENV_ALLOWED = frozenset({"RANK", "LOCAL_RANK", "WORLD_SIZE", "LOCAL_WORLD_SIZE", "GROUP_RANK", "NODE_RANK",
                         "MASTER_ADDR", "MASTER_PORT", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                         "NUMEXPR_NUM_THREADS", "CUDA_VISIBLE_DEVICES", "TOKENIZERS_PARALLELISM",
                         "PYTORCH_CUDA_ALLOC_CONF", "CUBLAS_WORKSPACE_CONFIG", "CUDA_LAUNCH_BLOCKING",
                         "SLURM_PROCID", "SLURM_LOCALID", "SLURM_NTASKS", "NCCL_DEBUG", "TORCH_LOGS"})
ENV_ALLOWED_PREFIXES = ("ARRL_",)
# Names that may hold credentials or say where they are: refused unless allowed above (or read
# by the baseline, which is trusted).
ENV_SECRET = re.compile(
    r"KEY|TOKEN|SECRET|PASS|PWD|CRED|AUTH|SESSION|COOKIE|PRIVATE|CERT|SIGN|SALT|DSN|WEBHOOK|ACCOUNT|LOGIN|"
    r"USER|URL|URI|ENDPOINT|CONN|DATABASE|_DB\b|^DB_|^AWS|^AZURE|^GCP|^GOOGLE|^GH_|^GITHUB|^GITLAB|^HF_|^HUGGING|"
    r"^OPENAI|^ANTHROPIC|^SSH|^GPG|^GNUPG|^NPM|^PYPI|^TWINE|^DOCKER|^KUBE|^VAULT|^WANDB|^MLFLOW|^COMET|"
    r"^NEPTUNE|^SLACK|^STRIPE|^SENTRY|^DD_|^HOME$|^PATH$|^LD_|^PYTHON|^SHELL$|^MAIL|^DISPLAY$|^XAUTH|^KRB",
    re.IGNORECASE)
# Absolute paths new code may name besides the workspace and the data directories.
ALWAYS_READABLE = ("/dev/null", "/workspace", "/output")


@attrs.frozen
class AstOptions:
    max_bytes: int = attrs.field(default=1_000_000, validator=attrs.validators.ge(1))
    check_ranges: bool = True
    # Modules holding evaluation code (like autoresearch's prepare.py): new code may not patch them.
    frozen_modules: list[str] = attrs.Factory(list)
    # Absolute directories new code may read besides the workspace (datasets kept elsewhere).
    data_dirs: list[str] = attrs.Factory(list)
    # The interpreter the experiment runs with; names are resolved by importing libraries with it.
    # Empty: the one running arrl (what the subprocess and container runners use by default).
    python: str = ""
    # Seconds to wait for the resolver to import a library (torch takes seconds on a busy machine).
    resolve_timeout: float = attrs.field(default=180.0, validator=attrs.validators.gt(0))
    # New code may not write to stdout even without frozen regions (set when `evaluate` is used).
    reserve_stdout: bool = False


def _signature(node: ast.stmt) -> str:
    """The statement without its nested bodies and positions, so an edit inside a function
    leaves the function's other statements trusted."""
    fields: dict[str, Any] = {}
    for name, value in ast.iter_fields(node):
        if isinstance(value, list) and value and isinstance(value[0], ast.stmt):
            fields[name] = []
        else:
            fields[name] = value
    clone = type(node)(**fields)
    return ast.dump(clone, include_attributes=False)


def _statements(tree: ast.AST) -> Iterator[ast.stmt]:
    for node in ast.walk(tree):
        if isinstance(node, ast.stmt):
            yield node


def frozen_regions(source: str) -> list[tuple[int, int, str]]:
    """(first line, last line, text) of every ``# arrl: frozen`` ... ``# arrl: end frozen`` region."""
    regions = []
    start: int | None = None
    lines = source.splitlines(keepends=True)
    for number, line in enumerate(lines, 1):
        if start is None and FROZEN_START.search(line):
            start = number
        elif start is not None and FROZEN_END.search(line):
            regions.append((start, number, "".join(lines[start - 1:number])))
            start = None
    if start is not None:
        regions.append((start, len(lines), "".join(lines[start - 1:])))
    return regions


def _bound_names(statements: list[ast.stmt]) -> set[str]:
    """Module-level names the statements bind (a function's locals are its own business)."""
    names: set[str] = set()
    for statement in statements:
        if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(statement.name)
        elif isinstance(statement, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in statement.names)
        elif isinstance(statement, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = statement.targets if isinstance(statement, ast.Assign) else [statement.target]
            for target in targets:
                names.update(n.id for n in ast.walk(target) if isinstance(n, ast.Name))
    return names


def _read_names(statements: list[ast.stmt], scope: Scope) -> set[str]:
    """Names the statements read that stand for builtins or imported library objects: rebinding
    one (``print = ...``, ``F = fake``) changes what the frozen code does."""
    names: set[str] = set()
    for statement in statements:
        for node in ast.walk(statement):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and scope.refs_of(node):
                names.add(node.id)
    return names


def declared_encoding(source: str) -> str:
    """The codec the interpreter decodes ``source``'s file with (PEP 263 and a BOM), normalised."""
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(source.encode("utf-8", "surrogatepass")).readline)
    except SyntaxError as error:
        raise ValueError(str(error)) from None
    name = codecs.lookup(encoding).name
    return "utf-8" if name in ("utf-8", "utf-8-sig") else name


class _Resolver:
    """Resolves Refs for one validation, knowing which modules belong to the workspace."""

    def __init__(self, names: NameResolver, workspace_modules: set[str], baseline_imports: set[str],
                 workspace_unknown: bool, workspace: Path | None = None) -> None:
        self.names = names
        self.workspace = workspace
        self.sources: dict[str, Scope | None] = {}
        self.workspace_unknown = workspace_unknown
        self.workspace_modules = workspace_modules
        self.baseline_imports = baseline_imports
        self.identities: dict[str, dict[str, str]] = {}

    def is_workspace(self, ref: Ref) -> bool:
        return ref.root in self.workspace_modules or ref.module.startswith(".")

    def _module_scope(self, module: str) -> Scope | None:
        """What the names of a workspace module stand for, read from its source (trusted, never run)."""
        if module not in self.sources:
            self.sources[module] = None
            if self.workspace is not None:
                base = self.workspace.joinpath(*module.split("."))
                for path in (base.with_suffix(".py"), base / "__init__.py"):
                    try:
                        self.sources[module] = Scope(ast.parse(path.read_text(encoding="utf-8")))
                        break
                    except (OSError, SyntaxError, ValueError, UnicodeError):
                        continue
        return self.sources[module]

    def through_workspace(self, ref: Ref, depth: int = 0) -> Ref | str | None:
        """What ``ref`` on a workspace module reaches: an object the module imported (``helpers.subprocess``
        -> ``subprocess``), None for the module's own objects, or why it cannot be told."""
        if ref.module.startswith(".") or depth > 8:
            return None
        parts = (*ref.module.split("."), *ref.attrs)
        for cut in range(len(parts) - 1, 0, -1):  # the longest prefix that is a file of the workspace
            module = ".".join(parts[:cut])
            scope = self._module_scope(module)
            if scope is None:
                continue
            name, rest = parts[cut], parts[cut + 1:]
            refs = scope.refs.get(name, set())
            if not refs:
                if any(r.attrs == ("*",) for rs in scope.refs.values() for r in rs):
                    return f"uses {ref.dotted}: {module} imports names with '*', so what it reaches cannot be told"
                if self.workspace is not None and (self.workspace.joinpath(*parts[:cut + 1]).with_suffix(".py")
                                                   .is_file() or self.workspace.joinpath(*parts[:cut + 1]).is_dir()):
                    continue  # a submodule of a workspace package: judged on its own
                return None  # defined by the module itself: trusted code
            target = sorted(refs, key=lambda r: r.dotted)[0] if len(refs) == 1 else None
            if target is None:
                return f"uses {ref.dotted}: {module}.{name} is bound to several objects"
            target = target.extend(*rest)
            if target.root in self.workspace_modules or target.module.startswith("."):
                return self.through_workspace(target, depth + 1) if not target.module.startswith(".") else None
            return target
        return None

    def resolve(self, ref: Ref) -> Resolution | str:
        """The resolution, or why there is none."""
        try:
            found = self.names.resolve(ref.module, ref.attrs)
        except ResolutionError as error:
            return f"cannot resolve {ref.dotted}: {error}"
        if found.error == "import":
            if self.workspace_unknown and ref.root in {m.split(".")[0] for m in self.baseline_imports}:
                return ""  # most likely a module of the workspace the baseline already uses: trusted code
            return f"imports {ref.module}, which is not an installed library ({found.detail})"
        if found.error == "attribute":
            return f"uses {ref.dotted}, which the installed {ref.root} does not have: it cannot be resolved"
        if found.error:
            return f"cannot resolve {ref.dotted}: {found.detail}"
        return found

    def known(self, table: Iterable[str], imported_roots: set[str]) -> dict[str, str]:
        """Every spelling of the table's entries: as written, and where each object is defined
        (``torch.load`` -> also ``torch.serialization.load``), for libraries the script can reach."""
        names: dict[str, str] = {}
        for entry in table:
            names[entry] = entry
            module, _, attr = entry.rpartition(".")
            if not module or module.split(".")[0] not in imported_roots:
                continue
            found = self.resolve(Ref(module, (attr,)))
            if isinstance(found, Resolution):
                for spelling in (found.path_name, found.definition):
                    if spelling:
                        names[spelling] = entry
        return names


STDLIB = frozenset(sys.stdlib_module_names) - set(FORBIDDEN_MODULES)


class _Checker:
    """Checks the untrusted statements of one proposal."""

    def __init__(self, scope: Scope, baseline_scope: Scope, resolver: _Resolver, frozen_names: set[str],
                 frozen_reads: set[str], frozen_modules: set[str], reserved: bool, readable: list[str],
                 baseline_env: set[str], tree: ast.Module | None = None, relative_readable: Sequence[str] = ()) -> None:
        self.scope = scope
        self.relative_readable = list(relative_readable)
        self.parents: dict[ast.AST, ast.AST] = {}
        self.loads: dict[str, list[ast.Name]] = {}
        for parent in ast.walk(tree) if tree is not None else ():
            for child in ast.iter_child_nodes(parent):
                self.parents[child] = parent
            if isinstance(parent, ast.Name) and isinstance(parent.ctx, ast.Load):
                self.loads.setdefault(parent.id, []).append(parent)
        self.baseline_scope = baseline_scope
        self.resolver = resolver
        self.frozen_names = frozen_names
        self.frozen_reads = frozen_reads
        self.frozen_modules = frozen_modules
        self.frozen = reserved
        self.readable = readable
        self.baseline_env = baseline_env
        # Only libraries the script imports are imported to learn where table entries are defined.
        roots = {m.split(".")[0] for m in scope.imported} - resolver.workspace_modules
        self.forbidden_calls = resolver.known(FORBIDDEN_CALLS, roots)
        self.allowed = resolver.known(ALLOWED_NAMES, roots)
        self.stdout_writers = resolver.known(STDOUT_WRITERS, roots)
        self.openers = resolver.known(OPENERS, roots)
        self.lookups = resolver.known(STRING_LOOKUPS, roots)
        self.resolved: dict[Ref, Resolution | str] = {}

    # -- resolution -----------------------------------------------------------------------
    def _resolution(self, ref: Ref) -> Resolution | str:
        if ref not in self.resolved:
            # What is refused by its spelling is never imported to find out more.
            spelled = _forbidden(ref.dotted) if ref.dotted not in IMPORTABLE | SAFE_FORMS.keys() \
                and ref.module != "builtins" else None
            if spelled:
                self.resolved[ref] = f"uses {ref.dotted}: {spelled}"
            elif self.resolver.is_workspace(ref):
                # The workspace's own module is never imported: its source says what the name is.
                target = self.resolver.through_workspace(ref)
                self.resolved[ref] = target if isinstance(target, str) else \
                    "" if target is None else self._resolution(target)
            else:
                self.resolved[ref] = self.resolver.resolve(ref)
        return self.resolved[ref]

    def names_of(self, node: ast.expr) -> list[tuple[Ref, list[str], Resolution | None]]:
        """For each library object ``node`` may denote: its ref, every spelling of it (as
        written, from its last module, where defined) and its resolution."""
        found = []
        for ref in sorted(self.scope.refs_of(node), key=lambda r: r.dotted):
            resolution = self._resolution(ref)
            spellings = [ref.dotted if ref.module != "builtins" else ".".join(ref.attrs)]
            if isinstance(resolution, Resolution):
                spellings += [n for n in (resolution.path_name, resolution.definition) if n]
                if self.resolver.is_workspace(ref):  # reached through a workspace module
                    spellings.append(".".join((resolution.module, *resolution.attrs)))
            found.append((ref, spellings, resolution if isinstance(resolution, Resolution) else None))
        return found

    def _dotted(self, node: ast.expr) -> set[str]:
        return {name for _, spellings, _ in self.names_of(node) for name in spellings}

    def _is(self, node: ast.expr, table: dict[str, str] | frozenset[str]) -> str | None:
        for name in self._dotted(node):
            if name in table:
                return table[name] if isinstance(table, dict) else name
        return None

    # -- statements -----------------------------------------------------------------------
    def statement(self, statement: ast.stmt) -> Iterator[ValidationIssue]:
        paths: set[str] = set()
        strings: set[str] = set()
        for node, parent in _own_nodes(statement):
            line = getattr(node, "lineno", statement.lineno)
            if type(node) not in ALLOWED_NODES:
                yield ValidationIssue(f"{type(node).__name__} is not allowed in proposed code", line)
                continue
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                yield from self._import(node)
            elif isinstance(node, ast.MatchClass):
                # ``case object(__globals__=g)`` reads the attribute like ``x.__globals__``.
                for attribute in node.kwd_attrs:
                    if _escape(attribute):
                        yield ValidationIssue(f"matches attribute {attribute}, an introspection escape", line)
            elif isinstance(node, (ast.Global, ast.Nonlocal)):
                for name in node.names:
                    if name.startswith("__") and name not in ALLOWED_DUNDERS:
                        yield ValidationIssue(f"declares {name}, an introspection escape", line)
            elif isinstance(node, ast.Attribute):
                yield from self._attribute(node, parent)
            elif isinstance(node, ast.Name):
                yield from self._name(node, parent)
            elif isinstance(node, ast.Call):
                yield from self._call(node, parent)
            elif isinstance(node, ast.Subscript):
                yield from self._subscript(node, parent)
            elif isinstance(node, ast.FunctionDef):
                yield from self._function(node)
            elif isinstance(node, ast.ClassDef):
                yield from self._class(node)
            if isinstance(node, (ast.Constant, ast.BinOp, ast.JoinedStr, ast.Call, ast.Subscript)):
                docstring = isinstance(statement, ast.Expr) and node is statement.value
                if not docstring:
                    yield from self._code_in_string(node, parent, strings)
                if not isinstance(parent, ast.JoinedStr):
                    yield from self._paths(node, paths)

    def _import(self, node: ast.Import | ast.ImportFrom) -> Iterator[ValidationIssue]:
        if isinstance(node, ast.ImportFrom) and node.level:
            yield ValidationIssue("relative imports are not allowed in proposed code", node.lineno)
            return
        if isinstance(node, ast.Import):
            refs = [Ref(a.name) for a in node.names]
        else:
            refs = [Ref(node.module or "", (a.name,)) for a in node.names]
        for ref in refs:
            # `import os` and `import sys` are fine: each use of them is judged where it happens.
            reason = None if ref.dotted in IMPORTABLE else _forbidden(ref.dotted)
            if isinstance(node, ast.ImportFrom) and _escape(ref.attrs[-1]):
                reason = "an introspection escape"
            if reason:
                yield ValidationIssue(f"imports {ref.dotted}: {reason}", node.lineno)
                continue
            resolution = self._resolution(ref)
            if isinstance(resolution, str):
                if resolution:
                    yield ValidationIssue(resolution, node.lineno)
                continue
            if ref.dotted in IMPORTABLE or any(self.forbidden_calls.get(n or "") in SAFE_FORMS
                                               for n in (ref.dotted, resolution.path_name, resolution.definition)):
                continue  # judged where it is used (``load(path, weights_only=True)``)
            yield from self._judge(ref.dotted, [resolution.path_name], node.lineno, "imports",
                                   resolution.definition)
        for alias, ref in zip(node.names, refs):
            bound = (alias.asname or alias.name).split(".")[0]
            if isinstance(node, ast.Import) and not alias.asname:
                ref = Ref(bound)
            if self._same_object(ref, self.baseline_scope.refs.get(bound, set())):
                continue  # the same binding the baseline makes, again (perhaps spelled differently)
            if bound in self.frozen_names or bound in self.frozen_reads:
                yield ValidationIssue(f"rebinds {bound!r}, which frozen evaluation code uses", node.lineno)

    def _same_object(self, ref: Ref, others: set[Ref]) -> bool:
        if ref in others:
            return True
        mine = self._resolution(ref)
        for other in others:
            theirs = self._resolution(other)
            if isinstance(mine, Resolution) and isinstance(theirs, Resolution) and \
                    (mine.path_name, mine.definition) == (theirs.path_name, theirs.definition):
                return True
        return False

    def _judge(self, written: str, names: Sequence[str | None], line: int, verb: str = "uses",
               definition: str | None = None) -> Iterator[ValidationIssue]:
        """Refuse a forbidden object, whether judged by how it is reached (``names``) or by where
        it is defined (``definition``: library internals are judged by path only)."""
        spellings = [(n, True) for n in names if n] + ([(definition, False)] if definition else [])
        if any(n in self.allowed or _allowed(n) for n, _ in spellings):
            return
        for name, is_path in spellings:
            reason = self.forbidden_calls.get(name) and FORBIDDEN_CALLS[self.forbidden_calls[name]] or \
                _forbidden(name, internals=is_path)
            if reason:
                also = f" ({name})" if name != written else ""
                yield ValidationIssue(f"{verb} {written}{also}: {reason}", line)
                return

    def _attribute(self, node: ast.Attribute, parent: ast.AST | None) -> Iterator[ValidationIssue]:
        type_name = node.attr == "__class__" and isinstance(parent, ast.Attribute) and parent.value is node \
            and parent.attr in ("__name__", "__qualname__") and isinstance(node.ctx, ast.Load)
        if _escape(node.attr) and not type_name:
            yield ValidationIssue(f"accesses {node.attr}, an introspection escape", node.lineno)
            return
        if isinstance(node.ctx, (ast.Store, ast.Del)):
            yield from self._store(node.value, node.attr, node.lineno)
            return
        if isinstance(parent, ast.Attribute) and parent.value is node:
            return  # judged with the whole chain
        yield from self._chain(node, parent)

    def _chain(self, node: ast.expr, parent: ast.AST | None) -> Iterator[ValidationIssue]:
        """A maximal name or attribute chain that new code reads."""
        for ref, spellings, resolution in self.names_of(node):
            line = node.lineno
            if ref.module == "builtins":
                continue  # judged by name in _name
            if resolution is None:
                reason = self._resolution(ref)
                if reason:
                    yield ValidationIssue(str(reason), line)
                    return
                continue  # the workspace's own module
            private = next((a for a in ref.attrs if a.startswith("_") and a not in ALLOWED_DUNDERS), None)
            if private and ref.root in STDLIB | {"os", "sys"}:
                yield ValidationIssue(f"uses {ref.dotted}: private names of the standard library are off limits",
                                      line)
                return
            called = isinstance(parent, ast.Call) and parent.func is node
            if not called and not _alias_position(node, parent) and (
                    self._is(node, self.openers) or "os.path.expandvars" in spellings):
                yield ValidationIssue(f"takes {ref.dotted} as a value, so its arguments cannot be checked", line)
                return
            if self._safe_form(spellings, parent if isinstance(parent, ast.Call) and called else None):
                continue
            issues = list(self._judge(ref.dotted, [ref.dotted, resolution.path_name], line,
                                      definition=resolution.definition))
            yield from issues
            if issues:
                return
            final = resolution.final
            inspected = isinstance(parent, ast.Call) and parent.args[:1] == [node] and \
                self.scope.is_builtin(parent.func, "hasattr", "getattr")
            if final is not None and final.kind == "module" and not inspected and not _alias_position(node, parent):
                yield ValidationIssue(f"uses module {resolution.path_name} as a value; use its attributes "
                                      "directly", line)
                return
            flush = "sys.stdout.flush" in spellings and isinstance(parent, ast.Call) and parent.func is node
            if self.frozen and not flush and any(n.startswith(("sys.stdout", "sys.__stdout__")) for n in spellings):
                yield ValidationIssue(f"uses {ref.dotted}, where only the frozen evaluation code may report "
                                      "metrics", line)
                return
            if "os.environ" in spellings and not _environment_item(node, parent) and not _alias_position(node, parent):
                yield ValidationIssue("reads the whole environment, which may hold secrets; read single "
                                      "variables with os.environ.get('NAME')", line)
                return

    def _safe_form(self, spellings: list[str], call: ast.Call | None) -> bool:
        """A call of a deserialiser in its safe form (``torch.load(path, weights_only=True)``)."""
        entry = next((self.forbidden_calls[n] for n in spellings if n in self.forbidden_calls), None)
        if call is None or entry not in SAFE_FORMS:
            return False
        keyword, safe, positional, default_safe = SAFE_FORMS[entry]
        if len(call.args) > positional or any(isinstance(a, ast.Starred) for a in call.args) or \
                any(k.arg in (None, "pickle_module") for k in call.keywords):
            return False
        given = next((k.value for k in call.keywords if k.arg == keyword), None)
        return default_safe if given is None else isinstance(given, ast.Constant) and given.value is safe

    def _store(self, target: ast.expr, attribute: str, line: int) -> Iterator[ValidationIssue]:
        """``target.attribute = ...`` (or del): only the script's own objects and settings."""
        if isinstance(target, ast.Call) and self.scope.is_builtin(target.func, "type"):
            yield ValidationIssue(f"assigns type(...).{attribute}: a class the script did not create may "
                                  "not be patched", line)
            return
        owners = self.names_of(target)
        if not owners:
            if self.scope.holds(target):
                yield ValidationIssue(f"assigns .{attribute} of a library object kept in a variable or container "
                                      "(or a type(...)): only the script's own objects may be changed", line)
            return  # the script's own object
        for ref, spellings, resolution in owners:
            written = f"{ref.dotted}.{attribute}" if ref.module != "builtins" else f"{'.'.join(ref.attrs)}.{attribute}"
            targets = {f"{s}.{attribute}" for s in spellings}
            if ref.root in self.frozen_modules or ref.dotted.split(".")[0] in self.frozen_names:
                yield ValidationIssue(f"patches {written}, which belongs to frozen evaluation code", line)
                return
            if targets & SETTINGS or any(t.startswith(SETTING_PREFIXES) and t.count(".") == p.count(".")
                                         for t in targets for p in SETTING_PREFIXES):
                continue
            # A nested group of settings (``torch._inductor.config.triton.cudagraphs``): a config
            # value, never a module, class or function the config module imported.
            nested = resolution is not None and resolution.final is not None and resolution.final.kind == "value" \
                and not any(part in COMMAND_SETTINGS for part in attribute.lower().split("_"))
            if nested and any(t.startswith(p) and t.count(".") == p.count(".") + 1
                              for t in targets for p in SETTING_PREFIXES):
                continue
            yield ValidationIssue(f"assigns {written}: attributes of modules, library classes and functions "
                                  "may not be replaced (only the script's own objects and documented settings)",
                                  line)
            return

    def _name(self, node: ast.Name, parent: ast.AST | None) -> Iterator[ValidationIssue]:
        if node.id.startswith("__") and node.id not in ALLOWED_DUNDERS:
            yield ValidationIssue(f"uses {node.id}, an introspection escape", node.lineno)
            return
        if isinstance(node.ctx, (ast.Store, ast.Del)):
            if node.id in self.frozen_names or node.id in self.frozen_reads:
                yield ValidationIssue(f"rebinds {node.id!r}, which frozen evaluation code uses", node.lineno)
            return
        builtin = self.scope.is_builtin(node, node.id)
        called = isinstance(parent, ast.Call) and parent.func is node
        # vars(obj) of the script's own object is its __dict__; of a module, its globals.
        own_vars = node.id == "vars" and isinstance(parent, ast.Call) and called and len(parent.args) == 1 and \
            not parent.keywords and not isinstance(parent.args[0], ast.Starred) and not self.scope.holds(parent.args[0])
        if node.id in FORBIDDEN_BUILTINS and builtin and not own_vars:
            yield ValidationIssue(f"uses {node.id}: {FORBIDDEN_BUILTINS[node.id]}", node.lineno)
            return
        if builtin and node.id in OPENERS and not called and not _alias_position(node, parent):
            yield ValidationIssue(f"takes {node.id} as a value, so the files it opens cannot be checked", node.lineno)
        if builtin and node.id in ATTRIBUTE_FUNCTIONS and not called:
            yield ValidationIssue(f"passes {node.id} around, which turns strings into attribute lookups",
                                  node.lineno)
        if self.frozen and node.id == "print" and builtin and not called:
            yield ValidationIssue("takes print as a value, which could report metrics around the frozen "
                                  "evaluation code", node.lineno)
        if isinstance(parent, ast.Attribute) and parent.value is node:
            return  # judged with the whole chain
        yield from self._chain(node, parent)

    def _subscript(self, node: ast.Subscript, parent: ast.AST | None) -> Iterator[ValidationIssue]:
        owners = self._dotted(node.value)
        if not owners:
            return
        key = fold(node.slice, self._callee_name)
        if "os.environ" in owners:
            if isinstance(node.ctx, ast.Load):
                yield from self._env_read(key, node.lineno)
            else:
                yield from self._env_write(key, node.lineno)
        elif isinstance(node.ctx, (ast.Store, ast.Del)):
            yield ValidationIssue(f"changes an item of {sorted(owners)[0]}, which the script did not create",
                                  node.lineno)

    def _env_read(self, key: Any, line: int) -> Iterator[ValidationIssue]:
        if not isinstance(key, str):
            yield ValidationIssue("reads an environment variable whose name is computed", line)
        elif not (key in ENV_ALLOWED or key.startswith(ENV_ALLOWED_PREFIXES) or key in self.baseline_env) \
                and ENV_SECRET.search(key):
            yield ValidationIssue(f"reads the environment variable {key}, which may hold a secret or say where one is", line)

    def _env_write(self, key: Any, line: int) -> Iterator[ValidationIssue]:
        if not isinstance(key, str):
            yield ValidationIssue("sets an environment variable whose name is computed", line)
        elif not (key in ENV_ALLOWED or key.startswith(ENV_ALLOWED_PREFIXES) or key in self.baseline_env):
            yield ValidationIssue(f"sets the environment variable {key}, which changes what libraries and child "
                                  "processes do; only thread, device and allocator settings may be set", line)

    def _function(self, node: ast.FunctionDef) -> Iterator[ValidationIssue]:
        if node.name in self.frozen_names or node.name in self.frozen_reads:
            yield ValidationIssue(f"redefines {node.name!r}, which frozen evaluation code uses", node.lineno)
        if node.name.startswith("__") and node.name.endswith("__") and node.name not in ALLOWED_SPECIAL_METHODS:
            yield ValidationIssue(f"defines {node.name}, a hook that runs code where the script does not call it",
                                  node.lineno)

    def _class(self, node: ast.ClassDef) -> Iterator[ValidationIssue]:
        if node.name in self.frozen_names or node.name in self.frozen_reads:
            yield ValidationIssue(f"redefines {node.name!r}, which frozen evaluation code uses", node.lineno)
        if node.keywords:
            yield ValidationIssue("class keywords (metaclass=...) run code when the class is created", node.lineno)
        for base in node.bases:
            for _, spellings, resolution in self.names_of(base):
                mro = set(resolution.final.mro) if resolution and resolution.final else set()
                mro |= set(spellings)
                if "builtins.type" in mro or "type" in mro:
                    yield ValidationIssue("defines a metaclass (a subclass of type)", node.lineno)
                elif self.frozen and mro & VALUE_BASES:
                    yield ValidationIssue(f"subclasses {sorted(mro & VALUE_BASES)[0]}, whose methods the frozen "
                                          "evaluation code calls", node.lineno)

    def _callee_name(self, node: ast.expr) -> str | None:
        names = self._dotted(node)
        for preferred in sorted(names, key=len):
            return preferred
        return None

    def _call(self, node: ast.Call, parent: ast.AST | None) -> Iterator[ValidationIssue]:
        callee = node.func
        # A method of a computed value is judged by its name ((loss / n).backward()); calling a
        # computed value itself ((a or b)(), (lambda: ...)()) cannot be resolved.
        if not isinstance(callee, (ast.Name, ast.Attribute, ast.Subscript, ast.Call)):
            yield ValidationIssue(f"calls a computed {type(callee).__name__.lower()}, which cannot be resolved",
                                  node.lineno)
            return
        names = self._dotted(callee)
        if isinstance(callee, ast.Attribute) and callee.attr in ("format", "format_map"):
            template = fold(callee.value, self._callee_name)
            if isinstance(template, str) and _format_walks(template):
                yield ValidationIssue("a format string that reads attributes or items of its arguments "
                                      "('{0.attr}', '{0[key]}'): an introspection escape", node.lineno)
        if isinstance(callee, ast.Attribute):
            # (``str.replace(old, new)`` takes two arguments, ``Path.replace(target)`` one.)
            text_replace = callee.attr == "replace" and len(node.args) + len(node.keywords) >= 2
            if callee.attr in WRITE_METHODS and not names & {"os.environ.replace"} and not text_replace:
                yield ValidationIssue(f"calls .{callee.attr}(), which changes the file system", node.lineno)
            if callee.attr == "open" and not names:
                yield from self._method_open(node, callee)
            owners = self._dotted(callee.value)
            if callee.attr in MUTATING_METHODS and owners:
                if "os.environ" in owners and callee.attr == "setdefault" and node.args:
                    yield from self._env_write(fold(node.args[0], self._callee_name), node.lineno)
                else:
                    yield ValidationIssue(f"calls {sorted(owners)[0]}.{callee.attr}(), which changes an object the "
                                          "script did not create", node.lineno)
        if isinstance(callee, ast.Name) and callee.id in self.scope.patchers and \
                any(self.scope.holds(a) for a in [*node.args, *(k.value for k in node.keywords)]):
            yield ValidationIssue(f"passes a library object to {callee.id}(), which assigns attributes of its "
                                  "arguments", node.lineno)
        if not names:
            return
        builtin = isinstance(callee, ast.Name) and self.scope.is_builtin(callee, callee.id)
        if builtin and callee.id in ATTRIBUTE_FUNCTIONS:  # type: ignore[union-attr]
            yield from self._attribute_function(node, callee.id)  # type: ignore[union-attr]
        if builtin and callee.id == "type" and len(node.args) != 1:  # type: ignore[union-attr]
            yield ValidationIssue("creates a class with type(name, bases, namespace)", node.lineno)
        if names & {"os.environ.get", "os.getenv"} and node.args:
            yield from self._env_read(fold(node.args[0], self._callee_name), node.lineno)
        if "os.path.expandvars" in names:
            text = fold(node.args[0], self._callee_name) if len(node.args) == 1 and not node.keywords else None
            if not isinstance(text, (str, bytes)):
                yield ValidationIssue("expands environment variables in a computed string", node.lineno)
            else:
                for variable in re.findall(r"\$\{?(\w+)", text if isinstance(text, str) else text.decode("latin-1")):
                    yield from self._env_read(variable, node.lineno)
        evaluates = next((k.value for k in node.keywords if k.arg == "eval_str"), None)
        if evaluates is not None and not (isinstance(evaluates, ast.Constant) and evaluates.value is False):
            yield ValidationIssue("eval_str evaluates string annotations as code", node.lineno)
        opener = self._is(callee, self.openers)
        if opener:
            yield from _check_open(node)
        lookup = self._is(callee, self.lookups)
        if lookup:
            for argument in node.args:
                path = fold(argument, self._callee_name)
                if not isinstance(path, str) or "__" in path or any(_escape(part) for part in path.split(".")):
                    yield ValidationIssue(f"{lookup}() with a computed or dunder name: a lookup by string",
                                          node.lineno)
                    break
        if self.frozen and self._is(callee, self.stdout_writers):
            yield ValidationIssue(f"calls {self._is(callee, self.stdout_writers)}, which writes to stdout, where "
                                  "only the frozen evaluation code may report metrics", node.lineno)
        if self.frozen and any("register_module_" in n or n.endswith("register_global_hook") for n in names):
            yield ValidationIssue("registers a hook on every module, including the frozen evaluation's",
                                  node.lineno)
        if self.frozen and builtin and callee.id == "print":  # type: ignore[union-attr]
            # Metric lines are read from stdout only: new code may print to stderr.
            target = next((k.value for k in node.keywords if k.arg == "file"), None)
            if target is None or "sys.stderr" not in self._dotted(target):
                yield ValidationIssue("prints to stdout, where only the frozen evaluation code may report "
                                      "metrics; print with file=sys.stderr instead", node.lineno)

    def _method_open(self, node: ast.Call, callee: ast.Attribute) -> Iterator[ValidationIssue]:
        """``x.open(...)`` on an object of the script (``Path(...).open('w')``): a mode that writes
        is refused; a computed mode only where the object is a path."""
        candidates = [k.value for k in node.keywords if k.arg == "mode"] + node.args[:2]
        for candidate in candidates:
            mode = fold(candidate, self._callee_name)
            if isinstance(mode, str) and re.fullmatch(r"[rwxabtU+]{1,4}", mode) and WRITE_MODES & set(mode):
                yield ValidationIssue(f".open() for writing (mode {mode!r})", node.lineno)
                return
        # On an object of unknown type the mode may be the first argument (``Path.open(mode)``) or
        # the second (``ZipFile.open(name, mode)``): either must be a plain string.
        first = fold(node.args[0], self._callee_name) if node.args else ""
        mode_given = [k.value for k in node.keywords if k.arg == "mode"]
        if len(node.args) > 1 and isinstance(first, str) and not re.fullmatch(r"[rwxabtU+]{1,4}", first):
            mode_given.append(node.args[1])
        if any(k.arg is None for k in node.keywords) or any(isinstance(a, ast.Starred) for a in node.args) or \
                not isinstance(first, (str, bytes)) or \
                any(not isinstance(fold(m, self._callee_name), str) for m in mode_given):
            yield ValidationIssue(".open() with a mode (or name) that is not a plain string", node.lineno)

    def _attribute_function(self, node: ast.Call, name: str) -> Iterator[ValidationIssue]:
        if len(node.args) < 2 or not isinstance(fold(node.args[1], self._callee_name), str):
            yield ValidationIssue(f"{name}() with a computed attribute name cannot be checked", node.lineno)
            return
        attribute = fold(node.args[1], self._callee_name)
        if attribute.startswith("__") and attribute not in ALLOWED_DUNDERS or attribute in FRAME_ATTRIBUTES:
            yield ValidationIssue(f"{name}() of {attribute}, an introspection escape", node.lineno)
            return
        if name in ("setattr", "delattr"):
            yield from self._store(node.args[0], attribute, node.lineno)
        else:
            for _, spellings, _ in self.names_of(node.args[0]):
                yield from self._judge(f"{spellings[0]}.{attribute}", [f"{s}.{attribute}" for s in spellings[:2]],
                                       node.lineno, f"{name}() reaches")

    def _paths(self, node: ast.expr, seen: set[str]) -> Iterator[ValidationIssue]:
        value = fold(node, self._callee_name)
        if value is None:
            # Built partly at run time: judge the directory its constant start names.
            prefix = constant_prefix(node, self._callee_name)
            if prefix.startswith(("/", "..")) or URL.match(prefix):
                value = prefix
        if value in ("/", b"/") and not isinstance(node, ast.Constant):
            value = "/."  # the root itself, as a path argument (Path('/'), f"/{name}")
        found = [(p, f"names the absolute path {p!r}") for p in absolute_paths(value)
                 if not _under(p, self.readable)]
        found += [(p, f"names the relative path {p!r}") for p in _climbing(value)
                  if not _under(p, self.relative_readable)]
        found += [(u, f"names the URL {u!r}: network access") for u in _urls(value)]
        found = [(p, m) for p, m in found if p not in seen]
        # A string is a path only where it is used as one: "/s" kept as a unit is text.
        if not found or self._text_only(node):
            return
        for path, message in found:
            seen.add(path)
            yield ValidationIssue(message + (", outside the workspace and the data directories"
                                             if "URL" not in message else ""), getattr(node, "lineno", None))

    def _text_only(self, node: ast.AST, visiting: frozenset[str] = frozenset()) -> bool:
        """Whether a string at ``node`` is only ever text: a bare statement, compared, printed, or kept
        in a name used only so. Anything passed to a call (but print), joined with ``/``, returned or
        stored elsewhere may be a path. Calls and ``/`` that fold to a value build paths."""
        if isinstance(node, ast.Call) or isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
            return False
        child, parent = node, self.parents.get(node)
        while parent is not None:
            if isinstance(parent, ast.Call):
                if child is not parent.func:
                    return self.scope.is_builtin(parent.func, "print") and child in parent.args
            elif isinstance(parent, ast.BinOp) and isinstance(parent.op, ast.Div):
                return False
            elif isinstance(parent, ast.Compare):
                return True
            elif isinstance(parent, (ast.Assign, ast.AnnAssign)) and child is parent.value:
                targets = parent.targets if isinstance(parent, ast.Assign) else [parent.target]
                names = [t.id for t in targets if isinstance(t, ast.Name)]
                return len(names) == len(targets) and all(
                    n not in visiting and all(self._text_only(use, visiting | {n}) for use in self.loads.get(n, []))
                    for n in names)
            elif isinstance(parent, ast.AnnAssign) and child is parent.annotation:
                return True
            elif isinstance(parent, ast.Expr) or isinstance(parent, (ast.If, ast.While, ast.Assert)) and \
                    child is parent.test:
                return True
            elif isinstance(parent, (ast.stmt, ast.arguments, ast.comprehension, ast.Lambda)):
                return False
            child, parent = parent, self.parents.get(parent)
        return False

    def _code_in_string(self, node: ast.expr, parent: ast.AST | None, seen: set[str]) -> Iterator[ValidationIssue]:
        """A string that carries code or names a forbidden object, which a library may evaluate
        (``Timer(stmt=...)``, string annotations, ``'!!python/object/apply:os.system'``,
        ``_import_dotted_name('os.system')``): judged by its content, after folding."""
        if isinstance(node, ast.Constant):
            value = node.value
        elif isinstance(parent, ast.JoinedStr):
            return
        else:
            value = fold(node, self._callee_name)
        for text in _texts(value):
            reason = self._string_reason(text)
            if reason and reason not in seen:
                seen.add(reason)
                yield ValidationIssue(f"a string that {reason}: code a library could evaluate", node.lineno)

    def _string_reason(self, text: str) -> str | None:
        for match in STRING_DUNDER.finditer(text):
            name = f"__{match.group(1)}__"
            if name not in STRING_DUNDERS:
                return f"names {name}"
        if YAML_PYTHON_TAG.search(text):
            return "holds a YAML tag that builds Python objects (!!python/...)"
        for match in STRING_IMPORT.finditer(text):
            if match.group(1) in ("os", "sys") or _forbidden(match.group(1)):
                return f"imports {match.group(1)}"
        for match in STRING_BUILTIN_CALL.finditer(text):
            return f"calls {match.group(1)}()"
        dotted = [re.sub(r"\s+", "", m.group(1)) for m in STRING_CALL.finditer(text)]
        whole = STRING_DOTTED.fullmatch(text)
        if whole and not (whole.group(1).count(".") == 1 and ":" not in whole.group(1)
                          and whole.group(1).rsplit(".", 1)[1].lower() in FILE_EXTENSIONS):
            dotted.append(whole.group(1).replace(":", "."))
        for name in dotted:
            if name not in ("os", "sys") and (_forbidden(name) or name in self.forbidden_calls):
                return f"names {name}"
        return None


class AstValidator(arrl.Validator):
    def __init__(self, options: AstOptions = AstOptions(), field_map: dict[str, str] | None = None,
                 space: SpaceSettings = SpaceSettings(), workspace: Path | None = None,
                 reserve_stdout: bool = False) -> None:
        self.options = options
        self.field_map = field_map or {}
        self.space = space
        self.workspace = workspace
        self.reserve_stdout = reserve_stdout or options.reserve_stdout
        self.names = NameResolver(options.python, options.resolve_timeout,
                                  (str(workspace),) if workspace is not None else ())
        # The baseline's values by its text: a run validates every proposal against the same
        # last good version, and reading it again took a third of each validation.
        self._baseline_values: dict[str, dict[str, Any]] = {}

    def validate(self, proposed: str, baseline: str) -> ValidationResult:
        issues = list(self._check(proposed, baseline))
        return ValidationResult(tuple(attrs.evolve(i, validator="ast") for i in issues))

    def _check(self, proposed: str, baseline: str) -> Iterator[ValidationIssue]:
        size = len(proposed.encode("utf-8", "surrogatepass"))
        if size > self.options.max_bytes:
            yield ValidationIssue(f"script is {size} bytes, over the {self.options.max_bytes} limit")
            return
        decoded = yield from self._decode(proposed, baseline)
        if decoded is None:
            return
        raw = proposed.encode("utf-8", "surrogatepass")  # the bytes arrl writes to the workspace
        proposed, baseline = decoded
        try:
            tree = ast.parse(proposed)
        except SyntaxError as error:
            yield ValidationIssue(f"syntax error: {error.msg}", error.lineno)
            return
        except (ValueError, MemoryError, RecursionError) as error:
            yield ValidationIssue(f"cannot parse: {type(error).__name__}")
            return
        if self.options.check_ranges:
            yield from self._ranges(proposed, baseline)
        try:
            baseline_tree = ast.parse(baseline)
        except SyntaxError:
            baseline_tree = ast.Module(body=[], type_ignores=[])
        regions = frozen_regions(baseline)
        yield from _frozen_text(regions, frozen_regions(proposed))
        if not _read_alike(tree, raw):
            yield ValidationIssue("the interpreter reads this file differently from its text (line endings or "
                                  "encoding tricks)", 1)
            return
        yield from self._statements(tree, baseline_tree, regions)

    def _decode(self, proposed: str, baseline: str) -> Generator[ValidationIssue, None, tuple[str, str] | None]:
        """Both scripts as the interpreter will read them from the files arrl writes (UTF-8 bytes,
        decoded by their encoding declaration); None when the proposal declares another codec.
        (A generator returning a value: ``decoded = yield from self._decode(...)``.)"""
        try:
            wanted = declared_encoding(baseline)
        except (ValueError, LookupError):
            wanted = "utf-8"
        try:
            declared = declared_encoding(proposed)
        except (ValueError, LookupError) as error:
            yield ValidationIssue(f"unusable source encoding declaration: {error}", 1)
            return None
        if declared != wanted:
            yield ValidationIssue(f"declares the source encoding {declared!r}, the baseline {wanted!r}: the "
                                  "interpreter would run different code from what the validator reads", 1)
            return None
        try:
            texts = tuple(t.encode("utf-8", "surrogatepass").decode(declared).lstrip("\ufeff")
                          for t in (proposed, baseline))
        except (UnicodeError, LookupError) as error:
            yield ValidationIssue(f"cannot decode the script as {declared}: {error}", 1)
            return None
        return texts[0], texts[1]

    def _statements(self, tree: ast.Module, baseline_tree: ast.Module,
                    regions: list[tuple[int, int, str]]) -> Iterator[ValidationIssue]:
        for parsed in (tree, baseline_tree):
            _inline_attribute_names(parsed)
        frozen_statements = [s for s in baseline_tree.body if any(a <= s.lineno <= b for a, b, _ in regions)]
        scope = Scope(tree)
        baseline_scope = Scope(baseline_tree)
        frozen_names = _bound_names(frozen_statements)
        # Names the frozen code reads that stand for library objects or builtins; names it defines
        # itself are covered above, and module-level state such as `model` stays the proposal's.
        frozen_reads = _read_names(frozen_statements, baseline_scope) - frozen_names if regions else set()
        resolver = _Resolver(self.names, self._workspace_modules(), baseline_scope.imported, self.workspace is None,
                             self.workspace)
        checker = _Checker(scope, baseline_scope, resolver, frozen_names, frozen_reads, set(self.options.frozen_modules),
                           bool(regions) or self.reserve_stdout, self._readable(baseline_tree),
                           _environment_names(baseline_tree), tree, _climbing_roots(baseline_tree))
        trusted = Counter(_signature(s) for s in _statements(baseline_tree))
        for statement in _statements(tree):
            signature = _signature(statement)
            if trusted[signature] > 0:
                trusted[signature] -= 1
                continue
            yield from checker.statement(statement)

    def _workspace_modules(self) -> set[str]:
        """Top-level names of the workspace's own modules: never imported to resolve names."""
        modules = set(self.options.frozen_modules)
        if self.workspace is not None and self.workspace.is_dir():
            for entry in self.workspace.iterdir():
                if entry.suffix == ".py":
                    modules.add(entry.stem)
                elif (entry / "__init__.py").is_file():
                    modules.add(entry.name)
        return modules

    def _readable(self, baseline_tree: ast.Module) -> list[str]:
        """Absolute directories new code may name: the workspace, the data directories, and
        those the trusted baseline names itself."""
        roots = [*ALWAYS_READABLE, *(os.path.normpath(d) for d in self.options.data_dirs)]
        if self.workspace is not None:
            roots.append(str(self.workspace.resolve()))
        for node in ast.walk(baseline_tree):
            if isinstance(node, ast.Constant):
                for path in absolute_paths(node.value):
                    roots.append(os.path.dirname(path) if os.path.splitext(path)[1] else path)
        return [r for r in roots if r not in ("/", "")]

    def _ranges(self, proposed: str, baseline: str) -> Iterator[ValidationIssue]:
        from arrl.script.reader import ScriptError, extract  # libcst: not at registration

        knobs = self.space.knobs
        try:
            extraction = extract(proposed, mapping=self.field_map, knobs=knobs)
        except (SchemaError, ScriptError) as error:
            yield ValidationIssue(str(error))
            return
        before = self._baseline_values.get(baseline)
        if before is None:
            try:
                before = extract(baseline, mapping=self.field_map, knobs=knobs).values
            except (SchemaError, ScriptError):
                before = {}  # an unreadable baseline: every value is judged against its domain
            if len(self._baseline_values) >= 8:
                self._baseline_values.clear()
            self._baseline_values[baseline] = before
        space = build_space(before, self.space)
        for field, message in space.judge(extraction.values, before):
            site = extraction.sites.get(field)
            yield ValidationIssue(message, site.line if site else None)


def _frozen_text(before: list[tuple[int, int, str]], after: list[tuple[int, int, str]]) -> Iterator[ValidationIssue]:
    if [text for _, _, text in before] == [text for _, _, text in after]:
        return
    for index, (start, _, text) in enumerate(before):
        if index >= len(after) or after[index][2] != text:
            where = after[index][0] if index < len(after) else start
            yield ValidationIssue("changes frozen evaluation code (between '# arrl: frozen' and "
                                  "'# arrl: end frozen')", where)
            return
    yield ValidationIssue("adds a frozen region the baseline does not have", after[len(before)][0])


def _forbidden(dotted: str, internals: bool = True) -> str | None:
    """Why new code may not use ``dotted``; ``internals``: judge PATH_ONLY_MODULES too."""
    if _allowed(dotted):
        return None
    for module, reason in FORBIDDEN_MODULES.items():
        if not internals and module in PATH_ONLY_MODULES:
            continue
        if dotted == module or dotted.startswith(module + "."):
            return f"module {module!r} is off limits to proposed code ({reason})"
    if dotted in FORBIDDEN_BUILTINS:
        return FORBIDDEN_BUILTINS[dotted]
    if dotted in FORBIDDEN_CALLS:
        return FORBIDDEN_CALLS[dotted]
    return None


def _escape(attribute: str) -> bool:
    """Whether reading ``attribute`` of an object is an introspection escape."""
    return attribute.startswith("__") and attribute not in ALLOWED_DUNDERS or attribute in FRAME_ATTRIBUTES


def _texts(value: Any) -> Iterator[str]:
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    if isinstance(value, str):
        yield value
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _texts(item)


def _climbing(value: Any) -> list[str]:
    """Relative paths a folded value holds that climb out of the directory they start in."""
    found = []
    for text in _texts(value):
        text = text.strip()
        if not text or "\n" in text or "://" in text:
            continue
        normal = posixpath.normpath(text)
        if normal == ".." or normal.startswith("../"):
            found.append(normal)
    return found


def _urls(value: Any) -> list[str]:
    return [t.strip() for t in _texts(value) if URL.match(t)]


def _climbing_roots(tree: ast.Module) -> list[str]:
    """Directories above the workspace the trusted baseline names (``'../data/train.bin'``)."""
    roots = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant):
            for path in _climbing(node.value):
                roots.append(posixpath.dirname(path) if posixpath.splitext(path)[1] else path)
    return [r for r in roots if r not in ("", "..")]


def _inline_attribute_names(tree: ast.Module) -> None:
    """``getattr(nn, ACTIVATION)`` where ``ACTIVATION`` is bound once, at module level, to a constant
    string: the constant, so the lookup is resolved and judged like ``getattr(nn, 'GELU')``."""
    bindings: Counter[str] = Counter()
    values: dict[str, ast.expr] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            bindings[node.id] += 1
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bindings[node.name] += 1
        elif isinstance(node, ast.arg):
            bindings[node.arg] += 1
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            bindings.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, (ast.ExceptHandler, ast.MatchAs, ast.MatchStar)) and node.name:
            bindings[node.name] += 1
        elif isinstance(node, ast.MatchMapping) and node.rest:
            bindings[node.rest] += 1
        elif isinstance(node, (ast.Global, ast.Nonlocal)):
            bindings.update(node.names * 2)
    for statement in tree.body:
        if isinstance(statement, ast.Assign) and len(statement.targets) == 1 \
                and isinstance(statement.targets[0], ast.Name):
            values[statement.targets[0].id] = statement.value
        elif isinstance(statement, ast.AnnAssign) and statement.value is not None \
                and isinstance(statement.target, ast.Name):
            values[statement.target.id] = statement.value
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ATTRIBUTE_FUNCTIONS \
                and len(node.args) >= 2 and isinstance(node.args[1], ast.Name):
            name = node.args[1].id
            if bindings[name] == 1 and name in values:
                value = fold(values[name], lambda n: n.id if isinstance(n, ast.Name) and n.id in ("chr", "str")
                             and bindings[n.id] == 0 else None)
                if isinstance(value, str):
                    node.args[1] = ast.copy_location(ast.Constant(value), node.args[1])


def _allowed(dotted: str) -> bool:
    return dotted in ALLOWED_NAMES or any(dotted.startswith(d + ".") for d in ALLOWED_DATA)


def _read_alike(tree: ast.Module, raw: bytes) -> bool:
    """Whether the interpreter's own tokenizer, given the file's bytes (coding cookie, BOM and
    newline rules included), builds the same syntax tree the validator checks. Parsing builds a
    tree only; nothing is executed."""
    try:
        from_bytes = ast.parse(raw)
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return False
    return ast.dump(from_bytes) == ast.dump(tree)


def _format_walks(template: str) -> bool:
    """Whether a format string's replacement fields walk attributes or items (``'{0.__init__}'``)."""
    try:
        fields = [f for _, f, spec, _ in string.Formatter().parse(template) if f] + \
            [f for _, _, spec, _ in string.Formatter().parse(template) if spec
             for _, f, _, _ in string.Formatter().parse(spec) if f]
    except ValueError:
        return True  # not a valid template: it cannot be judged
    return any("." in f or "[" in f for f in fields)


def _alias_position(node: ast.expr, parent: ast.AST | None) -> bool:
    """Whether a module may stand here: as the value of a plain alias (``t = torch``)."""
    if isinstance(parent, ast.Assign) and parent.value is node:
        return all(isinstance(t, ast.Name) for t in parent.targets)
    if isinstance(parent, (ast.AnnAssign, ast.NamedExpr)) and parent.value is node:
        return isinstance(parent.target, ast.Name)
    return False


def _environment_item(node: ast.expr, parent: ast.AST | None) -> bool:
    """``os.environ[...]`` and ``'NAME' in os.environ`` read one variable; anything else, all."""
    if isinstance(parent, ast.Subscript) and parent.value is node:
        return True
    return isinstance(parent, ast.Compare) and node in parent.comparators and \
        all(isinstance(op, (ast.In, ast.NotIn)) for op in parent.ops)


def _environment_names(tree: ast.Module) -> set[str]:
    """Environment variables the trusted baseline names as constants."""
    return {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)
            and re.fullmatch(r"[A-Z][A-Z0-9_]*", n.value)}


def _under(path: str, roots: list[str]) -> bool:
    if path.startswith("~"):
        return False
    return any(path == root or path.startswith(root.rstrip("/") + "/") for root in roots)


def _own_nodes(statement: ast.stmt) -> Iterator[tuple[ast.AST, ast.AST | None]]:
    """(node, parent) of ``statement`` outside its nested statements (checked on their own)."""
    stack: list[tuple[ast.AST, ast.AST | None]] = [(statement, None)]
    while stack:
        node, parent = stack.pop()
        yield node, parent
        stack.extend((c, node) for c in ast.iter_child_nodes(node) if not isinstance(c, ast.stmt))


def _check_open(call: ast.Call) -> Iterator[ValidationIssue]:
    """A file opened for writing, or a file descriptor (``open(1, 'w')`` is stdout)."""
    if call.args and isinstance(call.args[0], ast.Constant) and isinstance(call.args[0].value, int):
        yield ValidationIssue(f"opens file descriptor {call.args[0].value!r}", call.lineno)
        return
    mode_node = call.args[1] if len(call.args) > 1 else next(
        (k.value for k in call.keywords if k.arg == "mode"), None)
    if mode_node is None:
        if any(k.arg is None for k in call.keywords) or any(isinstance(a, ast.Starred) for a in call.args):
            yield ValidationIssue("open() with unpacked arguments cannot be checked", call.lineno)
        return
    if not isinstance(mode_node, ast.Constant) or not isinstance(mode_node.value, str):
        yield ValidationIssue("open() with a mode that is not a plain string", call.lineno)
    elif WRITE_MODES & set(mode_node.value):
        yield ValidationIssue(f"open() for writing (mode {mode_node.value!r}); write to ARRL_OUTPUT_DIR "
                              "through the frozen code, or let the runner contain it", call.lineno)


@arrl.hookimpl
def arrl_validators():
    yield arrl.Registration(
        name="ast",
        summary="syntax, schema ranges, frozen code, and name-resolved checks of added code",
        factory=lambda options, context: AstValidator(
            options, context.field_map, context.space, (context.repo_root / context.script_path).parent,
            bool(context.evaluate)),
        options=AstOptions,
    )
