"""Config files a training script reads its knobs from: Hydra/OmegaConf YAML, JSON and TOML.

:mod:`.documents` reads a file's scalars with the characters each occupies and rewrites them in
place; :mod:`.hydra` composes a Hydra config the way Hydra does, so each value of ``cfg`` is known
by its file and key; :mod:`.judge` says whether an edit of a config file changes only what it may.
The reading rules that join them to the schema are in :mod:`arrl.script.reading.config_files`.
"""

from .documents import ConfigError, Document, Scalar, read, replace
from .hydra import Composition, Group, compose, hydra_main

__all__ = ["Composition", "ConfigError", "Document", "Group", "Scalar", "compose", "hydra_main", "read", "replace"]
