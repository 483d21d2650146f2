"""The attack and honest corpora of tests/corpus/, end to end through `arrl run`: what the sandbox
(and the container runners) and the validator stop, and what an honest edit loses to the sandbox.

Tables in docs/benchmarks.md: "Attacks and honest edits under the sandbox".

    .venv/bin/python benchmarks/security/corpus.py                       # everything: about 20 minutes
    .venv/bin/python benchmarks/security/corpus.py --runners subprocess --skip-honest
    .venv/bin/python benchmarks/security/corpus.py --skip-attacks --honest-steps 20

Attacks (tests/corpus/attacks/<category>/*.py): each runs as one experiment of the corpus plugin's
``hostile`` proposer (tests/corpus/hostile_plugin), with the validator off (the plugin's
``permissive`` validator) and on (``ast``), under each runner asked for; tests/corpus/oracle.py
judges each by its effects on a world of canaries, listeners and victim processes. The control
runs the attacks marked ``# corpus: unsandboxed-safe`` (they touch only the test's own world)
with the sandbox off, each in a world of its own, and counts how many the oracle sees as harmful.

Honest edits (tests/corpus/honest/*.py): the tiny GPT example with ``--honest-steps`` steps, each
edit one experiment of the ``honest`` proposer, with the sandbox off and on (one thread per
experiment, so that the two give the same value); the validator's verdict on each comes from
`arrl validate`.

Podman and Docker are used where they answer (scripts/engines.sh installs and starts them); their
run image is built from this machine's files when missing.
"""

from __future__ import annotations

import argparse
import collections
import datetime
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "tests" / "corpus"), str(ROOT / "tests" / "corpus" / "hostile_plugin")]

import drive  # noqa: E402
from arrl_corpus_plugin import apply_edits, read_edits  # noqa: E402

RUNNERS = ("subprocess", "podman", "docker")


def engine_ready(name: str) -> str:
    """'' when the runner can run here (its image built if missing), else why not."""
    if name == "subprocess":
        from arrl.plugins.runners import sandbox

        found = sandbox.probe()
        return "" if found.available else found.reason
    from arrl.errors import EngineError

    try:
        if name == "podman":
            from arrl.plugins.runners.podman_runner import PodmanOptions, PodmanRunner

            if shutil.which("podman") is None:
                return "podman is not installed"
            runner = PodmanRunner(PodmanOptions())
        else:
            from arrl.plugins.runners.docker_runner import DockerOptions, DockerRunner

            runner = DockerRunner(DockerOptions())
        try:
            runner.fingerprint()
        except EngineError:
            runner.build_image()
        return ""
    except Exception as error:  # noqa: BLE001 - any failure means "not available"
        return f"{name}: {type(error).__name__}: {str(error)[:200]}"


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"{one:.2f} (1 min), {five:.2f} (5 min)"


def category_of(verdict) -> str:
    return verdict.name.removeprefix("attack ").split("/")[0]


def attack_rows(results: dict, runners: list[str], validators: list[str], control: dict | None,
                paths: list[Path]) -> list[str]:
    """The attacks by category: attempted, refused by the validator, harmful per validator
    setting and runner (cells "subprocess / podman / docker"), and the control."""
    categories = sorted({p.parent.name for p in paths})
    count = collections.Counter(p.parent.name for p in paths)

    def harmful(runner: str, validator: str, category: str | None) -> int | None:
        run = results.get((runner, validator))
        if run is None:
            return None
        return sum(1 for v in run.verdicts if v.harms and category in (None, category_of(v)))

    def refused(category: str | None) -> str:
        for runner in runners:
            run = results.get((runner, "on"))
            if run is not None:
                return str(sum(1 for v in run.verdicts
                               if v.outcome == "rejected" and category in (None, category_of(v))))
        return "-"

    def cell(validator: str, category: str | None) -> str:
        counts = [harmful(r, validator, category) for r in runners]
        return " / ".join("-" if n is None else str(n) for n in counts)

    def control_cell(category: str | None) -> str:
        assert control is not None
        mine = [v for v in control["verdicts"] if category in (None, category_of(v))]
        return f"{sum(1 for v in mine if v.harms)} of {len(mine)}"

    header = ["category", "attacks", "refused by the validator"]
    header += [f"harmful, validator {v} ({' / '.join(runners)})" for v in validators]
    if control is not None:
        header.append("control: harmful with the sandbox off")
    lines = ["| " + " | ".join(header) + " |", "| --- | " + " | ".join("---:" for _ in header[1:]) + " |"]
    for category in [*categories, None]:
        row = [category or "**all**", str(count[category] if category else len(paths)), refused(category)]
        row += [cell(v, category) for v in validators]
        if control is not None:
            row.append(control_cell(category))
        lines.append("| " + " | ".join(row) + " |")
    return lines


