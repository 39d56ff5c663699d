"""Plan a rewrite of a whole tree: every file's new bytes, and what stays.

Nothing is written here.  A plan holds, per file, the old and new bytes,
the matches that were rewritten, the sites that were reported or left
undecided, and the region rules' results; files that cannot be rewritten safely
(their rewrite would add parse errors) are skipped with the reason.
"""

from __future__ import annotations

import bisect
import dataclasses
import enum
import itertools
import os
from collections import Counter
from dataclasses import dataclass
from typing import Mapping, Sequence

from ..errors import MigratorError
from ..match import Rule, match_file
from ..match.engine import Decision, Finding, Match
from ..match.rules import Area, RuleBook, migration_rule_book
from ..match.regions import RegionResult, RegionRule, RegionStatus, load_region_rules, match_regions
from ..match.scan import FileScan, TreeScan, as_book, owned_findings, scan_tree
from ..migration import DEFAULT_MIGRATION, Migration, load_migration
from ..parse import is_c_path, parse_c, read_source
from ..parse.source import looking_into, parent, remembered_parents, reparse_c
from ..parse.views import is_stp_path
from ..profile import KERNEL, Profile
from ..vocabulary import NewApi, Vocabulary
from .edits import Change, Edit, apply_edits, apply_edits_with_spans, changes_of, edits_for
from .emit import Held, emit_guarded
from .reflow import reflow, reflow_changes



@dataclass(frozen=True)
class FileChange:
    path: str
    old: bytes
    new: bytes
    rewritten: tuple[Match, ...]  # the rule matches whose edits were applied
    regions: tuple[str, ...]  # ids of the region rules applied to the file
    guarded: int = 0  # units emitted behind a dual-kernel guard (out-of-tree)
    # Where old and new differ, in order; every byte outside these is the same in both,
    # so a diff shows them without searching the whole file.  () when not known.
    changed: tuple[Change, ...] = ()


def staged_bytes(change: FileChange, rules: Sequence[Rule] | RuleBook, stage: str = "prepare") -> bytes:
    """The file with only the rewrites of rules of the given stage applied.

    Preparation rewrites use helpers that exist before the change as well, so
    a series can land them per architecture ahead of the flag-day patch; the
    flag-day patch then goes from these bytes to change.new.
    """
    stages = {r.id: r.stage for r in as_book(rules).all_rules()}
    picked = [m for m in change.rewritten if stages.get(m.rule_id) == stage]
    if not picked:
        return change.old
    edits = edits_for(change.old, picked)
    new, spans = apply_edits_with_spans(change.old, edits)
    return reflow(change.old, new, changes_of(edits, spans))


@dataclass(frozen=True)
class Skipped:
    path: str
    reason: str


class FileOutcome(enum.StrEnum):
    """What planning did to one file: a closed set the command line sums up."""

    CHANGED = "changed"
    UNCHANGED = "unchanged"  # nothing a rule rewrites, or every site left
    SKIPPED = "skipped"  # it could not be rewritten safely; the reason says why
    FAILED = "failed"  # an error stopped its planning; the others went on


@dataclass(frozen=True)
class FileResult:
    path: str
    outcome: FileOutcome
    reason: str = ""  # why it was skipped, or the error it failed with
    change: FileChange | None = None


