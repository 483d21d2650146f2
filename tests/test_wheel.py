"""The built wheel holds all three mapped folders and works without the source tree."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

from support import ROOT


def test_wheel_installs_and_runs(tmp_path: Path) -> None:
    # Built from a copy of the tracked files: setuptools writes build/ and *.egg-info next to the
    # sources, and the tests leave the repository as they found it.
    source = tmp_path / "source"
    for name in subprocess.run(["git", "-C", str(ROOT), "ls-files"], capture_output=True, text=True,
                               check=True).stdout.splitlines():
        if (ROOT / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, source / name)
    dist = tmp_path / "dist"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                    "--wheel-dir", str(dist), str(source)], check=True, capture_output=True)
    (wheel,) = dist.glob("arrl-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for expected in ("arrl/__init__.py", "arrl/run/loop.py", "arrl/plugins/runners/subprocess_runner.py",
                     "arrl/plugins/runners/reaper.py", "arrl/plugins/ppo/prior.pt", "arrl/contrib/__init__.py"):
        assert expected in names
    assert not any(n.startswith(("core/", "plugins/", "tests/")) for n in names)

    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(site),
                    str(wheel)], check=True, capture_output=True)
    # Every package the build config lists imports from the wheel (a package missing from the list
    # would be missing from the wheel, and only an import from it shows that).
    packages = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    imports = "; ".join(f"import {name}" for name in packages)
    code = f"import arrl, sys; print(arrl.__file__); {imports}; from arrl.cli import main; main(['plugins'])"
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(site)})
    assert out.returncode == 0, out.stderr
    first, *table = out.stdout.splitlines()
    assert first.startswith(str(site)), "the wheel's copy must be the one imported"
    assert any(line.split()[:2] == ["runner", "subprocess"] for line in table)
