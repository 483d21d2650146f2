"""Priors for the PPO proposer: starting weights learned on other runs (cross-experiment transfer).

A prior file holds plain tensors and a header, saved with ``torch.save`` and read back with
``weights_only=True`` (no pickled objects run on load). The header pins what the weights mean:
the format version, the observation size, the action list and the hidden width. A prior that
does not match the running arrl (say, after the observation encoding grew) is refused by name;
the shipped one is then skipped with a warning and the policy learns from scratch.

Make a prior from your own runs (their journals: every PPO proposal, the observation it was made
from and the reward it got), then use it:

    python -m arrl.plugins.ppo_prior path/to/project/.arrl/*/journal.jsonl --out my_prior.pt
    arrl -o proposer.prior=my_prior.pt run
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import arrl
from arrl.best import becomes_best
from arrl.errors import ConfigError

if TYPE_CHECKING:
    from arrl.plugins.ppo_proposer import PPOProposer

FORMAT = "arrl-ppo-prior"
# 2: the attribution scorer (observation version 3) is part of the prior.
VERSION = 2
BUILTIN = Path(__file__).with_name("ppo_prior.pt")


def _header(proposer: PPOProposer) -> dict[str, Any]:
    from arrl.observation import ATTRIBUTION_FEATURES, OBSERVATION_SIZE
    from arrl.plugins.ppo_proposer import ACTIONS

    return {"format": FORMAT, "version": VERSION, "observation_size": OBSERVATION_SIZE,
            "actions": [f"{m.field}:{m.direction}:{m.target}" for m in ACTIONS],
            "hidden": proposer.options.hidden, "attribution_features": list(ATTRIBUTION_FEATURES)}


def save_prior(proposer: PPOProposer, path: Path, trained_on: str) -> None:
    proposer.torch.save({**_header(proposer), "trained_on": trained_on, "body": proposer.body.state_dict(),
                         "policy": proposer.policy.state_dict(), "value": proposer.value.state_dict(),
                         "attribution": proposer.attribution.state_dict()}, path)


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
                   "make a new one with `python -m arrl.plugins.ppo_prior`")
        if builtin:
            print(f"arrl: warning: {message}; learning from scratch", file=sys.stderr)
            return
        raise ConfigError(message)
    proposer.body.load_state_dict(saved["body"])
    proposer.policy.load_state_dict(saved["policy"])
    proposer.value.load_state_dict(saved["value"])
    proposer.attribution.load_state_dict(saved["attribution"])


def transitions(journal: Path) -> Iterable[tuple[arrl.Observation, dict, float]]:
    """(observation, changes, reward) of every proposal with a structured edit in a journal,
    rebuilt the way the loop built them: the parent's config, the history before it."""
    from arrl.records import ExperimentRecord, from_dict

    records = [from_dict(json.loads(line), ExperimentRecord) for line in journal.read_text().splitlines()
               if line.strip()]
    by_id = {r.id: r for r in records}
    history: list[arrl.HistoryEntry] = []
    best: float | None = None
    for record in records:
        parent = by_id.get(record.parent_id) if record.parent_id is not None else None
        if parent is not None and record.edit is not None and record.edit.changes and record.reward is not None:
            observation = arrl.Observation("", dict(parent.config), tuple(history[-32:]), best_value=best,
                                           direction=record.direction)
            yield observation, dict(record.edit.changes), float(record.reward)
        if record.outcome not in (arrl.Outcome.DUPLICATE, arrl.Outcome.INTERRUPTED):
            history.append(record.history_entry())
        if becomes_best(record, best):
            best = record.value


def train_from_journals(journals: list[Path], out: Path, epochs: int = 20, seed: int = 0) -> int:
    """Fit a prior to the proposals of finished runs (advantage-weighted: moves that earned more
    than the critic expected become likelier); returns how many transitions it learned from."""
    import attrs

    from arrl.plugins.ppo_proposer import PPOOptions, PPOProposer

    context = arrl.PluginContext(out.parent, out.parent, "train.py", "loss", arrl.Direction.MINIMIZE, 1.0, seed)
    proposer = PPOProposer(PPOOptions(), context)
    samples = []
    for journal in journals:
        proposer.context = attrs.evolve(context, budget_seconds=_budget(journal))
        for observation, changes, reward in transitions(journal):
            candidates = proposer._candidates(observation, skip_tried=False)
            action = next((i for i, c in candidates.items() if c == changes), None)
            if action is None:  # not a single move of the action space (a random two-move edit)
                action = next((i for i, c in candidates.items() if set(c) <= set(changes)
                               and all(changes[k] == v for k, v in c.items())), None)
            if action is None:
                continue
            state, mask, probabilities, value = proposer._policy(observation, candidates)
            proposer.remember(observation, action, candidates[action])
            samples.append({"state": state.tolist(), "mask": mask.tolist(), "action": action,
                            "log_probability": float(proposer.torch.log(probabilities[action])), "value": value,
                            "reward": reward})
    for _ in range(epochs):
        proposer.buffer = list(samples)
        if proposer.buffer:
            proposer.update()
    save_prior(proposer, out, f"{len(samples)} proposals from {len(journals)} journal(s)")
    return len(samples)


def _budget(journal: Path) -> float:
    meta = journal.with_name("run.json")
    try:
        return float(json.loads(meta.read_text()).get("settings", {}).get("budget", 300.0))
    except (OSError, ValueError, AttributeError):
        return 300.0


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m arrl.plugins.ppo_prior",
                                     description="Make a PPO prior from the journals of your runs.")
    parser.add_argument("journals", nargs="+", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--epochs", type=int, default=20)
    args = parser.parse_args(argv)
    count = train_from_journals(args.journals, args.out, args.epochs)
    if not count:
        raise SystemExit("no PPO proposals found in those journals")
    print(f"wrote {args.out} from {count} proposals; use it with: arrl -o proposer.prior={args.out} run")


if __name__ == "__main__":
    main()