@dataclass(frozen=True)
class RewritePlan:
    root: str
    names: Mapping[str, str]
    changes: tuple[FileChange, ...]
    scan: TreeScan
    regions: tuple[RegionResult, ...]  # every region rule's result on its file
    skipped: tuple[Skipped, ...]
    book: RuleBook = RuleBook(())
    held: tuple[Held, ...] = ()  # out-of-tree: tied uses left together, with the reason
    profile: Profile = KERNEL
    files: tuple[FileResult, ...] = ()  # one per file planned or skipped

    def outcome_counts(self) -> Counter:
        return Counter(f.outcome for f in self.files)

    @property
    def scope(self) -> tuple[Area, ...]:
        return self.book.areas

    @property
    def not_read(self) -> tuple[Skipped, ...]:
        """The directories and files that were never read (listed among the skipped).

        Their uses, if any, are unknown, so writing the rest could leave the
        tree half migrated (a header new, a loader old): a writing run
        refuses such a plan unless told otherwise.
        """
        return tuple(Skipped(fs.path, fs.error or "") for fs in self.scan.not_read)

    def unread_refusal(self) -> str | None:
        """Why the plan must not be written (one line), or None when every part was read."""
        if not self.not_read:
            return None
        n = len(self.not_read)
        parts = f"{n} part{'s' if n != 1 else ''} of the tree"
        return (f"nothing written: {parts} could not be read (first: {self.not_read[0].path}), "
                "and the rest alone could be half migrated")

    def left_reason(self, finding: Finding) -> str:
        """Why a site that was not rewritten stays."""
        path = finding.occurrence.path
        for h in self.held:
            if any(f.occurrence == finding.occurrence for f in h.findings):
                return h.reason
        area = self.book.area_of(path)
        if area is not None and area.rules is None:
            return area.why
        for sk in self.skipped:
            if sk.path == path:
                return sk.reason
        if finding.severity is Decision.REWRITE:
            return "shares an expression with a use that is left as it is"
        return finding.message

    def left(self) -> list[Finding]:
        """Sites not rewritten: reported by a rule, undecided, or in a skipped file."""
        done = {(c.path, m.start) for c in self.changes for m in c.rewritten}
        owned = {(r.rule.file, s, e) for r in self.regions for s, e in r.owned}
        matches = {fs.path: _Matches(fs.result.matches) for fs in self.scan.files if fs.result is not None}
        left = []
        for f in self.scan.findings:
            o = f.occurrence
            if not o.is_site:
                continue
            in_recipe = any(p == o.path and s <= o.name_start < e for p, s, e in owned)
            covering = matches[o.path].covering(o.name_start) if o.path in matches else None
            decided = covering is not None and (o.path, covering.start) in done
            if not (in_recipe or decided):
                left.append(f)
        return left

    def findings(self) -> list[Finding]:
        """The scan's findings: sites in a region a region rule replaces are decided by it."""
        return self.scan.findings

    def guards(self) -> list[tuple[str, Match, bool]]:
        """Existing conditionals a rule that decides guards matched: (path, match, rewritten)."""
        done = {(c.path, m.start) for c in self.changes for m in c.rewritten}
        return [(path, m, (path, m.start) in done) for path, m in self.scan.guards()]

    @property
    def sites_rewritten(self) -> int:
        return sum(1 for f in self.scan.findings if f.occurrence.is_site) - len(self.left())


class _Matches:
    """A file's matches (disjoint, in order), for finding the one covering an offset by bisection."""

    def __init__(self, matches: Sequence[Match]):
        self.matches = matches
        self.starts = [m.start for m in matches]

    def covering(self, at: int) -> Match | None:
        i = bisect.bisect_right(self.starts, at) - 1
        return self.matches[i] if i >= 0 and at < self.matches[i].end else None


def target_names(root: str, style: str, new: NewApi | None = None) -> Mapping[str, str]:
    """The tree's own names when its API header already defines the new enum; else the style's.

    `new` (the new API's names) defaults to the default migration's.
    """
    new = new or load_migration(DEFAULT_MIGRATION).vocabulary.new
    if new.api_header is None:
        return new.type_names(style)
    try:
        header = read_source(root, new.api_header).data
    except MigratorError:
        return new.type_names(style)
    return new.names_defined_in(header) or new.type_names(style)


def _uses_statement_macro(text: bytes, macros: Sequence[str]) -> bool:
    return any(m.encode() + b"(" in text for m in macros)


def _error_count(data: bytes, exempt: Sequence[tuple[int, int]] = (), tree=None) -> int:
    """ERROR and MISSING nodes starting outside the exempt byte ranges.

    Recipe text and text using the new API's iterator macros
    (`for_each_x(t) {`) are exempt: tree-sitter cannot
    parse those, and the compile check judges them instead.
    """
    return _ErrorCounts()(data, exempt, tree)


