"""What git says about the tree being rewritten."""

from __future__ import annotations

import os
from typing import Iterable

import git

from ..errors import MigratorError


def find_repo(path: str) -> git.Repo | None:
    """The git repository holding path, or None when it is in none."""
    try:
        return git.Repo(path, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        return None


def dirty_paths(root: str, paths: Iterable[str]) -> list[str]:
    """Which of paths (relative to root) have uncommitted changes.

    A tree outside git has nothing to lose to git, so nothing is dirty;
    ignored files are asked about too, since a kernel tree packaged by
    Debian ignores everything.
    """
    repo = find_repo(root)
    if repo is None:
        return []
    top = repo.working_tree_dir
    rel = {os.path.relpath(os.path.join(os.path.abspath(root), p), top): p for p in paths}
    if not rel:
        return []
    try:
        out = repo.git.status("--porcelain", "--ignored", "--untracked-files=all", "--", *rel)
    except git.GitCommandError as e:
        raise MigratorError(f"git status failed: {e.stderr.strip() or e}") from None
    dirty = []
    for line in out.splitlines():
        status, name = line[:2], line[3:]
        if status == "!!":  # ignored and not tracked: git never had it
            dirty.append(rel.get(name, name))
        elif status.strip():
            dirty.append(rel.get(name, name))
    return sorted(set(dirty))
