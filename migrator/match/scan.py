"""Scan a whole tree: every occurrence of the old API, decided by the rules."""

from __future__ import annotations

import dataclasses
import os
from collections import Counter
from dataclasses import dataclass
from typing import Mapping, Sequence

import tree_sitter

from ..errors import MigratorError
from ..parse import CandidateSearch, candidate_paths, is_c_path, parse_c, read_source
from ..migration import DEFAULT_MIGRATION, load_migration
from ..profile import KERNEL, Profile
from ..vocabulary import Vocabulary
from .engine import UNDECIDED, Decision, FileMatches, Finding, Match, match_file
from .uses import find_occurrences
from .regions import RegionResult, RegionRule, match_regions, owner_of
from .rules import Rule, RuleBook, load_areas
from .uses import UNREAD_KINDS


@dataclass(frozen=True)
class FileScan:
    """One file's result; `error` says why a file could not be scanned."""

    path: str
    findings: tuple[Finding, ...] = ()
    result: FileMatches | None = None
    error: str | None = None
    regions: tuple[RegionResult, ...] = ()  # the results of the region rules of this file
    # The bytes matched and their parse, kept for the rewrite (scan_tree's keep_parses)
    # so that a big file is not parsed a second time.
    parsed: tuple[bytes, tree_sitter.Tree] | None = dataclasses.field(default=None, compare=False, repr=False)
    # False when its bytes were never read (a directory that cannot be listed, a FIFO, a
    # link out of the tree...): what it holds is unknown, unlike a file read and left.
    read: bool = True

    @property
    def sites(self) -> int:
        return sum(1 for f in self.findings if f.occurrence.is_site)


@dataclass(frozen=True)
class TreeScan:
    root: str
    files: tuple[FileScan, ...]
    profile: Profile = KERNEL
    guard_rules: frozenset[str] = frozenset()  # ids of the rules that decide existing guards

    @property
    def findings(self) -> list[Finding]:
        return [f for fs in self.files for f in fs.findings]

    @property
    def skipped(self) -> list[FileScan]:
        return [fs for fs in self.files if fs.error is not None]

    @property
    def not_read(self) -> list[FileScan]:
        """Directories and files whose bytes were never read: their uses, if any, are unknown."""
        return [fs for fs in self.files if not fs.read]

    @property
    def unread(self) -> list[Finding]:
        """Sites the parser could not read: listed, and a failure a script must see."""
        return [f for f in self.findings if f.occurrence.kind in UNREAD_KINDS]

    def guards(self) -> list[tuple[str, Match]]:
        """(path, match) of every existing conditional a rule that decides guards matched."""
        return [(fs.path, m) for fs in self.files if fs.result is not None
                for m in fs.result.matches if m.rule_id in self.guard_rules]

    def kind_counts(self) -> Counter:
        return Counter(f.occurrence.kind for f in self.findings)

    def decision_counts(self) -> Counter:
        """How the sites are decided: rewrite, report or undecided."""
        return Counter(f.severity for f in self.findings if f.occurrence.is_site)


def scan_file(root: str, path: str, rules: Sequence[Rule], names: Mapping[str, str],
              vocabulary: Vocabulary | None = None, profile: Profile = KERNEL,
              regions: Sequence[RegionRule] = ()) -> FileScan:
    """One file's findings; the sites inside a region a region rule replaces are that rule's."""
    try:
        src = read_source(root, path)
    except MigratorError as e:
        return FileScan(path, error=str(e).split(": ", 1)[-1], read=False)
    try:
        tree = parse_c(src.data) if is_c_path(path) and (regions or not profile.out_of_tree) else None
        result = match_file(src, rules, names, tree, vocabulary, out_of_tree=profile.out_of_tree)
        region_results = tuple(match_regions(r, src, tree, names) for r in regions)
    except MigratorError as e:
        return _skipped(src, str(e), vocabulary)
    except Exception as e:  # noqa: BLE001 - one odd file fails alone; the scan goes on
        return _skipped(src, f"{type(e).__name__}: {e}", vocabulary)
    return FileScan(path, owned_findings(result.findings, region_results), result, regions=region_results,
                    parsed=(src.data, tree) if tree is not None else None)


def _skipped(src, error: str, vocabulary: Vocabulary | None) -> FileScan:
    """A file no rule could run on: skipped, but its sites still count, as left, with the reason."""
    try:
        occurrences = find_occurrences(src, vocabulary=vocabulary)
    except Exception:  # noqa: BLE001 - the error already names the file's problem
        occurrences = []
    found = tuple(Finding(o, None, UNDECIDED if o.is_site else None, f"file skipped: {error}")
                  for o in occurrences)
    return FileScan(src.path, found, error=error)


def owned_findings(findings: Sequence[Finding], results: Sequence[RegionResult]) -> tuple[Finding, ...]:
    """The findings, with the occurrences inside a replaced region decided by its rule."""
    out = []
    for f in findings:
        o = f.occurrence
        rule = owner_of(results, o.name_start) if o.kind != "guarded" else None
        out.append(f if rule is None else Finding(o, rule.id, Decision.REWRITE, rule.summary))
    return tuple(out)


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
    *,
    vocabulary: Vocabulary | None = None,
    profile: Profile = KERNEL,
    regions: Sequence[RegionRule] = (),
    candidates: CandidateSearch | None = None,
    keep_parses: bool = False,
) -> TreeScan:
    """Scan every candidate file below root (a directory), each with its area's rules
    and the region rules written for it.

    `vocabulary` (what an occurrence looks like) defaults to the default
    migration's; `candidates` is a search for them already under way (started
    before the rules were loaded, so that the two overlap).  With keep_parses
    the files with matches keep their parse (FileScan.parsed) for the rewrite.
    """
    vocabulary = vocabulary or load_migration(DEFAULT_MIGRATION).vocabulary
    names = names or vocabulary.new.type_names()
    book = as_book(rules)
    if profile.out_of_tree:
        regions = ()  # they are written for the kernel's own files
    files = []
    # A search under way gives each file as its part of the tree is searched.
    found = (candidates.as_found() if candidates is not None
             else candidate_paths(root, vocabulary.old.prefilter, vocabulary.old.needle, jobs))
    for path, unreadable in found:
        if unreadable is not None:
            files.append(FileScan(path, error=unreadable, read=False))
            continue
        fs = scan_file(root, path, book.for_path(path), names, vocabulary, profile,
                       [r for r in regions if r.file == path])
        if fs.parsed is not None and not (keep_parses and fs.result is not None and fs.result.matches):
            fs = dataclasses.replace(fs, parsed=None)
        if fs.findings or fs.error:
            files.append(fs)
    files.sort(key=lambda fs: fs.path)
    return TreeScan(os.path.abspath(root), tuple(files), profile, book.guard_rule_ids())


__all__ = ["FileScan", "TreeScan", "owned_findings", "scan_file", "scan_tree", "UNDECIDED"]
