"""`arrl run` as a user runs it: a real git repository, real processes, the installed CLI."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from support import TOY_SCRIPT, git, make_repo, records, run_arrl, run_dir, user_state

TOY_CONFIG = """
script = "train.py"
budget = 20
failure_limit = 50
seed = 3
[early_stopping]
enabled = false
"""


def test_run_records_rolls_back_and_leaves_user_state_alone(tmp_path: Path, arrl_env) -> None:
    repo = make_repo(tmp_path / "project", {"train.py": TOY_SCRIPT, "README.md": "toy\n"}, TOY_CONFIG)
    (repo / "notes.txt").write_text("an untracked file of the user's\n")
    before = user_state(repo)

    result = run_arrl("run", "--max-experiments", "10", cwd=repo, env=arrl_env)
    assert result.returncode == 0, result.output

    recs = records(repo)
    assert [r["id"] for r in recs] == list(range(10))
    assert recs[0]["outcome"] == "ok" and recs[0]["kept"]
    for record in recs:
        if record["commit"]:
            assert git(repo, "cat-file", "-t", record["commit"]).strip() == "commit"
        if record["ref"]:
            assert git(repo, "rev-parse", record["ref"]).strip() == record["commit"]

    failed = [r for r in recs if r["outcome"] == "failed"]
    assert failed, "the seed was chosen so that some proposal changes the batch size"
    for record in failed:
        assert "does not fit this toy" in record["failure_reason"]
        assert record["value"] == "inf"
        # The failing proposal stays retrievable by its ref, with the failing change in it.
        failing_script = git(repo, "show", f"{record['ref']}:train.py")
        assert "BATCH_SIZE = 32\n" not in failing_script
        assert "-BATCH_SIZE = 32" in record["diff_parent"]

    # The last good version is kept by its ref; the finished run let its worktree go.
    kept = [r for r in recs if r["kept"]]
    assert not (run_dir(repo) / "workspace").exists()
    assert str(run_dir(repo)) not in git(repo, "worktree", "list")
    last_good = git(repo, "for-each-ref", "--format=%(objectname)", "refs/arrl/*/last-good")
    assert last_good.strip() == kept[-1]["commit"]

    # Every kept record beats the one kept before it (the default keep policy).
    values = [float(r["value"]) for r in kept]
    assert values == sorted(values, reverse=True) and len(set(values)) == len(values)

    assert user_state(repo) == before
    assert (repo / "notes.txt").read_text() == "an untracked file of the user's\n"

    history = run_arrl("history", "--tsv", cwd=repo, env=arrl_env)
    assert history.returncode == 0, history.output
    rows = history.stdout.strip().splitlines()
    assert rows[0].split("\t")[:3] == ["ID", "PARENT", "OUTCOME"]
    assert len(rows) == 11


def test_diffs_apply_with_git(tmp_path: Path, arrl_env) -> None:
    repo = make_repo(tmp_path / "project", {"train.py": TOY_SCRIPT}, TOY_CONFIG)
    assert run_arrl("run", "--max-experiments", "5", cwd=repo, env=arrl_env).returncode == 0
    proposals = [r for r in records(repo) if r["proposer"] != "baseline"]
    assert proposals, "the run made no proposal"
    for record in proposals:
        if record["outcome"] == "duplicate":
            continue
        check = tmp_path / f"apply-{record['id']}"
        git(repo, "worktree", "add", "-q", "--detach", str(check), "HEAD")
        patch = tmp_path / f"{record['id']}.diff"
        patch.write_text(record["diff_baseline"])
        git(check, "apply", str(patch))
        assert (check / "train.py").read_text() == git(repo, "show", f"{record['ref']}:train.py")


HANGING_SCRIPT = """
import os, signal, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
LEARNING_RATE = 0.01
pids = [os.getpid()]
child = os.fork()
if child == 0:
    os.setsid()  # escapes the process group and the session of its parent
    if os.fork() == 0:  # and a grandchild, orphaned right away
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        while True:
            time.sleep(0.1)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    while True:
        time.sleep(0.1)
