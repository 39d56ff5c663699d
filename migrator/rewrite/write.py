"""Write a plan to disk atomically, or show it as a diff.

All new files are first written beside their originals; only when every
one is on disk are they renamed over the originals.  If anything fails,
every file already replaced gets its old bytes back, so a failed rewrite
leaves the tree as it was.
"""

from __future__ import annotations

import difflib
import os
from typing import Sequence

from ..errors import MigratorError
from .plan import FileChange

_TMP_SUFFIX = ".migrator-new"


def unified_diff(changes: Sequence[FileChange]) -> bytes:
    """A git-style diff (diff --git a/... b/...) of the changes, as bytes."""
    out = []
    for c in changes:
        out.append(f"diff --git a/{c.path} b/{c.path}\n".encode())
        out.extend(difflib.diff_bytes(
            difflib.unified_diff,
            c.old.splitlines(keepends=True), c.new.splitlines(keepends=True),
            f"a/{c.path}".encode(), f"b/{c.path}".encode(), n=3,
        ))
    return b"".join(line if line.endswith(b"\n") else line + b"\n\\ No newline at end of file\n"
                    for line in out)


def write_changes(root: str, changes: Sequence[FileChange]) -> None:
    """Replace each file's bytes by the plan's, all or none."""
    temps: list[tuple[str, str]] = []
    replaced: list[FileChange] = []
    try:
        for c in changes:
            path = os.path.join(root, c.path)
            with open(path, "rb") as f:
                if f.read() != c.old:
                    raise MigratorError(f"{c.path}: changed on disk since it was read; nothing written")
            tmp = path + _TMP_SUFFIX
            with open(tmp, "wb") as f:
                f.write(c.new)
                f.flush()
                os.fsync(f.fileno())
            os.chmod(tmp, os.stat(path).st_mode & 0o7777)
            temps.append((tmp, path))
        for (tmp, path), c in zip(temps, changes):
            os.replace(tmp, path)
            replaced.append(c)
    except OSError as e:
        _restore(root, replaced)
        raise MigratorError(f"cannot write {e.filename or root}: {e.strerror}; the tree is as it was") from None
    except MigratorError:
        _restore(root, replaced)
        raise
    finally:
        for tmp, _ in temps:
            if os.path.exists(tmp):
                os.unlink(tmp)


def _restore(root: str, replaced: Sequence[FileChange]) -> None:
    for c in replaced:
        with open(os.path.join(root, c.path), "wb") as f:
            f.write(c.old)
