"""migrator: moves Linux C code from an old kernel API to a new one, as a migration pack describes.

The engine's front door, for scripts and other tools; it never prints.

    import migrator
    m = migrator.load_migration("module-memory")
    found = migrator.scan("/src/linux", m)        # every occurrence, decided by the rules
    plan = migrator.plan("/src/linux", m)         # every file's result, nothing written
    migrator.apply(plan)                          # write the changed files, all or none

The mode (a kernel tree rewritten in place, or code outside the tree behind
a guard) is detected from the tree, as the command line does; pass
mode="kernel" or mode="out-of-tree" to choose it.
"""

from __future__ import annotations

import os

from .errors import MigratorError
from .match.engine import Decision, Finding
from .match.scan import FileScan, TreeScan, scan_tree
from .match.uses import Occurrence
from .migration import DEFAULT_MIGRATION, Migration, load_migration
from .profile import Profile, profile_for
from .rewrite.plan import FileChange, FileOutcome, FileResult, RewritePlan, load_pack, plan_rewrite, target_names
from .vocabulary import OccurrenceKind

__all__ = [
    "load_migration", "scan", "plan", "apply",
    "Migration", "MigratorError", "Profile",
    "TreeScan", "FileScan", "Finding", "Decision", "Occurrence", "OccurrenceKind",
    "RewritePlan", "FileResult", "FileOutcome", "FileChange",
]

Pack = Migration | str | os.PathLike


def _setup(root, migration: Pack, mode: str | None, guard: str):
    m = migration if isinstance(migration, Migration) else load_migration(migration)
    root = os.fspath(root)
    if not os.path.isdir(root):
        raise MigratorError(f"{root}: {'not a directory' if os.path.exists(root) else 'no such file or directory'}")
    profile, _ = profile_for(root, m, mode, guard)
    return m, root, profile


def scan(root: str | os.PathLike, migration: Pack = DEFAULT_MIGRATION, *, mode: str | None = None,
         guard: str = "both", names: str = "short", jobs: int | None = None) -> TreeScan:
    """Every occurrence of the migration's old API below root, each decided by its rules.

    A file that cannot be read or matched is a FileScan with its error;
    nothing raises but a bad root or a bad pack (MigratorError).
    """
    m, root, profile = _setup(root, migration, mode, guard)
    book, regions = load_pack(m, profile=profile)
    return scan_tree(root, book, target_names(root, names, m.vocabulary.new), jobs,
                     vocabulary=m.vocabulary, profile=profile, regions=regions)


def plan(root: str | os.PathLike, migration: Pack = DEFAULT_MIGRATION, *, mode: str | None = None,
         guard: str = "both", names: str = "short", jobs: int | None = None) -> RewritePlan:
    """The rewrite of the tree at root, nothing written: a FileResult per file in `files`.

    `names` is the spelling style of the new API's constants (the pack's
    vocabulary lists them).  One file's failure is its result; the others go on.
    """
    m, root, profile = _setup(root, migration, mode, guard)
    book, regions = load_pack(m, profile=profile)
    return plan_rewrite(root, book, regions, names, jobs, vocabulary=m.vocabulary, profile=profile)


def apply(plan: RewritePlan, *, allow_unread: bool = False) -> tuple[FileChange, ...]:
    """Write the plan's changed files, all or none, under the tree's lock.

    A MigratorError (a part of the tree was not read, unless allow_unread; a
    file changed since it was planned, another run holds the lock, a write
    failed) leaves the tree as it was.
    """
    from .rewrite.write import tree_lock, write_changes

    refusal = plan.unread_refusal()
    if refusal is not None and not allow_unread:
        raise MigratorError(refusal)
    with tree_lock(plan.root):
        write_changes(plan.root, plan.changes)
    return plan.changes