time.sleep(0.3)
out = os.environ["ARRL_OUTPUT_DIR"]
for pid in os.listdir("/proc"):
    if pid.isdigit():
        try:
            env = open(f"/proc/{pid}/environ", "rb").read()
        except OSError:
            continue
        token = os.environ["ARRL_PROCESS_TOKEN"].encode()
        if token in env:
            pids.append(int(pid))
open(os.path.join(out, "pids.txt"), "w").write(" ".join(map(str, sorted(set(pids)))))
print("arrl: step=0 val_loss=1.0", flush=True)
while True:
    time.sleep(0.1)
"""


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.timing
def test_budget_kills_sigterm_ignoring_script_and_setsid_children(tmp_path: Path, arrl_env) -> None:
    repo = make_repo(tmp_path / "project", {"train.py": HANGING_SCRIPT},
                     'script = "train.py"\nbudget = 2\nsilence_timeout = 0\n'
                     # No torch to import: the 10 s bound is about the kill, not start-up.
                     '[plugins]\nproposer = "random"\n'
                     # The script reports its processes' pids for the test to check on the host: in
                     # the sandbox they would be its own namespace's. The kill beneath the sandbox.
                     '[options.runner]\nsandbox = "off"\n')
    started = time.monotonic()
    result = run_arrl("run", "--max-experiments", "1", cwd=repo, env=arrl_env)
    ended = time.monotonic()
    # The baseline itself timed out: arrl says so and stops.
    assert result.returncode == 1 and "timed_out" in result.stderr, result.output
    (record,) = records(repo)
    assert record["outcome"] == "timed_out"
    assert record["failure_reason"] == "exceeded the 2 s budget"
    assert 2.0 <= record["wall_clock_seconds"] <= 3.0
    pids = [int(p) for p in (run_dir(repo) / "experiments/0/output/pids.txt").read_text().split()]
    assert len(pids) >= 3, "the script, its setsid child and the orphaned grandchild"
    survivors = [pid for pid in pids if _alive(pid)]
    assert survivors == [], f"processes outlived the experiment: {survivors}"
    assert ended - started < 10


SILENT_SCRIPT = """
import time
LEARNING_RATE = 0.01
print("arrl: step=0 val_loss=2.0", flush=True)
time.sleep(60)
"""


@pytest.mark.timing
def test_silence_timeout_ends_a_hung_run(tmp_path: Path, arrl_env) -> None:
    repo = make_repo(tmp_path / "project", {"train.py": SILENT_SCRIPT},
                     'script = "train.py"\nbudget = 30\nsilence_timeout = 1\n')
    result = run_arrl("run", "--max-experiments", "1", cwd=repo, env=arrl_env)
    assert result.returncode == 1
    (record,) = records(repo)
    assert record["outcome"] == "failed"
    assert record["failure_reason"] == "no output for 1 s"
    assert record["wall_clock_seconds"] < 5


def test_three_consecutive_failures_pause_the_run(tmp_path: Path, arrl_env) -> None:
    # Every change crashes: after the three runs of the unmodified script (the noise floor),
    # experiments 3, 4 and 5 fail and the guard trips.
    script = TOY_SCRIPT.replace("if BATCH_SIZE != 32:", "if (LEARNING_RATE, BATCH_SIZE, DROPOUT) != (0.01, 32, 0.1):")
    repo = make_repo(tmp_path / "project", {"train.py": script}, 'script = "train.py"\nbudget = 20\n')
    result = run_arrl("run", "--max-experiments", "40", cwd=repo, env=arrl_env)
    recs = records(repo)
    assert result.returncode == 3, result.output
    assert [r["outcome"] for r in recs] == ["ok"] * 3 + ["failed"] * 3
    assert "paused" in result.stderr and "arrl run" in result.stderr
    meta = (run_dir(repo) / "run.json").read_text()
    assert '"paused"' in meta
    # `arrl resume` after a human looked: the counter starts again, nothing recorded is lost.
    again = run_arrl("resume", "--max-experiments", str(len(recs) + 1), cwd=repo, env=arrl_env)
    assert "continuing run" in again.stderr
    assert records(repo)[: len(recs)] == recs
    assert len(records(repo)) == len(recs) + 1


def test_metric_problems_are_recorded_clearly(tmp_path: Path, arrl_env) -> None:
    repo = make_repo(tmp_path / "project", {"train.py": "LEARNING_RATE = 0.1\nprint('arrl: val_loss=abc')\n"},
                     'script = "train.py"\nbudget = 10\n')
    result = run_arrl("run", "--max-experiments", "1", cwd=repo, env=arrl_env)
    assert result.returncode == 1
    (record,) = records(repo)
    assert record["outcome"] == "failed"
    assert "metric 'val_loss' was never reported" in record["failure_reason"]
    assert "val_loss is not a number: 'abc'" in record["failure_reason"]
    assert "fix it, commit, and start again" in result.stderr


def test_a_missing_metric_names_the_metrics_the_script_did_report(tmp_path: Path, arrl_env) -> None:
    script = "LEARNING_RATE = 0.1\nprint('arrl: step=1 val_acc=0.9 train_loss=0.3')\n"
    repo = make_repo(tmp_path / "project", {"train.py": script}, 'script = "train.py"\nbudget = 10\n')
    run_arrl("run", "--max-experiments", "1", cwd=repo, env=arrl_env)
    (record,) = records(repo)
    assert "metric 'val_loss' was never reported" in record["failure_reason"]
    assert "the script reported train_loss, val_acc; set `metric` to one of them?" in record["failure_reason"]


def test_nan_loss_fails_fast(tmp_path: Path, arrl_env) -> None:
    script = "import time\nLEARNING_RATE = 0.1\nprint('arrl: step=1 val_loss=nan', flush=True)\ntime.sleep(30)\n"
    repo = make_repo(tmp_path / "project", {"train.py": script}, 'script = "train.py"\nbudget = 20\n')
    run_arrl("run", "--max-experiments", "1", cwd=repo, env=arrl_env)
    (record,) = records(repo)
    assert record["outcome"] == "failed"
    assert record["failure_reason"] == "val_loss became nan at step 1"
    assert record["wall_clock_seconds"] < 5


def test_a_script_that_prints_nan_and_ends_by_itself_is_failed_at_its_first_nan(tmp_path: Path, arrl_env) -> None:
    # The script's later lines arrive before the stop lands: the record names the first NaN.
    script = ("LEARNING_RATE = 0.1\nfor step in range(40):\n"
              "    print(f'arrl: step={step} val_loss={1.0 if step < 5 else float(\"nan\")}')\n")
    repo = make_repo(tmp_path / "project", {"train.py": script}, 'script = "train.py"\nbudget = 20\n')
    run_arrl("run", "--max-experiments", "1", cwd=repo, env=arrl_env)
    (record,) = records(repo)
    assert record["outcome"] == "failed"
    assert record["failure_reason"] == "val_loss became nan at step 5"


def test_dirty_script_and_missing_repository_are_clear_errors(tmp_path: Path, arrl_env) -> None:
    repo = make_repo(tmp_path / "project", {"train.py": TOY_SCRIPT}, TOY_CONFIG)
    (repo / "train.py").write_text(TOY_SCRIPT + "# edited\n")
    result = run_arrl("run", "--max-experiments", "2", cwd=repo, env=arrl_env)
    assert result.returncode == 1
    assert "train.py has uncommitted changes" in result.stderr
    assert "Traceback" not in result.stderr

    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "train.py").write_text(TOY_SCRIPT)
    result = run_arrl("run", "train.py", "--max-experiments", "2", cwd=plain, env=arrl_env)
    assert result.returncode == 1
    assert "is not a git repository" in result.stderr


def test_continue_and_new(tmp_path: Path, arrl_env) -> None:
    repo = make_repo(tmp_path / "project", {"train.py": TOY_SCRIPT}, TOY_CONFIG)
    assert run_arrl("run", "--max-experiments", "2", cwd=repo, env=arrl_env).returncode == 0
    first = run_dir(repo)
    # A finished run is not continued: a plain `arrl run` starts another.
    assert run_arrl("run", "--max-experiments", "2", cwd=repo, env=arrl_env).returncode == 0
    second = run_dir(repo)
    assert second != first
    assert len(list((repo / ".arrl").glob("*/run.json"))) == 2
    assert os.path.exists(second / "journal.jsonl")


SLOW_SCRIPT = """
import time
LEARNING_RATE = 0.01
DROPOUT = 0.1
for step in range(200):
    print(f"arrl: step={step} val_loss={1 + DROPOUT + 1 / (step + 1):.5f}", flush=True)
    time.sleep(0.05)