class _ErrorCounts:
    """_error_count() for the trees of one file and of its rewrites.

    Those are parsed again incrementally, so a rewrite's tree shares every
    top-level node the edits left alone with the file's tree (the same node
    id), and such a node, away from the exempt ranges, holds as many errors
    in both: it is counted once.  The trees are kept while the counts are,
    since a freed node's id could be reused.
    """

    def __init__(self):
        self.per_top: dict[int, int] = {}
        self.trees: list = []

    def __call__(self, data: bytes, exempt: Sequence[tuple[int, int]] = (), tree=None) -> int:
        tree = tree or parse_c(data)
        self.trees.append(tree)
        root, exempted, near_exempt = tree.root_node, _inside_any(exempt), _touching_any(exempt)
        if root.type == "ERROR" or root.is_missing or not root.has_error:
            return sum(1 for n in _error_nodes(root) if not exempted(n.start_byte, n.start_byte + 1))
        total = 0
        for top in root.children:
            if not (top.has_error or top.type == "ERROR" or top.is_missing):
                continue
            if near_exempt(top.start_byte, top.end_byte):
                total += sum(1 for n in _error_nodes(top) if not exempted(n.start_byte, n.start_byte + 1))
                continue
            if top.id not in self.per_top:
                self.per_top[top.id] = sum(1 for _ in _error_nodes(top))
            total += self.per_top[top.id]
        return total


def _error_nodes(root):
    """The ERROR and MISSING nodes below the nodes that have an error (are one, or hold
    one); only such nodes are looked into.  (An unexpected lone token is an ERROR node
    that tree-sitter says has no error.)"""
    stack = [root]
    while stack:
        n = stack.pop()
        if n.type == "ERROR" or n.is_missing:
            yield n
        if n.has_error:
            stack.extend(c for c in n.children if c.has_error or c.type == "ERROR" or c.is_missing)


# Where a full expression ends: its parent is one of these, or it is a condition.
_FULL_EXPRESSION_PARENTS = {
    "expression_statement", "return_statement", "init_declarator", "declaration",
    "field_declaration", "argument_list", "initializer_pair", "initializer_list",
}


def _full_expression(node):
    while (above := parent(node)) is not None:
        if above.type in _FULL_EXPRESSION_PARENTS or above.child_by_field_name("condition") == node:
            return node
        if above.type in ("compound_statement", "translation_unit"):
            return node
        node = above
    return node


def _left_expressions(tree, findings) -> list[tuple[int, int]]:
    """Byte spans of full expressions holding a site no rule rewrites.

    Rewriting the other uses in such an expression would leave it half old
    and half new (init text's base plus the whole core size), a meaning
    neither version had; the whole expression stays for a human.
    """
    spans = []
    with remembered_parents():
        looking_into(tree.root_node)
        for f in findings:
            o = f.occurrence
            if not o.is_site or f.severity is Decision.REWRITE:
                continue
            node = tree.root_node.descendant_for_byte_range(o.name_start, o.name_start + len(o.name))
            if node is not None:
                e = _full_expression(node)
                spans.append((e.start_byte, e.end_byte))
    return spans


def _sorted_reach(spans: Sequence[tuple[int, int]]) -> tuple[list[int], list[int]]:
    """The spans' starts in order, and for each the furthest end of the spans up to it."""
    spans = sorted(spans)
    return [s for s, _ in spans], list(itertools.accumulate((e for _, e in spans), max))


def _inside_any(spans: Sequence[tuple[int, int]]):
    """A test of whether a byte span lies inside one of the spans, by bisection."""
    starts, widest = _sorted_reach(spans)

    def inside(start: int, end: int) -> bool:
        i = bisect.bisect_right(starts, start) - 1
        return i >= 0 and widest[i] >= end
    return inside


def _touching_any(spans: Sequence[tuple[int, int]]):
    """A test of whether a byte span shares a byte with one of the spans, by bisection."""
    starts, widest = _sorted_reach(spans)

    def touching(start: int, end: int) -> bool:
        i = bisect.bisect_left(starts, end) - 1  # the spans starting before end
        return i >= 0 and widest[i] > start
    return touching


def _guarded_edits(src, matches, findings, book: RuleBook, profile: Profile, vocabulary: Vocabulary):
    """Out-of-tree edits: each decided unit behind the guard; or why the file is skipped."""
    stages = {r.id: r.stage for r in book.all_rules()}
    emitted = emit_guarded(src, matches, findings, profile.guard, stages, profile.guard_needs_version_h,
                           vocabulary, book.guard_rule_ids())
    if is_c_path(src.path) and emitted.rewritten:
        # The new branches must read as well as the old code did.
        inplace = apply_edits(src.data, edits_for(src.data, emitted.rewritten))
        before, after = _error_count(src.data), _error_count(inplace)
        if after > before:
            return emitted, f"the new code would add parse errors ({before} -> {after}); left as it is"
    return emitted, None


