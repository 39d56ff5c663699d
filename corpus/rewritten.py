#!/usr/bin/env python3
"""Keep a rewritten copy of the fetched Linux tree whose unchanged files keep their times.

    python3 corpus/rewritten.py        # prints the path of the rewritten tree

`migrator boot` builds a kernel out of a tree into a build folder it keeps,
so that a second check is fast; that only works if the tree stays where it
is and a file's time changes only when its text does.  This script makes a
hard-linked copy of corpus/fetch.py's tree (`cp -al`), runs
`migrator rewrite` on it, and then brings $MIGRATOR_CACHE/linux-rewritten-6.1
up to date file by file: a file whose rewritten text differs is replaced, a
file the rewrite no longer touches goes back to a hard link of the original,
every other file is left alone.  migrator replaces files and never writes
into them, so the fetched tree stays pristine.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fetch import cache_dir, fetch  # noqa: E402

NAME = "linux-rewritten-6.1"


def _own_files(tree: Path, pristine: Path) -> set[str]:
    """Files of ``tree`` that are not hard links of the pristine tree's."""
    own = set()
    for folder, _dirs, files in os.walk(tree):
        for name in files:
            path = Path(folder) / name
            rel = path.relative_to(tree)
            original = pristine / rel
            try:
                if not original.exists() or not os.path.samestat(path.lstat(), original.lstat()):
                    own.add(str(rel))
            except OSError:
                own.add(str(rel))
    return own


def rewritten_tree() -> Path:
    pristine = fetch()
    dest = cache_dir() / NAME
    work = Path(tempfile.mkdtemp(prefix=".rewrite-", dir=cache_dir()))
    try:
        fresh = work / "linux"
        subprocess.run(["cp", "-al", str(pristine), str(fresh)], check=True)
        done = subprocess.run([sys.executable, "-m", "migrator", "rewrite", str(fresh)],
                              capture_output=True, text=True)
        if done.returncode != 0:
            raise SystemExit(f"rewritten: migrator rewrite failed: {done.stderr.strip()}")
        if not dest.exists():
            fresh.rename(dest)
            return dest
        for rel in sorted(_own_files(fresh, pristine) | _own_files(dest, pristine)):
            new, old = fresh / rel, dest / rel
            if new.exists() and old.exists() and new.read_bytes() == old.read_bytes():
                continue
            if old.exists():
                old.unlink()
            if new.exists():
                old.parent.mkdir(parents=True, exist_ok=True)
                os.link(new, old)
        return dest
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    print(rewritten_tree())