def validate_honest(paths: list[Path], steps: int, scratch: Path) -> dict[str, str]:
    """`arrl validate` (the ast validator) on every honest edit: 'accepted' or the first issue."""
    baseline = drive.honest_baseline(steps)
    folder = scratch / "validate"
    folder.mkdir(parents=True)
    (folder / "train.py").write_text(baseline)
    (folder / "corpus.txt").write_bytes((drive.TINYGPT / "corpus.txt").read_bytes())
    verdicts = {}
    for path in paths:
        proposed = folder / f"{path.stem}.py"
        proposed.write_text(apply_edits(baseline, read_edits(path)))
        done = subprocess.run([str(drive.ARRL), "validate", "--baseline", "train.py", proposed.name], cwd=folder,
                              capture_output=True, text=True, timeout=600)
        if done.returncode == 0:
            verdicts[path.stem] = "accepted"
        else:
            issue = done.stdout.strip().splitlines()[0] if done.stdout.strip() else done.stderr.strip()[-200:]
            verdicts[path.stem] = "refused: " + issue.split("] ", 1)[-1][:90]
    return verdicts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter,
                                     epilog="The tables go to stdout as Markdown; progress to stderr.")
    parser.add_argument("--runners", default=",".join(RUNNERS), help="runners for the attacks (default: all three)")
    parser.add_argument("--validators", default="off,on", help="off (permissive), on (ast), or both (default)")
    parser.add_argument("--attacks", default="", help="comma-separated category/name (default: all)")
    parser.add_argument("--skip-attacks", action="store_true")
    parser.add_argument("--skip-honest", action="store_true")
    parser.add_argument("--no-control", action="store_true", help="skip the control with the sandbox off")
    parser.add_argument("--budget", type=float, default=20, help="seconds per attack (default 20)")
    parser.add_argument("--fill-mib", type=int, default=1536,
                        help="MiB the filling attacks write (default 1536, past the sizes below)")
    parser.add_argument("--output-quota", default="1g", help="runner option output_quota (default 1g)")
    parser.add_argument("--honest-steps", type=int, default=20, help="training steps of the honest baseline")
    parser.add_argument("--honest-budget", type=float, default=180)
    parser.add_argument("--json", type=Path, help="write every verdict and result here (JSON lines)")
    parser.add_argument("--keep", type=Path, help="keep the worlds under this folder")
    args = parser.parse_args()

    scratch = Path(tempfile.mkdtemp(prefix="arrl-corpus-bench-")) if args.keep is None else args.keep
    scratch.mkdir(parents=True, exist_ok=True)
    site = drive.install_plugin(scratch / "site", scratch / "plugin-source")
    started = time.time()
    print(f"# {datetime.date.today()} on {platform.node()}: {os.cpu_count()} cores, load {load()}", file=sys.stderr)
    records: list[dict] = []
    out: list[str] = []
    try:
        if not args.skip_attacks:
            out += run_attack_tables(args, scratch, site, records)
        if not args.skip_honest:
            out += run_honest_table(args, scratch, site, records)
    finally:
        if args.keep is None:
            subprocess.run(["rm", "-rf", str(scratch)], check=False)
    out.append("")
    out.append(f"Took {(time.time() - started) / 60:.1f} minutes; load at the end {load()}.")
    print("\n".join(out))
    if args.json:
        args.json.write_text("".join(json.dumps(r) + "\n" for r in records))
    return 0


def run_attack_tables(args: argparse.Namespace, scratch: Path, site: Path, records: list[dict]) -> list[str]:
    names = [n for n in args.attacks.split(",") if n] or None
    paths = drive.attacks(names)
    validators = [v for v in args.validators.split(",") if v]
    runners, skipped = [], []
    for runner in [r for r in args.runners.split(",") if r]:
        why = engine_ready(runner)
        if why:
            skipped.append(f"{runner} ({why})")
        else:
            runners.append(runner)
    results = {}
    options = [f"runner.output_quota={args.output_quota}"]
    for runner in runners:
        for validator in validators:
            begun = time.time()
            print(f"attacks: {runner}, validator {validator} ...", file=sys.stderr, flush=True)
            run = drive.run_attacks(scratch / f"attacks-{runner}-{validator}", site, paths,
                                    validator="ast" if validator == "on" else "permissive", runner=runner,
                                    options=options, fill_mib=args.fill_mib, budget=args.budget)
            results[(runner, validator)] = run
            print(f"  {time.time() - begun:.0f} s, {len(run.harmful())} harmful, problems: {run.problems}",
                  file=sys.stderr, flush=True)
            for verdict in run.verdicts:
                records.append({"kind": "attack", "runner": runner, "validator": validator, "name": verdict.name,
                                "outcome": verdict.outcome, "harms": verdict.harms,
                                "seconds": verdict.wall_clock_seconds})
    control = None
    if not args.no_control:
        safe = [p for p in paths if drive.marked(p, "unsandboxed-safe")]
        print(f"control: {len(safe)} attacks with the sandbox off, one world each ...", file=sys.stderr, flush=True)
        run = drive.run_attacks(scratch / "control", site, safe, options=[*options, "runner.sandbox=off"],
                                fill_mib=min(args.fill_mib, 64), budget=args.budget, isolate=True)
        control = {"verdicts": run.verdicts, "problems": run.problems}
        for verdict in run.verdicts:
            records.append({"kind": "control", "name": verdict.name, "outcome": verdict.outcome,
                            "harms": verdict.harms})
    out = ["### Attacks", "", f"{len(paths)} attacks in {len(set(p.parent.name for p in paths))} categories; "
           f"budget {args.budget:g} s, output quota {args.output_quota}, the filling attacks write "
           f"{args.fill_mib} MiB; runners: {', '.join(runners)}" + (f"; skipped: {', '.join(skipped)}" if skipped else "")
           + ".", ""]
    out += attack_rows(results, runners, validators, control, paths)
    harmful = [(key, v) for key, run in results.items() for v in run.verdicts if v.harms]
    out += ["", "Harmful effects seen (runner, validator, attack: the oracle's words):", ""]
    out += [f"- {runner}, validator {validator}, {v.name.removeprefix('attack ')}: {'; '.join(v.harms)[:300]}"
            for (runner, validator), v in harmful] or ["- none"]
    if control is not None:
        missed = [v.name.removeprefix("attack ") for v in control["verdicts"] if not v.harms]
        out += ["", f"Control (sandbox off): the oracle saw harm in {sum(1 for v in control['verdicts'] if v.harms)} "
                f"of {len(control['verdicts'])} unsandboxed-safe attacks; none in: {', '.join(missed) or '-'}."]
    problems = [p for run in results.values() for p in run.problems] + (control["problems"] if control else [])
    if problems:
        out += ["", "Problems (the evidence of these is incomplete):", ""] + [f"- {p[:300]}" for p in problems]
    return out


