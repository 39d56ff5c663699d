"""The rule test harness, shared by `migrator test` and pytest.

Each rule file carries its own cases.  A `match` case must be decided by
the rule and rewritten to exactly `expect` (a miss is Missing, other text is
Wrong); a `no_match` case must not be touched by the rule (a hit is Noisy).
A case is run with its rule alone, so it tests that rule and nothing else.

Every match case also yields no_match cases of its own: the same code in a
comment, the same code under a LINUX_VERSION_CODE guard, and the rewritten
code (a second run must change nothing).

A region rule's cases are whole files: a `match` case must be applied, and
its output must equal the one pinned in the rule's snapshot file (`update`
rewrites the snapshot instead, for a reviewer to read as a diff); a
`no_match` case must be refused or found done, as must the output again.
"""

from __future__ import annotations

import enum
import os
import re
from dataclasses import dataclass
from typing import Iterable, Mapping, Sequence

from .errors import MigratorError
from .match import Rule, match_file
from .match import load_rules, migration_rule_book
from .match.regions import RegionRule, RegionStatus, load_region_rules, match_regions
from .match.rules import MatchCase, NoMatchCase
from .parse.source import SourceFile, is_c_path, parse_c
from .rewrite import Edit, apply_edits, edits_for
from .migration import DEFAULT_MIGRATION, Migration, load_migration
from .vocabulary import Vocabulary

# Statements and expressions are tested inside a function, as they occur.
_WRAP_HEAD = "void migrator_case(void)\n{\n"
_WRAP_TAIL = "\n}\n"


class CaseStatus(enum.StrEnum):
    """A case's result."""

    OK = "ok"
    MISSING = "missing"  # a match case the rule did not match
    WRONG = "wrong"  # matched, rewritten to other text
    NOISY = "noisy"  # a no_match case the rule matched
    ERROR = "error"  # the case could not be run


@dataclass(frozen=True)
class CaseResult:
    rule_id: str
    kind: str  # "match", "no_match", or "no_match:<derived kind>"
    index: int
    status: CaseStatus
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.status is CaseStatus.OK

    @property
    def name(self) -> str:
        return f"{self.rule_id}:{self.kind}[{self.index}]"


def _wrapped(code: str) -> tuple[str, bool]:
    if not parse_c(code.encode()).root_node.has_error:
        return code, False
    return _WRAP_HEAD + code + _WRAP_TAIL, True


def rewrite_snippet(code: str, rules: Sequence[Rule], names: Mapping[str, str] | None = None,
                    vocabulary: Vocabulary | None = None):
    """(new code, matches) of a snippet under the given rules (and the default migration's words).

    A rule for kinds of use that only out-of-tree runs list runs out of the tree.
    """
    text, wrapped = _wrapped(code)
    data = text.encode()
    out_of_tree = any(r.mode == "out-of-tree" for r in rules)
    result = match_file(SourceFile("case.c", data), rules, names, vocabulary=vocabulary, out_of_tree=out_of_tree)
    new = apply_edits(data, edits_for(data, result.matches)).decode()
    if wrapped:
        new = new[len(_WRAP_HEAD):len(new) - len(_WRAP_TAIL)]
    return new, result.matches


def _run_case(rule: Rule, kind: str, index: int, case, names, vocabulary: Vocabulary) -> CaseResult:
    try:
        new, matches = rewrite_snippet(case.code, [rule], names, vocabulary)
    except MigratorError as e:
        return CaseResult(rule.id, kind, index, CaseStatus.ERROR, str(e))
    hit = [m for m in matches if m.rule_id == rule.id]
    if kind.startswith("no_match"):
        if hit:
            return CaseResult(rule.id, kind, index, CaseStatus.NOISY, f"matched {case.why}: {case.code.strip()!r}")
        return CaseResult(rule.id, kind, index, CaseStatus.OK)
    if not hit:
        return CaseResult(rule.id, kind, index, CaseStatus.MISSING, f"no match in {case.code.strip()!r}")
    expect = case.code if case.expect is None else case.expect
    if new != expect:
        return CaseResult(rule.id, kind, index, CaseStatus.WRONG, f"expected {expect!r}, got {new!r}")
    return CaseResult(rule.id, kind, index, CaseStatus.OK)


def _only_comments(code: str) -> bool:
    return all(n.type == "comment" for n in parse_c(code.encode()).root_node.children)


def derived_no_match_cases(case: MatchCase, landed: tuple[int, int, int],
                           decides: str = "use") -> list[tuple[str, NoMatchCase]]:
    """The no_match cases that any match case implies; `landed` is the change's kernel version.

    Code under a version guard is left by a rule that decides uses; a rule
    that decides guards judges exactly such guards, so it gets no such case.
    """
    derived = []
    if not _only_comments(case.code):
        derived.append(
            ("comment", NoMatchCase("/* " + case.code.replace("*/", "* /") + " */\n", "the code in a comment")))
    if decides == "use":
        derived.append(("guarded", NoMatchCase(
            "#if LINUX_VERSION_CODE < KERNEL_VERSION(%d, %d, %d)\n" % landed + case.code + "\n#endif\n",
            "the code inside a LINUX_VERSION_CODE guard")))
    if case.expect is not None and case.expect != case.code:  # a rewrite rule may report instead
        derived.append(("migrated", NoMatchCase(case.expect, "the rewritten code, again")))
    return derived


