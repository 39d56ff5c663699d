"""What git says about the tree being rewritten."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
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


# ------------------------------------------------------------ the series' repo

@dataclass(frozen=True)
class TreeRepo:
    """A kernel tree inside a git repository, as the series needs it."""

    repo: git.Repo
    top: str  # the repository's working tree
    root: str  # the kernel tree (top, or a folder inside it)
    prefix: str  # root relative to top, "" or ending in "/"
    head: git.Commit

    def git_path(self, path: str) -> str:
        """A path relative to the kernel tree, as a path in the repository."""
        return self.prefix + path

    @property
    def shallow(self) -> bool:
        return os.path.exists(os.path.join(self.repo.git_dir, "shallow"))

    @property
    def branch(self) -> str | None:
        """The checked-out branch, or None when HEAD is detached."""
        return None if self.repo.head.is_detached else self.repo.head.reference.name


def open_tree_repo(root: str) -> TreeRepo:
    """The repository holding the kernel tree at root, or a one-line refusal."""
    if not os.path.isdir(root):
        raise MigratorError(f"{root}: no such directory")
    repo = find_repo(root)
    if repo is None:
        raise MigratorError(f"{root}: not a git repository (a patch series needs one)")
    if repo.bare or repo.working_tree_dir is None:
        raise MigratorError(f"{root}: a bare repository has no tree to rewrite")
    try:
        head = repo.head.commit
    except ValueError:
        raise MigratorError(f"{root}: the repository has no commit yet to base a series on") from None
    top = os.path.realpath(repo.working_tree_dir)
    real = os.path.realpath(root)
    rel = os.path.relpath(real, top)
    prefix = "" if rel == "." else rel.replace(os.sep, "/") + "/"
    return TreeRepo(repo, top, real, prefix, head)


_IDENT_RE = re.compile(r"^\s*([^<>]*?)\s*<([^<>\s]+@[^<>\s]+|[^<>\s]+)>\s*$")


def parse_identity(text: str) -> tuple[str, str]:
    """'Name <mail>' as (name, mail), or a one-line refusal."""
    m = _IDENT_RE.match(text)
    if m is None or not m.group(1):
        raise MigratorError(f"--signoff {text!r}: expected 'Name <mail>'")
    return m.group(1), m.group(2)


def identity(tr: TreeRepo, signoff: str | None = None) -> tuple[str, str]:
    """Who signs the patches: --signoff, else user.name and user.email of git config."""
    if signoff:
        return parse_identity(signoff)
    reader = tr.repo.config_reader()
    name = reader.get_value("user", "name", default="")
    mail = reader.get_value("user", "email", default="")
    if not name or not mail:
        raise MigratorError("no identity to sign the patches: set git config user.name and "
                            "user.email, or pass --signoff 'Name <mail>'")
    return str(name), str(mail)


def git_date(text: str) -> str:
    """A date as git's internal 'EPOCH +HHMM': ISO 8601, or '@EPOCH [+HHMM]'."""
    import datetime

    raw = text.strip()
    m = re.fullmatch(r"@?(\d+)(?:\s+([+-])(\d\d):?(\d\d))?", raw)
    if m:
        sign, hh, mm = m.group(2) or "+", m.group(3) or "00", m.group(4) or "00"
        return f"{int(m.group(1))} {sign}{hh}{mm}"
    try:
        when = datetime.datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise MigratorError(f"--date {text!r}: expected ISO 8601 (2023-04-24T12:00:00+02:00) "
                            "or @EPOCH") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.timezone.utc)
    offset = int(when.utcoffset().total_seconds()) // 60
    sign = "+" if offset >= 0 else "-"
    return f"{int(when.timestamp())} {sign}{abs(offset) // 60:02d}{abs(offset) % 60:02d}"


def commit_date(commit: git.Commit) -> str:
    """A commit's committer date in git's internal format."""
    offset = -commit.committer_tz_offset // 60  # gitpython counts seconds west of UTC
    sign = "+" if offset >= 0 else "-"
    return f"{commit.committed_date} {sign}{abs(offset) // 60:02d}{abs(offset) % 60:02d}"


def later(date: str, seconds: int) -> str:
    epoch, zone = date.split()
    return f"{int(epoch) + seconds} {zone}"


def head_versions(path: str, also: Iterable[str] = ()) -> tuple[str, list[str]]:
    """HEAD's version of the files under path that the work tree changed (and of `also`).

    They are written to a new temporary directory, in the layout below path;
    returns that directory and the relative paths written.  A file HEAD does
    not have (a new one) has nothing to compare with and is left out.
    """
    import tempfile

    repo = find_repo(path)
    if repo is None:
        raise MigratorError(f"{path}: not in a git repository; pass --original DIR")
    top = os.path.realpath(repo.working_tree_dir)
    here = os.path.relpath(os.path.realpath(path), top)
    prefix = "" if here == "." else here + "/"
    try:
        names = repo.git.diff("--name-only", "HEAD", "--", path).splitlines()
    except git.GitCommandError as e:
        raise MigratorError(f"git diff failed: {(e.stderr or str(e)).strip().splitlines()[0]}") from None
    temp = tempfile.mkdtemp(prefix="migrator-original-")
    written = []
    for name in sorted(set(names) | {prefix + a for a in also}):
        if not name.startswith(prefix):
            continue
        try:
            data = repo.git.show(f"HEAD:{name}", stdout_as_string=False)
        except git.GitCommandError:
            continue
        rel = name[len(prefix):]
        os.makedirs(os.path.dirname(os.path.join(temp, rel)) or temp, exist_ok=True)
        with open(os.path.join(temp, rel), "wb") as f:
            f.write(data)
        written.append(rel)
    return temp, written
