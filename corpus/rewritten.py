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

    python3 corpus/rewritten.py --out-of-tree   # prints the rewritten scenario folders

rewrites a copy of each corpus/out-of-tree/ scenario with migrator (its
out-of-tree mode) into $MIGRATOR_CACHE/out-of-tree-rewritten/: the modules
`migrator boot --modules` loads into the rewritten tree, a kernel with the
new API under the old version number, as vendor kernels with the change
backported are.
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
OUT_OF_TREE = Path(__file__).resolve().parent / "out-of-tree"
OUT_OF_TREE_NAME = "out-of-tree-rewritten"
# What kbuild leaves in a module folder, and the scenario's description: not copied.
_NOT_SOURCE = ("*.o", "*.ko", "*.mod", "*.mod.c", ".*.cmd", "Module.symvers", "modules.order", "case.toml")


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


def rewritten_out_of_tree(dest: Path | None = None) -> list[Path]:
    """Each out-of-tree scenario, copied into dest (default: the cache's) and rewritten
    by migrator; the folders."""
    dest = dest or cache_dir() / OUT_OF_TREE_NAME
    shutil.rmtree(dest, ignore_errors=True)
    folders = []
    for case in sorted(OUT_OF_TREE.glob("*/case.toml")):
        copy = dest / case.parent.name
        shutil.copytree(case.parent, copy, ignore=shutil.ignore_patterns(*_NOT_SOURCE))
        done = subprocess.run([sys.executable, "-m", "migrator", "rewrite", str(copy)],
                              capture_output=True, text=True, cwd=OUT_OF_TREE.parent.parent)
        if done.returncode != 0:
            raise SystemExit(f"rewritten: migrator rewrite {copy} failed: {done.stderr.strip()}")
        folders.append(copy)
    return folders


if __name__ == "__main__":
    if sys.argv[1:] == ["--out-of-tree"]:
        print("\n".join(str(folder) for folder in rewritten_out_of_tree()))
    elif sys.argv[1:]:
        raise SystemExit("usage: corpus/rewritten.py [--out-of-tree]")
    else:
        print(rewritten_tree())
