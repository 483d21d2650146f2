"""The PPO proposer's options: a module of its own so that registering the proposer (and
refusing a run before it starts) never imports the proposer, its script reader or torch."""

from __future__ import annotations

import attrs


@attrs.frozen
class PPOOptions:
    batch_size: int = attrs.field(default=8, validator=attrs.validators.ge(1))
    epochs: int = attrs.field(default=4, validator=attrs.validators.ge(1))
    learning_rate: float = attrs.field(default=3e-3, validator=attrs.validators.gt(0))
    clip: float = attrs.field(default=0.2, validator=[attrs.validators.gt(0), attrs.validators.lt(1)])
    entropy: float = attrs.field(default=0.01, validator=attrs.validators.ge(0))
    value_coefficient: float = attrs.field(default=0.5, validator=attrs.validators.ge(0))
    hidden: int = attrs.field(default=128, validator=attrs.validators.ge(8))
    # Probability mass spread uniformly over the valid moves: an exploration floor, so a policy
    # that has converged (or a prior learned elsewhere) still tries every move now and then.
    exploration: float = attrs.field(default=0.1, validator=[attrs.validators.ge(0.0), attrs.validators.lt(1.0)])
    # Starting weights: "builtin" (the prior shipped with arrl, pre-trained on the simulated
    # family of benchmarks/common/simfamily.py), "none" (learn from scratch), or a path to a prior file
    # (see arrl.plugins.ppo.prior for making one from your own runs).
    prior: str = "none"
    # Once every single move from the current script is in the window: "two_moves" proposes a
    # two-move edit not yet tried instead (a coupled move of COUPLED first, with coupled on, then a
    # random hill-climb step; neither is learned from); "repeat"
    # lets the policy repeat one (the loop records a duplicate). The benchmark measured the same
    # regret for both, with no duplicates for "two_moves" against 355 in 1280 for "repeat", and a
    # user's run with nothing left to improve looped on duplicates under "repeat".
    exhausted: str = attrs.field(default="two_moves", validator=attrs.validators.in_(("repeat", "two_moves")))
    # "sync": each PPO step runs inside learn(); "async": a learner thread takes the steps and
    # publishes weights that proposals sample from (arrl.plugins.ppo.learner), for many workers.
    learner: str = attrs.field(default="sync", validator=attrs.validators.in_(("sync", "async")))
    # The async learner's rollout buffer: results waiting to be learned (N x 32 for N workers).
    rollout_size: int = attrs.field(default=256, validator=attrs.validators.ge(1))
    # torch's intra-op threads in arrl's own process (0: torch's default, one per core). The
    # networks are small: a second thread only contends with the experiments for the cores, and
    # on a loaded 2-core machine a PPO step took 0.6-0.8 s with torch's default against 0.06-0.13 s
    # with one (docs/benchmarks.md, learner update latency).
    threads: int = attrs.field(default=1, validator=attrs.validators.ge(0))
    # A line search on top of the policy: "on" repeats a move that was kept (same field, same
    # direction, from the new best) while it keeps paying by more than the loop's noise margin (a
    # gain inside the noise is no evidence for the direction), and after a step up or down that
    # was not kept tries the other direction on that field once; the policy chooses otherwise.
    # "off": the policy chooses every move. On by default, with the opening: together they were
    # the best measured on held-out members (docs/benchmarks.md, "A line search and an opening").
    continuation: str = attrs.field(default="on", validator=attrs.validators.in_(("off", "on")))
    # "on": before the policy chooses, try each move of OPENING, then of the run's knobs, then the
    # coupled moves of COUPLED, once, in order, from the best script so far (moves the script
    # cannot make, or to programs already tried, are skipped; a switch of optimizer moves the
    # learning rate with it, see OPTIMIZER_LEARNING_RATE); with continuation on, the line search
    # follows each of them. "off": the policy chooses from the start.
    opening: str = attrs.field(default="on", validator=attrs.validators.in_(("off", "on")))
    # "on": the two-field moves of COUPLED (wider and shallower, batch with learning rate) end the
    # opening and come first once every single move from the best script has run; "off": single
    # moves and random pairs only, as before they were measured (docs/benchmarks.md, "Coupled moves").
    coupled: str = attrs.field(default="on", validator=attrs.validators.in_(("off", "on")))
