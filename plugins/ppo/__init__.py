"""The PPO proposer, registered here: the proposer (proposer.py) and its parts, the policy, its
trainer, its search moves, its memory, its action space and saved state, the asynchronous learner,
and the shipped prior (``prior.pt``; made by prior.py, read by prior_file.py). The registration
imports none of them until a proposer is built: listing plugins never imports torch."""

from __future__ import annotations

from typing import TYPE_CHECKING

import arrl

if TYPE_CHECKING:
    from .options import PPOOptions
    from .proposer import PPOProposer


def _build(options: PPOOptions, context: arrl.PluginContext) -> PPOProposer:
    if options.learner == "async":
        from .learner import AsyncPPOProposer

        return AsyncPPOProposer(options, context)
    from .proposer import PPOProposer

    return PPOProposer(options, context)


@arrl.hookimpl
def arrl_proposers():
    from .options import PPOOptions

    yield arrl.Registration(
        name="ppo",
        summary="PPO actor-critic over the shared action space (torch)",
        factory=_build,
        options=PPOOptions,
    )