"""


def test_ctrl_c_records_the_running_experiment_as_interrupted(tmp_path: Path, arrl_env) -> None:
    import signal
    import subprocess

    from support import ARRL

    repo = make_repo(tmp_path / "project", {"train.py": SLOW_SCRIPT}, 'script = "train.py"\nbudget = 60\n')
    process = subprocess.Popen([str(ARRL), "run", "--max-experiments", "5"], cwd=repo,
                               env={**os.environ, **arrl_env}, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    log = None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # wait until the baseline is running and reporting
        logs = list((repo / ".arrl").glob("*/experiments/0/stdout.log"))
        if logs and "step=3" in logs[0].read_text():
            log = logs[0]
            break
        time.sleep(0.05)
    assert log is not None, "the baseline never started"
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=20)
    assert process.returncode == 130, stderr
    assert "interrupted" in stderr and "`arrl run` continues it" in stderr
    (record,) = records(repo)
    assert record["outcome"] == "interrupted" and record["failure_reason"] == "stopped by the user"
    assert '"interrupted"' in (run_dir(repo) / "run.json").read_text()
    assert "step=199" not in log.read_text()

    # Continuing re-runs the baseline (it never finished) and goes on from there.
    again = run_arrl("run", "--max-experiments", "2", "--budget", "30", cwd=repo, env=arrl_env)
    assert again.returncode == 0, again.output
    recs = records(repo)
    assert [(r["id"], r["proposer"], r["outcome"]) for r in recs] == [
        (0, "baseline", "interrupted"), (1, "baseline", "ok")]


def test_target_stops_the_run_and_keep_any_follows_every_success(tmp_path: Path, arrl_env) -> None:
    repo = make_repo(tmp_path / "project", {"train.py": TOY_SCRIPT}, 'keep = "any"\n' + TOY_CONFIG)
    result = run_arrl("run", "--max-experiments", "30", "--target", "10", cwd=repo, env=arrl_env)
    assert result.returncode == 0, result.output
    assert "reached the target val_loss 10" in result.stderr
    assert len(records(repo)) == 1  # the baseline (about 0.6) already beats 10

    repo2 = make_repo(tmp_path / "other", {"train.py": TOY_SCRIPT}, 'keep = "any"\n' + TOY_CONFIG)
    assert run_arrl("run", "--max-experiments", "8", cwd=repo2, env=arrl_env).returncode == 0
    recs = records(repo2)
    # The noise floor's repeats of the baseline measure it and are never kept; every proposed
    # success is.
    proposed = [r for r in recs if r["proposer"] != "baseline"]
    assert recs[0]["kept"] and proposed
    assert all(r["kept"] == (r["outcome"] == "ok") for r in proposed), [(r["outcome"], r["kept"]) for r in recs]
    for record in proposed:
        parent = max(r["id"] for r in recs[: record["id"]] if r["kept"])
        assert record["parent_id"] == parent


def _stalls_in_a_row(recs: list[dict]) -> list[int]:
    """After each record, the experiments since the best last moved beyond the noise margin: a
    kept proposal that is not marked as noise resets it (keep = "improve"), every other proposal
    adds one, the unmodified script's runs add nothing."""
    counts, stalled = [], 0
    for record in recs:
        if record["proposer"] != "baseline":
            stalled = 0 if record["kept"] and not record["within_noise"] else stalled + 1
        counts.append(stalled)
    return counts


