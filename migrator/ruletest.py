"""The rule test harness, shared by `migrator test` and pytest.

Each rule file carries its own cases.  A `match` case must be decided by
the rule and rewritten to exactly `expect` (a miss is Missing, other text is
Wrong); a `no_match` case must not be touched by the rule (a hit is Noisy).
A case is run with its rule alone, so it tests that rule and nothing else.

Every match case also yields no_match cases of its own: the same code in a
comment, the same code under a LINUX_VERSION_CODE guard, and the rewritten
code (a second run must change nothing).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping, Sequence

from .errors import MigratorError
from .match import Rule, match_file
from .match.rules import MatchCase, NoMatchCase
from .parse.source import SourceFile, parse_c
from .rewrite import apply_edits, edits_for
from .migration import DEFAULT_MIGRATION, Migration, load_migration
from .vocabulary import Vocabulary

# Statements and expressions are tested inside a function, as they occur.
_WRAP_HEAD = "void migrator_case(void)\n{\n"
_WRAP_TAIL = "\n}\n"


@dataclass(frozen=True)
class CaseResult:
    rule_id: str
    kind: str  # "match", "no_match", or "no_match:<derived kind>"
    index: int
    status: str  # "ok", "missing", "wrong", "noisy", "error"
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.status == "ok"

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
        return CaseResult(rule.id, kind, index, "error", str(e))
    hit = [m for m in matches if m.rule_id == rule.id]
    if kind.startswith("no_match"):
        if hit:
            return CaseResult(rule.id, kind, index, "noisy", f"matched {case.why}: {case.code.strip()!r}")
        return CaseResult(rule.id, kind, index, "ok")
    if not hit:
        return CaseResult(rule.id, kind, index, "missing", f"no match in {case.code.strip()!r}")
    expect = case.code if case.expect is None else case.expect
    if new != expect:
        return CaseResult(rule.id, kind, index, "wrong", f"expected {expect!r}, got {new!r}")
    return CaseResult(rule.id, kind, index, "ok")


def _only_comments(code: str) -> bool:
    return all(n.type == "comment" for n in parse_c(code.encode()).root_node.children)


def derived_no_match_cases(case: MatchCase, landed: tuple[int, int, int]) -> list[tuple[str, NoMatchCase]]:
    """The no_match cases that any match case implies; `landed` is the change's kernel version."""
    derived = []
    if not _only_comments(case.code):
        derived.append(
            ("comment", NoMatchCase("/* " + case.code.replace("*/", "* /") + " */\n", "the code in a comment")))
    derived += [
        ("guarded", NoMatchCase(
            "#if LINUX_VERSION_CODE < KERNEL_VERSION(%d, %d, %d)\n" % landed + case.code + "\n#endif\n",
            "the code inside a LINUX_VERSION_CODE guard")),
    ]
    if case.expect is not None:
        derived.append(("migrated", NoMatchCase(case.expect, "the rewritten code, again")))
    return derived


def run_rule_tests(rules: Iterable[Rule], style: str = "short",
                   migration: Migration | None = None) -> list[CaseResult]:
    """Every case of every rule; the rules are `migration`'s (default: the default migration)."""
    migration = migration or load_migration(DEFAULT_MIGRATION)
    vocabulary = migration.vocabulary
    names = vocabulary.new.type_names(style)
    results = []
    for rule in rules:
        if not rule.match_cases:
            results.append(CaseResult(rule.id, "match", 0, "missing", "the rule has no match case"))
        for i, case in enumerate(rule.match_cases):
            results.append(_run_case(rule, "match", i, case, names, vocabulary))
            for kind, derived in derived_no_match_cases(case, migration.landed_version):
                results.append(_run_case(rule, f"no_match:{kind}", i, derived, names, vocabulary))
        for i, case in enumerate(rule.no_match_cases):
            results.append(_run_case(rule, "no_match", i, case, names, vocabulary))
    return results
