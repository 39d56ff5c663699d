"""Which files of a tree can hold a use of the old API.

A whole kernel tree is 1.5 GB; parsing it all would take minutes.  A byte
search for the migration's prefilter (its vocabulary's) finds the few dozen
files worth parsing, and is spread over all cores because reading is most
of the cost.
"""

from __future__ import annotations

import os
import re
from concurrent.futures import ProcessPoolExecutor
from typing import Iterator

from ..errors import MigratorError
from .source import is_c_path, is_python_path
from .views import is_stp_path

# Folders that never hold sources of the tree itself.
_SKIP_DIRS = {".git", ".pc", ".hg", ".svn", "__pycache__"}


def source_paths(root: str) -> Iterator[str]:
    """C, Python and systemtap files below root, relative to it, in a stable order."""
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in _SKIP_DIRS)
        rel = os.path.relpath(dirpath, root)
        for name in sorted(filenames):
            if is_c_path(name) or is_python_path(name) or is_stp_path(name):
                yield name if rel == "." else os.path.join(rel, name)


def _holds_old_names(root: str, paths: list[str], prefilter: bytes, needle: bytes) -> list[tuple[str, str | None]]:
    """(path, None) for files holding a name, (path, reason) for unreadable ones."""
    found = []
    for path in paths:
        try:
            with open(os.path.join(root, path), "rb") as f:
                data = f.read()
            # The substring test runs at memory speed; the regex only on hits.
            if needle in data and re.search(prefilter, data):
                found.append((path, None))
        except OSError as e:
            found.append((path, e.strerror or str(e)))
    return found


def candidate_paths(root: str, prefilter: bytes, needle: bytes = b"",
                    jobs: int | None = None) -> list[tuple[str, str | None]]:
    """Files below root holding the byte regex `prefilter`, with a reason for unreadable ones.

    `needle`, a plain substring of every hit, is tested first: it runs at
    memory speed, and the regex only on the files that hold it.

    An unreadable file is returned with its reason rather than raised: one bad
    file must not stop a tree-wide run.
    """
    if not os.path.exists(root):
        raise MigratorError(f"{root}: no such file or directory")
    if not os.path.isdir(root):
        raise MigratorError(f"{root}: not a directory")
    paths = list(source_paths(root))
    jobs = jobs or os.cpu_count() or 1
    if jobs == 1 or len(paths) < 2000:
        return _holds_old_names(root, paths, prefilter, needle)
    # Interleaved chunks keep both workers busy: big drivers cluster by folder.
    chunks = [paths[i::jobs * 8] for i in range(jobs * 8)]
    found: list[tuple[str, str | None]] = []
    with ProcessPoolExecutor(jobs) as pool:
        for part in pool.map(_holds_old_names, [root] * len(chunks), chunks,
                             [prefilter] * len(chunks), [needle] * len(chunks)):
            found.extend(part)
    return sorted(found)