def _plan_file(root: str, path: str, fs: FileScan | None, book: RuleBook,
               regions: Sequence[RegionRule], names: Mapping[str, str], vocabulary: Vocabulary,
               profile: Profile = KERNEL):
    """One file's change (or None), why it is skipped (or None), its region rules' results,
    and the tied uses held together (out-of-tree)."""
    src = read_source(root, path)
    if profile.out_of_tree:
        if fs is None or fs.result is None:
            return None, None, [], ()
        emitted, skip = _guarded_edits(src, fs.result.matches, fs.findings, book, profile, vocabulary)
        if skip is not None or not emitted.edits:
            return None, skip, [], emitted.held
        new, spans = apply_edits_with_spans(src.data, list(emitted.edits))
        changed = changes_of(emitted.edits, spans)
        if is_c_path(path) or is_stp_path(path):
            new, changed = reflow_changes(src.data, new, changed)
        change = FileChange(path, src.data, new, emitted.rewritten, (), emitted.guarded, tuple(changed))
        return change, None, [], emitted.held
    is_c = is_c_path(path)
    tree = None
    if is_c:
        parsed = fs.parsed if fs is not None else None
        tree = parsed[1] if parsed is not None and parsed[0] == src.data else parse_c(src.data)
    if fs is not None and fs.result is not None:
        # The scan matched the regions already: its findings know their owners.
        matches, findings, results = fs.result.matches, fs.findings, list(fs.regions)
    else:  # a file only a region rule asked for
        results = [match_regions(rule, src, tree, names) for rule in regions]
        result = match_file(src, book.for_path(path), names, tree, vocabulary) if is_c else None
        matches = result.matches if result is not None else ()
        findings = owned_findings(result.findings, results) if result is not None else ()

    refused = [r for r in results if r.status is RegionStatus.REFUSED]
    if refused:
        # A region rule's file is all or nothing: a half-migrated header is worse than none.
        return None, "; ".join(f"recipe {r.rule.id} refused: {r.reason}" for r in refused), results, ()
    applied = [r for r in results if r.status is RegionStatus.APPLIED]
    edits = [Edit(x.start, x.end, x.text, r.rule.id) for r in applied for x in r.replacements]
    owned = [span for r in applied for span in r.owned]

    tainted = _inside_any(_left_expressions(tree, findings) if is_c else [])
    rewritten = [m for m in matches if m.severity is Decision.REWRITE
                 and not any(s < m.end and m.start < e for s, e in owned)
                 and not tainted(m.start, m.end)]
    edits += edits_for(src.data, rewritten)
    if not edits:
        return None, None, results, ()
    try:
        new, spans = apply_edits_with_spans(src.data, edits)
    except MigratorError as e:
        return None, str(e), results, ()

    changed = changes_of(edits, spans)
    if is_c:
        region_ids = {r.rule.id for r in applied}
        # Judged on the whole replacement: narrowing may cut into a macro's name.
        macro_matches = [(m.start, m.end) for m in rewritten
                         if any(_uses_statement_macro(t.encode("utf-8", "surrogateescape"),
                                                      vocabulary.new.statement_macros)
                                for _, _, t in m.replacements)]
        exempt = [span for span, e in zip(spans, edits)
                  if e.rule_id in region_ids or any(s <= e.start < end for s, end in macro_matches)]
        # The new bytes are parsed again only around the edits; where that would
        # decide against the rewrite, a full parse has the last word.
        new_tree = reparse_c(tree, src.data, new, sorted(changed))
        error_count = _ErrorCounts()
        before, after = error_count(src.data, owned, tree), error_count(new, exempt, new_tree)
        if after > before:
            new_tree = parse_c(new)
            after = error_count(new, exempt, new_tree)
        if after > before:
            return None, f"the rewrite would add parse errors ({before} -> {after}); left as it is", results, ()
        wrapped, wrapped_changed = reflow_changes(src.data, new, changed)
        if wrapped != new:
            errors = error_count(new, tree=new_tree)
            wrapped_errors = error_count(wrapped, tree=reparse_c(tree, src.data, wrapped, wrapped_changed))
            if wrapped_errors != errors:
                wrapped_errors = error_count(wrapped)
            if wrapped_errors == errors:
                new, changed = wrapped, wrapped_changed
    change = FileChange(path, src.data, new, tuple(rewritten), tuple(r.rule.id for r in applied),
                        changed=tuple(changed))
    return change, None, results, ()


