from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def arrl_env(tmp_path: Path) -> dict[str, str]:
    """An environment whose git identity and config cannot leak in from the machine's."""
    home = tmp_path / "home"
    home.mkdir()
    return {"HOME": str(home), "GIT_CONFIG_NOSYSTEM": "1"}
