"""The PPO proposer: the proposer, its learner, and the shipped prior (``prior.pt``)."""

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
