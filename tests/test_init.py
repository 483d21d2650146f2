"""`arrl init`: a config for a user's script that `arrl run` accepts as it is."""

from __future__ import annotations

import shutil
import tomllib
from pathlib import Path

import pytest

from arrl.script.scaffold import guess_direction, guess_metric
from support import ROOT, git, make_repo, records, run_arrl

STYLES = ROOT / "tests" / "scripts" / "styles"


@pytest.mark.parametrize(("script", "metric"), [
    ("examples/digits/train.py", "val_loss"),  # val_loss beside val_accuracy: the first of a tie
    ("examples/tinygpt/train.py", "val_bpb"),  # printed three times, train_loss once
    ("tests/scripts/styles/nanogpt/train.py", "val_loss"),
    ("tests/scripts/styles/autoresearch/train.py", "val_bpb"),
])
def test_the_metric_is_the_one_the_script_prints_most(script: str, metric: str) -> None:
    assert guess_metric((ROOT / script).read_text()) == metric


def test_direction_follows_the_metric_name() -> None:
    assert guess_metric('print(f"arrl: epoch={e} top1_acc={a:.3f}")') == "top1_acc"
    assert [guess_direction(m) for m in ("top1_acc", "val_f1", "val_loss", "val_bpb", "perplexity")] == [
        "maximize", "maximize", "minimize", "minimize", "minimize"]
    # timm prints top1 and top5; a name with an error or loss in it is a loss whatever else it says.
    assert [guess_direction(m) for m in ("top1", "top5", "valAccuracy", "val_mAP", "eval/rougeL", "top1_err",
                                         "accuracy_loss", "val_score", "mse", "step_time")] == [
        "maximize", "maximize", "maximize", "maximize", "maximize", "minimize", "minimize", "maximize", "minimize",
        "minimize"]
    higher = ["psnr", "ssim", "elbo", "exact_match", "success_rate", "top_1", "spearman", "eval/em", "val_mcc"]
    lower = ["wer", "cer", "fid", "brier_score", "accuracy_drop", "latency_ms", "peak_memory"]
    assert [guess_direction(m) for m in higher] == ["maximize"] * len(higher)
    assert [guess_direction(m) for m in lower] == ["minimize"] * len(lower)


def test_init_writes_a_config_that_arrl_run_accepts_as_is(tmp_path: Path, arrl_env) -> None:
    repo = make_repo(tmp_path / "project", {})
    shutil.copy(STYLES / "autoresearch" / "train.py", repo / "train.py")
    # One writer: the [space] init writes is the one `arrl inspect --space` prints for the script.
    inspected = tomllib.loads(run_arrl("inspect", "train.py", "--space", cwd=repo).stdout)
    written = run_arrl("init", "train.py", "--budget", "60", cwd=repo)
    assert written.returncode == 0, written.output
    config = tomllib.loads((repo / "arrl.toml").read_text())
    assert (config["script"], config["metric"], config["direction"], config["budget"]) == (
        "train.py", "val_bpb", "minimize", 60)
    assert config["space"] == inspected["space"] and "MATRIX_LR" in config["space"]
    git(repo, "add", "-A")
    git(repo, "-c", "user.name=T", "-c", "user.email=t@e", "commit", "-qm", "arrl init")
    result = run_arrl("--plugin", "proposer=random", "run", "--max-experiments", "4", "--seed", "3",
                      cwd=repo, env=arrl_env, timeout=300)
    assert result.returncode == 0, result.output
    recs = records(repo)
    assert len(recs) == 4 and [r["outcome"] for r in recs].count("rejected") == 0
    assert set(config["space"]) <= set(recs[0]["config"])


def test_init_refuses_to_overwrite_and_says_when_no_metric_is_printed(tmp_path: Path) -> None:
    (tmp_path / "train.py").write_text("LR = 0.1\nprint('done')\n")
    silent = run_arrl("init", "train.py", cwd=tmp_path)
    assert silent.returncode != 0 and "pass --metric" in silent.stderr
    assert not (tmp_path / "arrl.toml").exists()
    assert run_arrl("init", "train.py", "--metric", "val_loss", cwd=tmp_path).returncode == 0
    again = run_arrl("init", "train.py", "--metric", "other", cwd=tmp_path)
    assert again.returncode != 0 and "--force" in again.stderr
    assert 'metric = "val_loss"' in (tmp_path / "arrl.toml").read_text()


def test_init_without_a_script_takes_the_one_that_prints_arrl_lines(tmp_path: Path) -> None:
    empty = run_arrl("init", cwd=tmp_path)
    assert empty.returncode == 2 and "name the training script: `arrl init train.py`" in empty.stderr
    assert "there is no Python file in this folder" in empty.stderr
    (tmp_path / "utils.py").write_text("def helper():\n    return 1\n")
    silent = run_arrl("init", cwd=tmp_path)
    assert silent.returncode == 2 and "none of utils.py prints an `arrl:` line yet" in silent.stderr
    (tmp_path / "train.py").write_text("LR = 0.1\nprint(f'arrl: val_loss={LR}')\n")
    found = run_arrl("init", cwd=tmp_path)
    assert found.returncode == 0, found.output
    assert "using train.py" in found.stderr and 'script = "train.py"' in (tmp_path / "arrl.toml").read_text()
    (tmp_path / "arrl.toml").unlink()
    (tmp_path / "other.py").write_text("print('arrl: val_loss=1')\n")
    two = run_arrl("init", cwd=tmp_path)
    assert two.returncode == 2 and "these print `arrl:` lines: other.py, train.py" in two.stderr