def run_rule_tests(rules: Iterable[Rule], style: str = "short", regions: Iterable[RegionRule] = (),
                   update: bool = False, migration: Migration | None = None) -> list[CaseResult]:
    """Every case of the site rules, then of the region rules (with `update`, the
    region rules' snapshots are rewritten from their outputs); the rules are
    `migration`'s (default: the default migration)."""
    migration = migration or load_migration(DEFAULT_MIGRATION)
    vocabulary = migration.vocabulary
    names = vocabulary.new.type_names(style)
    results = []
    for rule in rules:
        if not rule.match_cases:
            results.append(CaseResult(rule.id, "match", 0, CaseStatus.MISSING, "the rule has no match case"))
        if not rule.no_match_cases:
            # The derived ones (a comment, a guard, the output) say nothing of look-alikes.
            results.append(CaseResult(rule.id, "no_match", 0, CaseStatus.MISSING,
                                      "the rule has no no_match case of its own"))
        for i, case in enumerate(rule.match_cases):
            results.append(_run_case(rule, "match", i, case, names, vocabulary))
            for kind, derived in derived_no_match_cases(case, migration.landed_version, rule.decides):
                results.append(_run_case(rule, f"no_match:{kind}", i, derived, names, vocabulary))
        for i, case in enumerate(rule.no_match_cases):
            results.append(_run_case(rule, "no_match", i, case, names, vocabulary))
    for rule in regions:
        results += _run_region_cases(rule, names, update)
    return results


def pack_rule_tests(migration, sites_dir=None, style: str = "short",
                    update: bool = False) -> list[CaseResult]:
    """Every case of a pack: its site rules (or those of sites_dir), its areas' rules
    (the loader's) and its region rules; `migrator test` and pytest both run this."""
    if sites_dir is not None:
        return run_rule_tests(load_rules(sites_dir), style, migration=migration)
    book = migration_rule_book(migration)
    return run_rule_tests(book.all_rules(), style, load_region_rules(migration.regions_dir), update,
                          migration)


# ---------------------------------------------------------------- region rules

_SNAP_HEAD = "# The output of {id} on each of its tests.match cases; `migrator test --update` rewrites it.\n"
_SNAP_CASE = "=== match[{i}] ===\n"
_SNAP_CASE_RE = re.compile(r"^=== match\[(\d+)\] ===\n", re.M)


def region_output(rule: RegionRule, code: str, names: Mapping[str, str]) -> tuple[RegionStatus, str]:
    """(status, the file's new text, or the reason it is left) of a region rule on one file."""
    data = code.encode()
    src = SourceFile(rule.file, data)
    result = match_regions(rule, src, parse_c(data) if is_c_path(rule.file) else None, names)
    if result.status is not RegionStatus.APPLIED:
        return result.status, result.reason
    edits = [Edit(x.start, x.end, x.text, rule.id) for x in result.replacements]
    return result.status, apply_edits(data, edits).decode("utf-8", "surrogateescape")


def read_snapshot(rule: RegionRule) -> dict[int, str]:
    try:
        with open(rule.snapshot, encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        return {}
    except OSError as e:
        raise MigratorError(f"{rule.snapshot}: cannot read: {e.strerror}") from None
    parts = _SNAP_CASE_RE.split(text)
    return {int(parts[k]): parts[k + 1] for k in range(1, len(parts) - 1, 2)}


def write_snapshot(rule: RegionRule, outputs: Mapping[int, str]) -> None:
    os.makedirs(os.path.dirname(rule.snapshot), exist_ok=True)
    text = _SNAP_HEAD.format(id=rule.id) + "".join(
        _SNAP_CASE.format(i=i) + outputs[i] for i in sorted(outputs))
    with open(rule.snapshot, "w", encoding="utf-8") as f:
        f.write(text)


def _run_region_cases(rule: RegionRule, names: Mapping[str, str], update: bool) -> list[CaseResult]:
    results = []
    if not rule.match_cases:
        results.append(CaseResult(rule.id, "match", 0, CaseStatus.MISSING, "the rule has no match case"))
    if not rule.no_match_cases:
        results.append(CaseResult(rule.id, "no_match", 0, CaseStatus.MISSING, "the rule has no no_match case"))
    pinned = read_snapshot(rule)
    outputs = {}
    for i, code in enumerate(rule.match_cases):
        try:
            status, out = region_output(rule, code, names)
            again = region_output(rule, out, names)[0] if status is RegionStatus.APPLIED else None
        except MigratorError as e:
            results.append(CaseResult(rule.id, "match", i, CaseStatus.ERROR, str(e)))
            continue
        if status is not RegionStatus.APPLIED:
            results.append(CaseResult(rule.id, "match", i, CaseStatus.MISSING, f"{status.value}: {out}"))
            continue
        outputs[i] = out
        if update or pinned.get(i) == out:
            results.append(CaseResult(rule.id, "match", i, CaseStatus.OK))
        else:
            detail = "no snapshot" if i not in pinned else "the output differs from the snapshot"
            results.append(CaseResult(rule.id, "match", i, CaseStatus.WRONG,
                                      f"{detail} ({rule.snapshot}; `migrator test --update` pins it)"))
        ok = again is not RegionStatus.APPLIED
        results.append(CaseResult(rule.id, "no_match:migrated", i, CaseStatus.OK if ok else CaseStatus.NOISY,
                                  "" if ok else "applied again to its own output"))
    if update and outputs:
        write_snapshot(rule, outputs)
    for i, case in enumerate(rule.no_match_cases):
        try:
            status, reason = region_output(rule, case.code, names)
        except MigratorError as e:
            results.append(CaseResult(rule.id, "no_match", i, CaseStatus.ERROR, str(e)))
            continue
        ok = status is not RegionStatus.APPLIED
        results.append(CaseResult(rule.id, "no_match", i, CaseStatus.OK if ok else CaseStatus.NOISY,
                                  "" if ok else f"applied to {case.why}"))
    return results
