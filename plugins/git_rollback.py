"""Git rollback: every proposal a commit under its own ref, the workspace a dedicated worktree.

Layout in the user's repository (nothing else is written there)::

    refs/arrl/<run>/baseline      the commit the run started from
    refs/arrl/<run>/last-good     the version proposals are made against
    refs/arrl/<run>/exp/<id>      every experiment's proposal, failed ones included; the
                                  baseline's experiment (exp/0) is the baseline commit itself

Commits are made with plumbing (``hash-object``, a private index file, ``commit-tree``) so the
user's branch, index and working tree are never touched; the worktree lives in the run directory.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import attrs

import arrl
from arrl.errors import WorkspaceError
from arrl.git_command import Git, GitFailed
from arrl.run.faults import checkpoint


@attrs.frozen
class GitOptions:
    author_name: str = "arrl"
    author_email: str = "arrl@localhost"


def _repository(root: Path) -> Git:
    """git at ``root``, the top of a repository, or a WorkspaceError that says what to do."""
    git = Git(root)
    try:
        top = git("rev-parse", "--show-toplevel")
    except GitFailed as error:
        if not any(said in error.stderr for said in ("not a git repository", "cannot change to")):
            # git is there but refuses (dubious ownership, a damaged repository): say why
            raise WorkspaceError(f"git cannot use {root}: {error.stderr.strip()}") from None
        top = ""
    except FileNotFoundError:
        raise WorkspaceError("git is not installed (no `git` on PATH); arrl keeps every experiment "
                             "as a git commit") from None
    if not top or Path(top).resolve() != Path(root).resolve():
        raise WorkspaceError(
            f"{root} is not a git repository; arrl keeps every experiment as a "
            "commit: run `git init && git add <script> && git commit -m baseline` first"
        ) from None
    return git


class GitRollback(arrl.Rollback):
    def __init__(self, options: GitOptions, context: arrl.PluginContext) -> None:
        self.options = options
        self.context = context
        self.path = context.script_path
        self.git = _repository(context.repo_root)
        self.run_id = ""
        self.workspace = Path()

    # -- helpers ---------------------------------------------------------------------------
    def _ref(self, name: str) -> str:
        return f"refs/arrl/{self.run_id}/{name}"

    def _resolve(self, ref: str) -> str | None:
        try:
            return self.git("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
        except GitFailed:
            return None

    def _env(self) -> dict[str, str]:
        o = self.options
        return {"GIT_AUTHOR_NAME": o.author_name, "GIT_AUTHOR_EMAIL": o.author_email,
                "GIT_COMMITTER_NAME": o.author_name, "GIT_COMMITTER_EMAIL": o.author_email}

    def _checkout(self, commit: str) -> None:
        git = Git(self.workspace)
        git("checkout", "--quiet", "--detach", "--force", commit)
        # Files an experiment wrote into the workspace are not part of any version.
        git("clean", "-fdxq")

    # -- the Rollback contract ---------------------------------------------------------------
    def check(self) -> str:
        """The commit a new run starts from, once the script is committed and unchanged."""
        head = self._resolve("HEAD")
        if head is None:
            raise WorkspaceError(f"{self.context.repo_root} has no commits; commit your script first")
        try:
            self.git("ls-files", "--error-unmatch", "--", self.path)
        except GitFailed:
            raise WorkspaceError(
                f"{self.path} is not committed in {self.context.repo_root}; "
                f"run `git add {self.path} && git commit` first"
            ) from None
        if self.git("status", "--porcelain", "--", self.path):
            raise WorkspaceError(
                f"{self.path} has uncommitted changes; commit or stash them so that every "
                "result maps to a commit"
            )
        return head

    def open(self, run_id: str) -> Path:
        self.run_id = run_id
        self.workspace = self.context.run_dir / "workspace"
        if not self._resolve(self._ref("baseline")):
            head = self.check()
            self.git("update-ref", self._ref("baseline"), head)
            self.git("update-ref", self._ref("last-good"), head)
        last_good = self._resolve(self._ref("last-good")) or self._resolve(self._ref("baseline"))
        assert last_good is not None
        if not (self.workspace / ".git").exists():
            self.git("worktree", "prune")
            self.git("worktree", "add", "--detach", "--force", str(self.workspace), last_good)
        self._checkout(last_good)
        return self.workspace

    def baseline(self) -> tuple[str, str]:
        commit = self._resolve(self._ref("baseline"))
        assert commit is not None, "open() first"
        return commit, self.read(commit)

    def snapshot(self, script: str, experiment_id: int, message: str, parent: str,
                 files: Mapping[str, str] | None = None) -> tuple[str, str]:
        git = self.git
        index = self.context.run_dir / "snapshot.index"
        env = {**self._env(), "GIT_INDEX_FILE": str(index)}
        git("read-tree", parent, env=env)
        for path, text in {self.path: script, **(files or {})}.items():
            git("update-index", "--add", "--cacheinfo", f"100644,{self._blob(text)},{path}", env=env)
        tree = git("write-tree", env=env)
        commit = git("commit-tree", tree, "-p", parent, "-m", message, env=env)
        index.unlink(missing_ok=True)
        checkpoint("git-commit")
        ref = self._ref(f"exp/{experiment_id}")
        git("update-ref", ref, commit)
        checkpoint("ref-update")
        self._checkout(commit)
        return commit, ref

    def _blob(self, text: str) -> str:
        scratch = self.context.run_dir / "snapshot.blob"
        scratch.write_bytes(text.encode())
        try:
            return self.git("hash-object", "-w", "--no-filters", str(scratch))
        finally:
            scratch.unlink()

    def restore(self, commit: str) -> None:
        self._checkout(commit)

    def mark_good(self, commit: str) -> None:
        self.git("update-ref", self._ref("last-good"), commit)

    def read(self, commit: str) -> str:
        return self.git("show", f"{commit}:{self.path}", keep_newline=True)

    def read_file(self, commit: str, path: str) -> str:
        try:
            return self.git("show", f"{commit}:{path}", keep_newline=True)
        except GitFailed as error:
            raise OSError(f"{path} is not in {commit[:12]}: {error}") from None

    def keep(self, commit: str, experiment_id: int) -> str:
        ref = self._ref(f"exp/{experiment_id}")
        self.git("update-ref", ref, commit)
        return ref

    def finish(self) -> None:
        """Remove the run's worktrees (its own, and its workers' below its folder); the refs stay,
        so `arrl apply`, `show` and `reproduce` find every version."""
        if not self.run_id:
            return
        listed = self.git("worktree", "list", "--porcelain").splitlines()
        mine = [Path(line.removeprefix("worktree ")).resolve() for line in listed if line.startswith("worktree ")]
        run_dir = self.context.run_dir.resolve()
        failed = []
        for path in mine:
            if path.is_relative_to(run_dir):
                try:
                    self.git("worktree", "remove", "--force", str(path))
                except GitFailed as error:
                    failed.append(f"{path}: {error.stderr.strip() or error}")
        self.git("worktree", "prune")
        if failed:
            raise WorkspaceError("could not remove " + "; ".join(failed))

    def discard(self) -> None:
        if not self.run_id:
            return
        if (self.workspace / ".git").exists():
            self.git("worktree", "remove", "--force", str(self.workspace))
        self.git("worktree", "prune")
        refs = self.git("for-each-ref", "--format=%(refname)", f"refs/arrl/{self.run_id}/").split()
        for ref in refs:
            self.git("update-ref", "-d", ref)


@arrl.hookimpl
def arrl_rollbacks():
    yield arrl.Registration(
        name="git",
        summary="commits under refs/arrl/<run>/, a dedicated worktree; your branch is untouched",
        factory=lambda options, context: GitRollback(options, context),
        options=GitOptions,
    )