def test_plateau_ends_the_run_once_that_many_experiments_in_a_row_did_not_improve(tmp_path: Path, arrl_env) -> None:
    repo = make_repo(tmp_path / "project", {"train.py": TOY_SCRIPT}, TOY_CONFIG)
    result = run_arrl("run", "--max-experiments", "60", "--plateau", "4", cwd=repo, env=arrl_env)
    assert result.returncode == 0, result.output
    assert "reached --plateau 4: no improvement on the best beyond the noise margin in the last 4 experiments" \
        in result.stderr
    recs = records(repo)
    counts = _stalls_in_a_row(recs)
    assert counts[-1] == 4 and max(counts[:-1]) < 4, counts
    assert any(r["kept"] for r in recs[1:]), "the seed was chosen so that a proposal improves and resets the count"


NOISY_TOY = TOY_SCRIPT.replace(
    "import math, time", "import math, os, random, time\nNOISE = random.Random(int(os.environ['ARRL_SEED'])).random()"
).replace("1.0 / (step + 1)", "1.0 / (step + 1) + 0.6 * NOISE")


def test_an_improvement_inside_the_noise_does_not_end_a_plateau(tmp_path: Path, arrl_env) -> None:
    # Three runs of the unmodified script measure a noise floor of about 0.2: the toy's small
    # steps (dropout, the learning rate near its best) are kept, but as noise, and do not reset
    # the count.
    repo = make_repo(tmp_path / "project", {"train.py": NOISY_TOY}, TOY_CONFIG.replace("baseline_runs = 1", ""))
    result = run_arrl("run", "--max-experiments", "60", "--plateau", "5", cwd=repo, env=arrl_env)
    assert result.returncode == 0, result.output
    assert "reached --plateau 5" in result.stderr
    recs = records(repo)
    counts = _stalls_in_a_row(recs)
    assert counts[-1] == 5 and max(counts[:-1]) < 5, counts
    assert any(r["kept"] and r["within_noise"] for r in recs), \
        "the seed was chosen so that a proposal is kept inside the noise and counts as a stall"


