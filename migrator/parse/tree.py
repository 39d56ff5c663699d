"""Which files of a tree can hold a use of the old API.

A whole kernel tree is 1.5 GB; parsing it all would take minutes.  A byte
search for the migration's prefilter (its vocabulary's) finds the few dozen
files worth parsing, and is spread over all cores because reading is most
of the cost.
"""

from __future__ import annotations

import os
import re
import stat
from concurrent.futures import ProcessPoolExecutor

from ..errors import MigratorError
from .source import file_type, is_c_path, is_python_path, read_regular
from .views import is_stp_path

_SPLICE_BEFORE_LETTER_RE = re.compile(rb"\\\r?\n[A-Za-z_]")

# Folders that never hold sources of the tree itself.
_SKIP_DIRS = {".git", ".pc", ".hg", ".svn", "__pycache__"}


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def _wanted(name: str) -> bool:
    return is_c_path(name) or is_python_path(name) or is_stp_path(name)


def source_paths(root: str) -> tuple[list[str], list[tuple[str, str]]]:
    """C, Python and systemtap files below root, relative to it, in a stable order, and what was not read.

    Nothing is skipped silently: a directory that cannot be listed, a source
    name that is not a regular file (a FIFO named foo.c would hang a read),
    a dangling link, and a link leading out of the tree are returned as
    (path, reason).  A link whose target lies inside the tree stands for its
    target, which is scanned (and rewritten) under its own path, so the link
    stays a link; a link to a directory inside the tree is not followed
    because the directory is walked where it is.
    """
    real_root = os.path.realpath(root)
    files: list[str] = []
    problems: list[tuple[str, str]] = []
    seen: set[str] = set()

    def add(path: str) -> None:
        if path not in seen:
            seen.add(path)
            files.append(path)

    stack = [""]
    while stack:
        rel = stack.pop()
        try:
            with os.scandir(os.path.join(root, rel) if rel else root) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as e:
            problems.append((rel or ".", f"cannot read directory: {e.strerror}"))
            continue
        subdirs = []
        for entry in entries:
            name = entry.name
            try:
                if entry.is_dir(follow_symlinks=False):
                    if name not in _SKIP_DIRS:
                        subdirs.append(os.path.join(rel, name) if rel else name)
                elif entry.is_symlink():
                    _follow_link(root, real_root, os.path.join(rel, name) if rel else name, add, problems)
                elif _wanted(name):
                    path = os.path.join(rel, name) if rel else name
                    if entry.is_file(follow_symlinks=False):
                        add(path)
                    else:
                        mode = entry.stat(follow_symlinks=False).st_mode
                        problems.append((path, f"{file_type(mode)}, not a regular file"))
            except OSError as e:
                problems.append((os.path.join(rel, name), f"cannot read: {e.strerror}"))
        stack.extend(reversed(subdirs))
    return files, problems


def _follow_link(root: str, real_root: str, path: str, add, problems: list) -> None:
    target = os.path.realpath(os.path.join(root, path))
    try:
        st = os.stat(target)
    except OSError as e:
        if _wanted(path):
            problems.append((path, f"cannot read: {e.strerror}"))
        return
    if stat.S_ISDIR(st.st_mode):
        if not _inside(target, real_root):
            problems.append((path, "a link to a directory outside the tree: not followed"))
        return
    if not (_wanted(path) or _wanted(target)):
        return
    if not _inside(target, real_root):
        problems.append((path, "a link to a file outside the tree: not read, not rewritten"))
    elif not stat.S_ISREG(st.st_mode):
        problems.append((path, f"a link to {file_type(st.st_mode)}, not a regular file"))
    else:
        add(os.path.relpath(target, real_root))


def holds_name(data: bytes, prefilter: re.Pattern[bytes], needle: bytes) -> bool:
    """Whether the bytes hold a hit of `prefilter`, also split by a backslash-newline.

    `needle`, a plain substring of every hit, is tested first: it runs at
    memory speed, and the regex only on the files that hold it.
    """
    if needle in data and prefilter.search(data):
        return True
    # A name split by a backslash-newline has a letter right after the newline; kernel
    # continuation lines start with blanks, so this regex (a literal first) rarely hits.
    if _SPLICE_BEFORE_LETTER_RE.search(data):
        joined = data.replace(b"\\\r\n", b"").replace(b"\\\n", b"")
        return needle in joined and prefilter.search(joined) is not None
    return False


def _holding(root: str, paths: list[str], prefilter: bytes, needle: bytes) -> list[tuple[str, str | None]]:
    """(path, None) for files holding a prefilter hit, (path, reason) for unreadable ones."""
    pattern = re.compile(prefilter)
    found = []
    for path in paths:
        try:
            data = read_regular(os.path.join(root, path), follow_links=False)
            if holds_name(data, pattern, needle):
                found.append((path, None))
        except OSError as e:
            found.append((path, f"cannot read: {e.strerror or e}"))
    return found


def candidate_paths(root: str, prefilter: bytes, needle: bytes = b"",
                    jobs: int | None = None) -> list[tuple[str, str | None]]:
    """Files below root holding the byte regex `prefilter`, with a reason for unreadable ones.

    `needle`, a plain substring of every hit, is tested first: it runs at
    memory speed, and the regex only on the files that hold it.

    An unreadable file or directory is returned with its reason rather than
    raised: one bad file must not stop a tree-wide run, nor go unmentioned.
    """
    if not os.path.exists(root):
        raise MigratorError(f"{root}: no such file or directory")
    if not os.path.isdir(root):
        raise MigratorError(f"{root}: not a directory")
    paths, problems = source_paths(root)
    jobs = jobs or os.cpu_count() or 1
    if jobs == 1 or len(paths) < 2000:
        return sorted(_holding(root, paths, prefilter, needle) + problems)
    # Interleaved chunks keep both workers busy: big drivers cluster by folder.
    chunks = [paths[i::jobs * 8] for i in range(jobs * 8)]
    found: list[tuple[str, str | None]] = []
    with ProcessPoolExecutor(jobs) as pool:
        for part in pool.map(_holding, [root] * len(chunks), chunks,
                             [prefilter] * len(chunks), [needle] * len(chunks)):
            found.extend(part)
    return sorted(found + problems)
