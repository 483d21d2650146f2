"""The PPO prior's file: plain tensors and a header, saved with ``torch.save`` and read back with
``weights_only=True`` (no pickled objects run on load). The header pins what the weights mean:
the format version, the observation size, the action list and the hidden width. A prior that
does not match the running arrl (say, after the observation encoding grew) is refused by name;
the shipped one is then skipped with a warning and the policy learns from scratch.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from arrl.errors import ConfigError

from .moves import ACTIONS
from .policy import NETWORKS

if TYPE_CHECKING:
    from .proposer import PPOProposer

FORMAT = "arrl-ppo-prior"
# 2: the attribution scorer (observation version 3) is part of the prior.
VERSION = 2
BUILTIN = Path(__file__).with_name("prior.pt")


def _header(proposer: PPOProposer) -> dict[str, Any]:
    from arrl.script.observation import ATTRIBUTION_FEATURES, OBSERVATION_SIZE

    return {"format": FORMAT, "version": VERSION, "observation_size": OBSERVATION_SIZE,
            "actions": [f"{m.field}:{m.direction}:{m.target}" for m in ACTIONS],
            "hidden": proposer.options.hidden, "attribution_features": list(ATTRIBUTION_FEATURES)}


def save_prior(proposer: PPOProposer, path: Path, trained_on: str) -> None:
    proposer.torch.save({**_header(proposer), "trained_on": trained_on, **proposer.network.state_dicts()}, path)


def load_prior(proposer: PPOProposer, prior: str) -> None:
    """Start ``proposer`` from ``prior`` ("builtin" or a path)."""
    builtin = prior == "builtin"
    path = BUILTIN if builtin else Path(prior).expanduser()
    if not path.is_file():
        message = f"PPO prior {str(path)!r} does not exist"
        if builtin:
            print(f"arrl: warning: {message}; learning from scratch", file=sys.stderr)
            return
        raise ConfigError(message + " (use proposer.prior=builtin, none, or a prior file)")
    try:
        saved = proposer.torch.load(path, weights_only=True)
    except Exception as error:
        raise ConfigError(f"PPO prior {str(path)!r} cannot be read: {error}") from None
    expected = _header(proposer)
    wrong = [key for key, value in expected.items() if saved.get(key) != value]
    if wrong:
        message = (f"PPO prior {str(path)!r} does not fit this arrl (different {', '.join(wrong)}); "
                   "make a new one with `python -m arrl.plugins.ppo.prior`")
        if builtin:
            print(f"arrl: warning: {message}; learning from scratch", file=sys.stderr)
            return
        raise ConfigError(message)
    for name in NETWORKS:
        getattr(proposer.network, name).load_state_dict(saved[name])
