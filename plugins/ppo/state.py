"""The PPO proposer's saved state, from which a stopped run goes on where it was.

Weights go through torch.save of plain state dicts (loaded with weights_only=True: no pickled
objects): the networks, the optimizer and the sampling generator, in ``<state>.pt``. Everything
else is JSON, in the state file itself: the transitions not yet learned, the steps taken and the
proposer's memory (:mod:`arrl.plugins.ppo.memory`). A state saved with fewer knobs loads at its
own shapes (the first proposal grows them); one saved before a part existed starts that part afresh.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from .memory import Memory
from .policy import ActorCritic
from .training import Trainer


def save_state(path: Path, network: ActorCritic, trainer: Trainer, memory: Memory) -> None:
    weights = path.with_suffix(".pt")
    # Each file written aside and renamed into place: a kill mid-save leaves the previous
    # state readable, never an empty or half-written file that stops the next start.
    network.torch.save({**network.state_dicts(), "optimizer": trainer.optimizer.state_dict(),
                        "generator": network.generator.get_state()}, weights.with_suffix(".pt.tmp"))
    os.replace(weights.with_suffix(".pt.tmp"), weights)
    aside = path.with_suffix(path.suffix + ".tmp")
    aside.write_text(json.dumps({"weights": weights.name, "buffer": trainer.buffer, "updates": trainer.updates,
                                 **memory.saved()}))
    os.replace(aside, path)


def load_state(path: Path, network: ActorCritic, trainer: Trainer, memory: Memory) -> None:
    state = json.loads(path.read_text())
    saved = network.torch.load(path.with_name(state["weights"]), weights_only=True)
    # Take the saved shapes (a policy saved with fewer knobs); the first proposal grows them.
    if network.resize(saved["body"]["0.weight"].shape[1], saved["policy"]["weight"].shape[0]):
        trainer.new_optimizer()
    network.load_state_dicts(saved)
    # A state saved before the attribution scorer (observation version 2): its transitions
    # lack the attribution part and its optimizer the scorer's parameters; both start afresh.
    if "attribution" in saved:
        trainer.optimizer.load_state_dict(saved["optimizer"])
    memory.restore(state)
    network.generator.set_state(saved["generator"])
    trainer.buffer = state["buffer"] if "attribution" in saved else []
    trainer.updates = state["updates"]