def test_a_continued_run_keeps_the_stop_conditions_it_started_with(tmp_path: Path, arrl_env) -> None:
    # One failure pauses this run; each `arrl run` continues it, and it still ends at the
    # --max-experiments 14 it was started with, though no continuation repeats it. (The random
    # proposer: the subject is the stop conditions, and each start skips importing torch.)
    repo = make_repo(tmp_path / "project", {"train.py": TOY_SCRIPT},
                     TOY_CONFIG.replace("failure_limit = 50", "failure_limit = 1") + '[plugins]\nproposer = "random"\n')
    first = run_arrl("run", "--max-experiments", "14", cwd=repo, env=arrl_env)
    assert first.returncode == 3, first.output  # the seed was chosen so that a proposal fails early
    assert len(records(repo)) < 14
    for _ in range(14):
        again = run_arrl("run", cwd=repo, env=arrl_env)
        assert again.returncode in (0, 3), again.output
        if again.returncode == 0:
            break
    assert "reached --max-experiments 14" in again.stderr
    assert len(records(repo)) == 14


def test_a_paused_run_restarts_its_plateau_when_it_is_continued(tmp_path: Path, arrl_env) -> None:
    # While the flag file exists every proposal fails: three failures pause the run, and they are
    # also three experiments without an improvement. Continued after the fix, it must run, not end
    # on a plateau of --plateau 3 it never resumed.
    flag = tmp_path / "broken"
    flag.write_text("")
    script = (f"import os\nLEARNING_RATE = 0.01\nDROPOUT = 0.1\n"
              f"if os.path.exists({str(flag)!r}) and (LEARNING_RATE, DROPOUT) != (0.01, 0.1):\n"
              f"    raise RuntimeError('broken')\n"
              f"print(f'arrl: val_loss={{abs(LEARNING_RATE - 0.004) * 100 + DROPOUT:.6f}}')\n")
    config = ('script = "train.py"\nbudget = 20\nfailure_limit = 3\nbaseline_runs = 1\nseed = 3\n'
              '[plugins]\nproposer = "random"\n[early_stopping]\nenabled = false\n'
              f'[options.runner]\nread_paths = ["{tmp_path}"]\n')  # the flag file, for the sandbox
    repo = make_repo(tmp_path / "project", {"train.py": script}, config)
    first = run_arrl("run", "--max-experiments", "30", "--plateau", "3", cwd=repo, env=arrl_env)
    assert first.returncode == 3, first.output
    assert [r["outcome"] for r in records(repo)] == ["ok", "failed", "failed", "failed"]
    flag.unlink()
    again = run_arrl("run", cwd=repo, env=arrl_env)
    assert len(records(repo)) > 4, again.output
