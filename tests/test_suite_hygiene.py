"""The suite's own guards: a test that writes into the repository fails, by its module's name."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from support import ROOT

STRAY = ROOT / "stray-file-of-a-test"

PROBE = f'''
from pathlib import Path

def test_writes_into_the_repository():
    Path({str(STRAY)!r}).write_text("left behind")
'''


def test_a_file_left_in_the_repository_fails_the_run(tmp_path: Path) -> None:
    probe = tmp_path / "test_probe.py"
    probe.write_text(PROBE)
    try:
        ran = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "conftest",
                              "--rootdir", str(ROOT), "-c", str(ROOT / "pyproject.toml"), str(probe)],
                             capture_output=True, text=True, timeout=300, cwd=tmp_path)
    finally:
        STRAY.unlink(missing_ok=True)
    assert ran.returncode == 1, ran.stdout + ran.stderr
    assert "test_probe.py" in ran.stdout and "changed the repository" in ran.stdout
    assert "stray-file-of-a-test" in ran.stdout
