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
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Iterator

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
    return _walk(root, "", descend=True)


def _walk(root: str, start: str, descend: bool) -> tuple[list[str], list[tuple[str, str]]]:
    """source_paths() of the folder start (relative to root): all below it, or only its own entries."""
    real_root = os.path.realpath(root)
    files: list[str] = []
    problems: list[tuple[str, str]] = []
    seen: set[str] = set()

    def add(path: str) -> None:
        if path not in seen:
            seen.add(path)
            files.append(path)

    stack = [start]
    while stack:
        rel = stack.pop()
        try:
            with os.scandir(os.path.join(root, rel) if rel else root) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as e:
            problems.append((rel or ".", f"cannot read directory: {e.strerror}"))
            continue
        subdirs = []
        prefix = rel + os.sep if rel else ""  # joined by hand: 55,000 os.path.join calls cost 0.3 s
        for entry in entries:
            name = entry.name
            try:
                if entry.is_dir(follow_symlinks=False):
                    if name not in _SKIP_DIRS:
                        subdirs.append(prefix + name)
                elif entry.is_symlink():
                    _follow_link(root, real_root, prefix + name, add, problems)
                elif _wanted(name):
                    path = prefix + name
                    if entry.is_file(follow_symlinks=False):
                        add(path)
                    else:
                        mode = entry.stat(follow_symlinks=False).st_mode
                        problems.append((path, f"{file_type(mode)}, not a regular file"))
            except OSError as e:
                problems.append((prefix + name, f"cannot read: {e.strerror}"))
        if descend:
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
    base = os.path.join(root, "")
    found = []
    for path in paths:
        try:
            data = read_regular(base + path, follow_links=False)
            if holds_name(data, pattern, needle):
                found.append((path, None))
        except OSError as e:
            found.append((path, f"cannot read: {e.strerror or e}"))
    return found


def _search(root: str, start: str, descend: bool, prefilter: bytes,
            needle: bytes) -> list[tuple[str, str | None]]:
    """One worker's share: walk a part of the tree and keep what holds a prefilter hit."""
    paths, problems = _walk(root, start, descend)
    return _holding(root, paths, prefilter, needle) + problems


# Below this many parts a tree is small: searched in this process, no workers.
_PARTS_FOR_WORKERS = 8


def _parts(root: str) -> list[tuple[str, bool]]:
    """The tree cut for the workers: (folder, walk below it too).

    The top two levels are each their own part (their own entries only), and
    every folder below them is a part with everything under it; the workers
    take parts as they finish, so a few big folders do not leave one idle.
    """
    parts: list[tuple[str, bool]] = []
    level = [""]
    for _ in range(2):
        below = []
        for folder in level:
            parts.append((folder, False))
            try:
                with os.scandir(os.path.join(root, folder) if folder else root) as it:
                    names = sorted(e.name for e in it if e.is_dir(follow_symlinks=False) and e.name not in _SKIP_DIRS)
            except OSError:
                continue  # the part's own walk reports it
            below += [os.path.join(folder, n) if folder else n for n in names]
        level = below
    return parts + [(folder, True) for folder in level]


class CandidateSearch:
    """The files below root holding the byte regex `prefilter`, searched by
    worker processes while the caller goes on (loading rules, say).

    `needle`, a plain substring of every hit, is tested first: it runs at
    memory speed, and the regex only on the files that hold it.  An
    unreadable file or directory is listed with its reason rather than
    raised: one bad file must not stop a tree-wide run, nor go unmentioned.
    Use it as a context manager, or call close(), so that the workers stop
    when the caller gives up early.
    """

    def __init__(self, root: str, prefilter: bytes, needle: bytes = b"", jobs: int | None = None):
        if not os.path.exists(root):
            raise MigratorError(f"{root}: no such file or directory")
        if not os.path.isdir(root):
            raise MigratorError(f"{root}: not a directory")
        jobs = jobs or os.cpu_count() or 1
        parts = _parts(root) if jobs > 1 else []
        self._pool = None
        self._found: list[tuple[str, str | None]] | None = None
        if len(parts) < _PARTS_FOR_WORKERS:
            self._found = _search(root, "", True, prefilter, needle)
            return
        self._pool = ProcessPoolExecutor(jobs)
        self._futures = [self._pool.submit(_search, root, folder, descend, prefilter, needle)
                         for folder, descend in parts]

    def result(self) -> list[tuple[str, str | None]]:
        """(path, None) per file holding a hit, (path, reason) per unreadable one; sorted."""
        if self._found is None:
            self._found = list(self.as_found())
        return sorted(set(self._found))  # a link's target may be reached from two parts

    def as_found(self) -> Iterator[tuple[str, str | None]]:
        """result()'s items, each as soon as the part of the tree holding it is
        searched, in no set order: the caller can work on the first files while
        the workers search the rest."""
        if self._found is not None:
            yield from self.result()
            return
        seen = set()
        for future in as_completed(self._futures):
            for item in future.result():
                if item not in seen:  # a link's target may be reached from two parts
                    seen.add(item)
                    yield item
        self.close()
        self._found = list(seen)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    def __enter__(self) -> "CandidateSearch":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def candidate_paths(root: str, prefilter: bytes, needle: bytes = b"",
                    jobs: int | None = None) -> list[tuple[str, str | None]]:
    """Files below root holding the byte regex `prefilter`, with a reason for unreadable ones
    (see CandidateSearch)."""
    with CandidateSearch(root, prefilter, needle, jobs) as search:
        return search.result()
