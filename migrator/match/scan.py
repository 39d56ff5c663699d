"""Scan a whole tree: every occurrence of the old API, decided by the rules."""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass
from typing import Mapping, Sequence

from ..errors import MigratorError
from ..parse import candidate_paths, read_source
from ..migration import DEFAULT_MIGRATION, load_migration
from ..profile import KERNEL, Profile
from ..vocabulary import Vocabulary
from .engine import UNDECIDED, FileMatches, Finding, match_file
from .rules import Rule, RuleBook, load_areas


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

    def kind_counts(self) -> Counter:
        return Counter(f.occurrence.kind for f in self.findings)

    def decision_counts(self) -> Counter:
        """How the sites are decided: rewrite, report or undecided."""
        return Counter(f.severity for f in self.findings if f.occurrence.is_site)


def scan_file(root: str, path: str, rules: Sequence[Rule], names: Mapping[str, str],
              vocabulary: Vocabulary | None = None, profile: Profile = KERNEL) -> FileScan:
    try:
        src = read_source(root, path)
    except MigratorError as e:
        return FileScan(path, error=str(e).split(": ", 1)[-1])
    try:
        result = match_file(src, rules, names, vocabulary=vocabulary, out_of_tree=profile.out_of_tree)
    except MigratorError as e:
        return FileScan(path, error=str(e))
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
    vocabulary: Vocabulary | None = None,
    profile: Profile = KERNEL,
) -> TreeScan:
    """Scan every candidate file below root (a directory), each with its area's rules.

    `vocabulary` (what an occurrence looks like) defaults to the default migration's.
    """
    vocabulary = vocabulary or load_migration(DEFAULT_MIGRATION).vocabulary
    names = names or vocabulary.new.type_names()
    book = as_book(rules)
    files = []
    for path, unreadable in candidate_paths(root, vocabulary.old.prefilter, vocabulary.old.needle, jobs):
        if unreadable is not None:
            files.append(FileScan(path, error=f"cannot read: {unreadable}"))
            continue
        fs = scan_file(root, path, book.for_path(path), names, vocabulary, profile)
        if fs.findings or fs.error:
            files.append(fs)
    return TreeScan(os.path.abspath(root), tuple(files), profile)


__all__ = ["FileScan", "TreeScan", "scan_file", "scan_tree", "UNDECIDED"]
