#!/usr/bin/env python3
"""Commit the fetched Linux tree into a cached git repository, once.

    python3 corpus/git_tree.py         # prints the path of the repository

The patch-series tests need the real tree as a git repository.  The tree
comes from corpus/fetch.py; its working copy here is a hard-linked copy
(`cp -al`), and every file is added with `git add -f`, since a packaged
tree may ignore everything.  Author, committer and date are fixed, so the
commit has the same id on every machine.  Git never writes into a checked
out file (it removes the file and creates a new one), so the hard links
cannot leak a change back into the fetched tree; still, only read this
repository or clone it: `git clone --shared` is cheap.

The repository lives in $MIGRATOR_CACHE/linux-git (default
~/.cache/migrator/linux-git).  A stamp in its .git names the fetched tree
it was made from; a second call only checks the stamp.  Standard library
and git only, so it runs before migrator is installed.
"""

from __future__ import annotations

import argparse
import fcntl
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

# Bump when the way the repository is made changes.
SCHEME = 1
STAMP = "migrator-git-tree"
FETCH_STAMP = ".migrator-fetched"
IDENTITY = ("migrator corpus", "corpus@migrator.invalid")
BRANCH = "main"


class GitTreeError(Exception):
    pass


def cache_dir() -> Path:
    return Path(os.environ.get("MIGRATOR_CACHE", Path.home() / ".cache" / "migrator"))


def _git(repo: Path, *args: str, env: dict | None = None) -> str:
    full = {**os.environ, "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull, **(env or {})}
    run = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, env=full)
    if run.returncode != 0:
        last = (run.stderr.strip().splitlines() or ["no output"])[-1]
        raise GitTreeError(f"git {args[0]} failed: {last}")
    return run.stdout


def _stamp_text(tree: Path) -> str:
    fetched = tree / FETCH_STAMP
    source = fetched.read_text().strip() if fetched.exists() else "unstamped"
    return f"scheme {SCHEME}\ntree {tree}\nsource {source}\n"


def _build(tree: Path, dest: Path) -> None:
    work = Path(tempfile.mkdtemp(prefix=".git-tree-", dir=dest.parent))
    try:
        copy = work / "linux"
        print(f"git_tree: linking {tree} into {copy}", file=sys.stderr)
        subprocess.run(["cp", "-al", str(tree), str(copy)], check=True)
        _git(copy, "init", "-q", "-b", BRANCH)
        # Hard links share their inode with copies other people make, whose
        # link counts change the ctime: stat data must not depend on it.
        _git(copy, "config", "core.trustctime", "false")
        _git(copy, "config", "core.checkStat", "minimal")
        _git(copy, "config", "gc.auto", "0")
        print("git_tree: git add -f (a minute or two)", file=sys.stderr)
        _git(copy, "add", "-f", "--", ".", f":(exclude){FETCH_STAMP}")
        when = f"{int((tree / 'Makefile').stat().st_mtime)} +0000"
        name, email = IDENTITY
        env = {"GIT_AUTHOR_NAME": name, "GIT_AUTHOR_EMAIL": email, "GIT_AUTHOR_DATE": when,
               "GIT_COMMITTER_NAME": name, "GIT_COMMITTER_EMAIL": email, "GIT_COMMITTER_DATE": when}
        version = _kernel_version(tree)
        _git(copy, "commit", "-q", "--no-verify", "--no-gpg-sign", "-m",
             f"Linux {version}\n\nThe tree of Debian's linux-source-6.1, committed by corpus/git_tree.py.",
             env=env)
        (copy / ".git" / STAMP).write_text(_stamp_text(tree))
        if dest.exists():
            shutil.rmtree(dest)
        copy.rename(dest)
    except (subprocess.CalledProcessError, OSError) as e:
        raise GitTreeError(f"cannot build {dest}: {e}") from None
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _kernel_version(tree: Path) -> str:
    fields = {}
    for line in (tree / "Makefile").read_text(errors="replace").splitlines()[:8]:
        key, _, value = line.partition("=")
        fields[key.strip()] = value.strip()
    return ".".join(fields.get(k, "?") for k in ("VERSION", "PATCHLEVEL", "SUBLEVEL"))


def git_tree(tree: Path, dest: Path) -> Path:
    """The repository at dest holding tree as one commit; made if missing or stale."""
    if not (tree / "Makefile").exists():
        raise GitTreeError(f"no kernel tree at {tree} (run: python3 corpus/fetch.py)")
    dest.parent.mkdir(parents=True, exist_ok=True)
    with open(dest.parent / f".{dest.name}.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        stamp = dest / ".git" / STAMP
        if stamp.exists() and stamp.read_text() == _stamp_text(tree):
            return dest
        _build(tree, dest)
    return dest


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tree", type=Path, default=None,
                        help="the fetched tree (default: $MIGRATOR_CACHE/linux-source-6.1)")
    parser.add_argument("--dest", type=Path, default=None,
                        help="where the repository goes (default: $MIGRATOR_CACHE/linux-git)")
    args = parser.parse_args()
    tree = (args.tree or cache_dir() / "linux-source-6.1").expanduser().resolve()
    dest = (args.dest or cache_dir() / "linux-git").expanduser().resolve()
    try:
        print(git_tree(tree, dest))
    except GitTreeError as e:
        print(f"git_tree: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
