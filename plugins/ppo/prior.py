"""Priors for the PPO proposer: starting weights learned on other runs (cross-experiment transfer).

The file's format, and loading and saving it, are in :mod:`arrl.plugins.ppo.prior_file`.

Make a prior from your own runs (their journals: every PPO proposal, the observation it was made
from and the reward it got), then use it:

    python -m arrl.plugins.ppo.prior path/to/project/.arrl/*/journal.jsonl --out my_prior.pt
    arrl -o proposer.prior=my_prior.pt run
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterable
from pathlib import Path

import arrl
from arrl.results.best import becomes_best


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

    from .prior_file import save_prior
    from .proposer import PPOOptions, PPOProposer

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
    parser = argparse.ArgumentParser(prog="python -m arrl.plugins.ppo.prior",
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
