"""What new code may and may not use: the validator's deny-lists and allow-lists, as data.

The checks (:mod:`arrl.plugins.validator.registry`) read these tables; each table's comment says
why it holds what it holds. A name is judged by the object it resolves to, so every entry is a
dotted name as a library defines or exports it (``os.system``, ``torch.load``), not a spelling
to match in the source.
"""

from __future__ import annotations

import ast
import re
import sys

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
# The standard library's modules that are not off limits as a whole: their private names are.
STDLIB = frozenset(sys.stdlib_module_names) - set(FORBIDDEN_MODULES)


def allowed(dotted: str) -> bool:
    return dotted in ALLOWED_NAMES or any(dotted.startswith(d + ".") for d in ALLOWED_DATA)


def forbidden(dotted: str, internals: bool = True) -> str | None:
    """Why new code may not use ``dotted``; ``internals``: judge PATH_ONLY_MODULES too."""
    if allowed(dotted):
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


def escape(attribute: str) -> bool:
    """Whether reading ``attribute`` of an object is an introspection escape."""
    return attribute.startswith("__") and attribute not in ALLOWED_DUNDERS or attribute in FRAME_ATTRIBUTES

