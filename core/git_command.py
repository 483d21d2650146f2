"""git as a command line, in one repository: what the rollback and `reproduce` need of git."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path


class GitFailed(Exception):
    """A git command that exited non-zero; ``stderr`` is what git said."""

    def __init__(self, args: tuple[str, ...], stderr: str) -> None:
        super().__init__(f"git {' '.join(args)}: {stderr.strip()}")
        self.stderr = stderr


class Git:
    """git in one repository, as a subprocess: ``git("rev-parse", "HEAD")`` is its stdout
    without the final newline. The plain command line rather than a client library: a refused
    run is said before anything heavy is imported, and every call here is one git command."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def __call__(self, *args: str, env: dict[str, str] | None = None, keep_newline: bool = False) -> str:
        # git's messages in English whatever the user's locale: callers read them.
        done = subprocess.run(["git", "-C", str(self.root), *args], capture_output=True, stdin=subprocess.DEVNULL,
                              env={**os.environ, **(env or {}), "LC_ALL": "C", "LANGUAGE": "C"})
        # As git writes paths and file contents: bytes that are not UTF-8 survive a round trip.
        out, err = (stream.decode("utf-8", "surrogateescape") for stream in (done.stdout, done.stderr))
        if done.returncode != 0:
            raise GitFailed(args, err)
        return out if keep_newline else out.removesuffix("\n")
