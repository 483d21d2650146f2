"""``arrl init``: a ready ``arrl.toml`` for a user's own script.

It says what a run needs and what arrl can guess from the script: the metric (the name the
script prints after ``arrl:``), its direction (accuracy-like names are maximised), the budget, and
the ``[space]`` of tunable-looking constants that ``arrl inspect`` finds (the same writer,
:func:`arrl.script.candidates.candidates_toml`). Everything it writes is plain TOML the user can edit.
"""

from __future__ import annotations

import re
from pathlib import Path

from .candidates import candidates_toml, find_candidates
from .reader import extract

# A metric line of the script contract: ``print(f"arrl: step={step} val_loss={loss:.4f}")``.
_NAME = re.compile(r"(?<![\w.{])([A-Za-z_][A-Za-z0-9_.]*)=(?!=)")
# Parts of metric names that are better when higher (top1, acc5, val_accuracy, mAP), and parts that
# make a name a loss whatever else it holds (top1_err); anything else is taken as a loss.
_HIGHER_IS_BETTER = re.compile(r"(top\d+|acc\d*|accuracy|f1|auc|auroc|precision|recall|bleu|rouge\w*|score|map\d*|"
                               r"ap\d*|iou|miou|dice|r2|reward|return|ndcg|mrr|hit\d*|hits|psnr|ssim|elbo|likelihood|"
                               r"loglik|logprob|success|win|match|spearman|pearson|corr|correlation|kappa|mcc|meteor|"
                               r"chrf|throughput|fps|coverage|explained|em)", re.I)
_LOWER_IS_BETTER = frozenset({"loss", "err", "error", "errors", "ppl", "perplexity", "bpb", "mse", "mae", "rmse", "nll",
                              "cer", "wer", "fid", "regret", "distance", "brier", "drop", "time", "seconds", "latency",
                              "ms", "memory", "mem"})


def guess_metric(source: str) -> str | None:
    """The name the script's ``arrl:`` lines print most often, other than a step counter (a
    training loss printed once beside the validation metric loses); on a tie, the first."""
    names = [m.group(1) for line in source.splitlines() if "arrl:" in line
             for m in _NAME.finditer(line.split("arrl:", 1)[1])]
    names = [n for n in names if n.lower() not in ("step", "epoch", "iter", "it")]
    if not names:
        return None
    return max(dict.fromkeys(names), key=names.count)


def guess_direction(metric: str) -> str:
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", metric).lower()
    spaced = re.sub(r"\b(top|acc|hit|map|ap)[_\-](\d+)\b", r"\1\2", spaced)  # top_1 is top1
    parts = [p for p in re.split(r"[_\-.\s/]+", spaced) if p]
    if set(parts) & _LOWER_IS_BETTER:
        return "minimize"
    return "maximize" if any(_HIGHER_IS_BETTER.fullmatch(p) for p in parts) else "minimize"


def scaffold(source: str, script: str, metric: str, direction: str, budget: float,
             directory: Path | None = None) -> str:
    """The text of an ``arrl.toml`` for ``source`` (found at ``script``, relative to the file, in
    ``directory``, where the config files it reads are)."""
    found = extract(source, script, directory=directory)
    candidates, _ = find_candidates(source, found)
    lines = [
        "# Written by `arrl init`; see docs/configuration.md for every setting.",
        f'script = "{script}"',
        f'metric = "{metric}"  # the name the script prints: arrl: {metric}=<number>',
        f'direction = "{direction}"',
        f"budget = {budget:g}  # seconds of wall clock per experiment, enforced from outside",
        "",
    ]
    if candidates:
        lines += ["# Other constants that look tunable, by the script's own names; delete what should stay.",
                  candidates_toml(candidates, script).rstrip("\n"), ""]
    return "\n".join(lines)
