"""Scan a whole tree: every occurrence of the old layouts, decided by the rules."""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass
from typing import Mapping, Sequence

from ..errors import MigratorError
from ..parse import candidate_paths, read_source
from ..profile import KERNEL, Profile
from ..target import type_names
from .engine import UNDECIDED, FileMatches, Finding, match_file
from .uses import find_occurrences
from .rules import Rule, RuleBook, load_areas
from .uses import UNREAD_KINDS


@dataclass(frozen=True)
class FileScan:
    """One file's result; `error` says why a file could not be scanned."""

    path: str
    findings: tuple[Finding, ...] = ()
    result: FileMatches | None = None
    error: str | None = None

    @property
    def sites(self) -> int:
        return sum(1 for f in self.findings if f.occurrence.is_site)


@dataclass(frozen=True)
class TreeScan:
    root: str
    files: tuple[FileScan, ...]
    profile: Profile = KERNEL

    @property
    def findings(self) -> list[Finding]:
        return [f for fs in self.files for f in fs.findings]

    @property
    def skipped(self) -> list[FileScan]:
        return [fs for fs in self.files if fs.error is not None]

    @property
    def unread(self) -> list[Finding]:
        """Sites the parser could not read: listed, and a failure a script must see."""
        return [f for f in self.findings if f.occurrence.kind in UNREAD_KINDS]

    def kind_counts(self) -> Counter:
        return Counter(f.occurrence.kind for f in self.findings)

    def decision_counts(self) -> Counter:
        """How the sites are decided: rewrite, report or undecided."""
        return Counter(f.severity for f in self.findings if f.occurrence.is_site)


def scan_file(root: str, path: str, rules: Sequence[Rule], names: Mapping[str, str],
              profile: Profile = KERNEL) -> FileScan:
    try:
        src = read_source(root, path)
    except MigratorError as e:
        return FileScan(path, error=str(e).split(": ", 1)[-1])
    try:
        result = match_file(src, rules, names, out_of_tree=profile.out_of_tree)
    except MigratorError as e:
        # Skipped, but its sites still count: as left, with the reason.
        found = tuple(Finding(o, None, UNDECIDED if o.is_site else None, f"file skipped: {e}")
                      for o in find_occurrences(src))
        return FileScan(path, found, error=str(e))
    return FileScan(path, result.findings, result)


def as_book(rules: Sequence[Rule] | RuleBook, areas=None) -> RuleBook:
    """A rule book; plain rules become its default, with the shipped areas."""
    if isinstance(rules, RuleBook):
        return rules
    return RuleBook(tuple(rules), load_areas() if areas is None else tuple(areas))


def scan_tree(
    root: str,
    rules: Sequence[Rule] | RuleBook,
    names: Mapping[str, str] | None = None,
    jobs: int | None = None,
    profile: Profile = KERNEL,
) -> TreeScan:
    """Scan every candidate file below root (a directory), each with its area's rules."""
    names = names or type_names()
    book = as_book(rules)
    files = []
    for path, unreadable in candidate_paths(root, jobs):
        if unreadable is not None:
            files.append(FileScan(path, error=unreadable))
            continue
        fs = scan_file(root, path, book.for_path(path), names, profile)
        if fs.findings or fs.error:
            files.append(fs)
    return TreeScan(os.path.abspath(root), tuple(files), profile)


__all__ = ["FileScan", "TreeScan", "scan_file", "scan_tree", "UNDECIDED"]