def load_pack(migration: Migration, sites_dir: str | os.PathLike | None = None,
              profile: Profile = KERNEL) -> tuple[RuleBook, tuple[RegionRule, ...]]:
    """What plan_rewrite needs of a pack: its rule book (with the site rules of
    sites_dir instead of its own, if given) and its region rules, which are
    written for the kernel's own files: out of the tree there are none to load."""
    regions = () if profile.out_of_tree else load_region_rules(migration.regions_dir)
    return migration_rule_book(migration, sites_dir), regions


def plan_rewrite(
    root: str,
    rules: Sequence[Rule] | RuleBook,
    regions: Sequence[RegionRule] = (),
    style: str = "short",
    jobs: int | None = None,
    scope: Sequence[Area] | None = None,
    vocabulary: Vocabulary | None = None,
    profile: Profile = KERNEL,
) -> RewritePlan:
    """Plan the rewrite; `scope` (the areas) and `vocabulary` default to the default pack's.

    Out of the tree (`profile`), the region rules for the kernel's own files do not
    apply, and each rewrite is emitted behind the profile's guard.
    """
    vocabulary = vocabulary or load_migration(DEFAULT_MIGRATION).vocabulary
    names = target_names(root, style, vocabulary.new)
    book = as_book(rules, scope)
    if profile.out_of_tree:
        regions = ()  # they are written for the kernel's own files
    scan = scan_tree(root, book, names, jobs, vocabulary=vocabulary, profile=profile, regions=regions,
                     keep_parses=True)
    scanned = {fs.path: fs for fs in scan.files}
    paths = {fs.path for fs in scan.files if fs.result is not None and fs.result.matches}
    paths |= {r.file for r in regions if os.path.isfile(os.path.join(root, r.file))}

    results, held = [], []
    files = [FileResult(fs.path, FileOutcome.SKIPPED, fs.error) for fs in scan.skipped]
    for path in sorted(paths):
        file_regions = [r for r in regions if r.file == path]
        file, file_results, file_held = plan_file(root, path, scanned.get(path), book, file_regions,
                                                  names, vocabulary, profile)
        files.append(file)
        results += file_results
        held += file_held
    # The parses were for planning; the plan outlives them.
    scan = dataclasses.replace(scan, files=tuple(dataclasses.replace(fs, parsed=None) for fs in scan.files))
    changes = tuple(f.change for f in files if f.outcome is FileOutcome.CHANGED)
    skipped = tuple(Skipped(f.path, f.reason) for f in files
                    if f.outcome in (FileOutcome.SKIPPED, FileOutcome.FAILED))
    return RewritePlan(os.path.abspath(root), names, changes, scan, tuple(results),
                       skipped, book, tuple(held), profile, tuple(files))


def plan_file(root: str, path: str, fs: FileScan | None, book: RuleBook, regions: Sequence[RegionRule],
              names: Mapping[str, str], vocabulary: Vocabulary, profile: Profile = KERNEL):
    """One file's result, its region rules' results and its held uses.  Never
    raises: one odd file (unreadable, a template that fails to render) fails alone."""
    try:
        change, skip, results, held = _plan_file(root, path, fs, book, regions, names, vocabulary, profile)
    except MigratorError as e:
        return FileResult(path, FileOutcome.FAILED, str(e)), [], ()
    except Exception as e:  # noqa: BLE001 - the run goes on; the result carries the error
        return FileResult(path, FileOutcome.FAILED, f"{type(e).__name__}: {e}"), [], ()
    if skip is not None:
        return FileResult(path, FileOutcome.SKIPPED, skip), results, held
    if change is None:
        return FileResult(path, FileOutcome.UNCHANGED), results, held
    return FileResult(path, FileOutcome.CHANGED, change=change), results, held