def run_honest_table(args: argparse.Namespace, scratch: Path, site: Path, records: list[dict]) -> list[str]:
    paths = drive.honest_edits()
    print(f"honest: {len(paths)} edits, validator verdicts ...", file=sys.stderr, flush=True)
    verdicts = validate_honest(paths, args.honest_steps, scratch)
    results = {}
    seconds = {}
    for sandbox in ("off", "auto"):
        print(f"honest: sandbox {sandbox} ...", file=sys.stderr, flush=True)
        begun = time.time()
        found, output = drive.run_honest(scratch / f"honest-{sandbox}", site, paths, sandbox=sandbox,
                                         steps=args.honest_steps, budget=args.honest_budget)
        seconds[sandbox] = time.time() - begun
        results[sandbox] = {r.name: r for r in found}
        if len(found) != len(paths) + 1:
            print(output[-2000:], file=sys.stderr)
    lines = ["### Honest edits", "", f"{len(paths)} edits of the tiny GPT ({args.honest_steps} steps, one thread), "
             f"the validator off; the validator's verdict from `arrl validate`. Time: "
             f"{seconds['off']:.0f} s unsandboxed, {seconds['auto']:.0f} s sandboxed.", "",
             "| edit | validator | sandbox off (experiment time) | sandbox on (experiment time) | same |",
             "| --- | --- | --- | --- | --- |"]
    differ = 0
    for name in ["(baseline)", *(p.stem for p in paths)]:
        off, on = results["off"].get(name), results["auto"].get(name)

        def show(r) -> str:
            if r is None:
                return "missing"
            shown = f"{r.outcome} {r.value:.4f}" if r.value is not None else r.outcome
            return f"{shown} ({r.seconds:.0f} s)"

        same = off is not None and on is not None and (off.outcome, off.value) == (on.outcome, on.value)
        differ += not same
        lines.append(f"| {name} | {verdicts.get(name, '-')} | {show(off)} | {show(on)} | {'yes' if same else '**no**'} |")
        records.append({"kind": "honest", "name": name, "validator": verdicts.get(name, "-"),
                        "off": attrs_dict(off), "on": attrs_dict(on), "same": same})
    lines += ["", f"Same outcome and value sandboxed and unsandboxed: {len(paths) + 1 - differ} of {len(paths) + 1}."]
    failures = [(name, r.failure_reason) for name, r in results["auto"].items()
                if r.outcome != "ok" and results["off"].get(name) and results["off"][name].outcome == "ok"]
    if failures:
        lines += ["", "Failing only under the sandbox:", ""]
        lines += [f"- {name}: {last_line(reason)}" for name, reason in failures]
    accepted = sum(1 for v in verdicts.values() if v == "accepted")
    lines += ["", f"The validator accepted {accepted} of {len(paths)} honest edits."]
    return lines


def last_line(text: str) -> str:
    """The exception a failure reason ends with (its traceback's last line), or its first line."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        return ""
    return (lines[-1] if lines[0].endswith("Traceback (most recent call last):") else lines[0])[:240]


def attrs_dict(result) -> dict | None:
    if result is None:
        return None
    return {"outcome": result.outcome, "value": result.value, "seconds": result.seconds,
            "failure_reason": result.failure_reason[:500]}


if __name__ == "__main__":
    sys.exit(main())
