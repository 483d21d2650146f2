"""The built wheel holds all three mapped folders and works without the source tree."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

from support import ROOT


def test_wheel_installs_and_runs(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                    "--wheel-dir", str(dist), str(ROOT)], check=True, capture_output=True)
    (wheel,) = dist.glob("arrl-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for expected in ("arrl/__init__.py", "arrl/loop.py", "arrl/plugins/subprocess_runner.py",
                     "arrl/plugins/_reaper.py", "arrl/contrib/__init__.py"):
        assert expected in names
    assert not any(n.startswith(("core/", "plugins/", "tests/")) for n in names)

    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(site),
                    str(wheel)], check=True, capture_output=True)
    code = "import arrl, sys; print(arrl.__file__); from arrl.cli import main; main(['plugins'])"
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(site)})
    assert out.returncode == 0, out.stderr
    first, *table = out.stdout.splitlines()
    assert first.startswith(str(site)), "the wheel's copy must be the one imported"
    assert any(line.split()[:2] == ["runner", "subprocess"] for line in table)
