"""Run the rules over one parsed file.

Every rule's query runs over the whole tree; each hit is checked against the
rule's `when` table and `inside` constraints, and against the occurrences: a
hit must cover at least one occurrence a rule may decide (a use, a comment,
an old API name) and no guarded code, declaration or alias.  Overlapping hits are
settled by priority, then by size: the widest meaning wins, so a range test
over a whole layout beats the rule for its `base` inside it.  A use that no
hit covers is reported as undecided: the tool never guesses.  A rule that
decides guards (out of the tree) matches the other way round: its hit is a
conditional holding uses the conditional already keeps from new kernels, and
no use that still needs a decision.
"""

from __future__ import annotations

import bisect
import enum
import functools
import re
from dataclasses import dataclass
from typing import Mapping, Sequence

import jinja2
import tree_sitter
from tree_sitter import Node

from ..errors import MigratorError
from ..parse.source import (SourceFile, cursor_matches, matches_in, parent, parse_c, remembered_parents,
                            units_around, whole)
from ..parse.syntax import strip_casts
from ..migration import DEFAULT_MIGRATION, load_migration
from ..vocabulary import Vocabulary
from .context import ancestors, declaration_of, descendants, function_name, held_value
from .rules import WITHOUT, Rule, Severity
from .template_env import Capture, compiled, template_globals
from ..parse.preproc import Side, compiled as compiled_on, read_conditionals
from .uses import UNREAD_KINDS, Occurrence, find_occurrences, out_of_tree_views

class Decision(enum.StrEnum):
    """How a site is decided: by a rule that rewrites or reports it, or by none."""

    REWRITE = "rewrite"
    REPORT = "report"
    UNDECIDED = "undecided"


UNDECIDED = Decision.UNDECIDED


@dataclass(frozen=True)
class Match:
    """A decided site: the bytes [start, end) and what becomes of them."""

    rule_id: str
    severity: Decision  # REWRITE or REPORT
    start: int
    end: int
    replacements: tuple[tuple[int, int, str], ...]  # (start, end, new text), for a rewrite
    message: str  # why, for a report; the rule's summary for a rewrite
    line: int
    col: int


@dataclass(frozen=True)
class Finding:
    """An occurrence together with the rule that decides it (or UNDECIDED)."""

    occurrence: Occurrence
    rule_id: str | None
    severity: str | None
    message: str


@dataclass(frozen=True)
class FileMatches:
    path: str
    occurrences: tuple[Occurrence, ...]
    matches: tuple[Match, ...]
    findings: tuple[Finding, ...]


def _inside_ok(rule: Rule, site: Node, seen: dict) -> bool:
    """Whether the site sits where the rule's `inside` says; `seen` keeps each scope's
    answer to a `has` query, which would otherwise walk a whole file per site."""
    for spec, query in zip(rule.inside, rule.inside_queries):
        scope = next((a for a in ancestors(site) if a.type == spec.kind), None)
        if scope is None and site.type == spec.kind:
            scope = site
        if scope is None:
            return False
        if spec.name is not None and (
            scope.type != "function_definition"
            or not re.fullmatch(spec.name, function_name(scope) or "")
        ):
            return False
        if query is not None:
            key = (id(query), scope.id)
            if key not in seen:
                seen[key] = bool(tree_sitter.QueryCursor(query).matches(scope))
            if not seen[key]:
                return False
    return True


def _held(rule: Rule, caps: dict[str, list[Node]]) -> dict[str, list[Node]] | None:
    """The captures of the value the rule's `holds` variable has at the site (none
    without `holds`), or None when the code does not plainly give it that value."""
    if rule.holds is None:
        return {}
    site = caps["site"][0]
    statement = parent(site)
    if statement is None or statement.type != "expression_statement":
        return None
    variable = caps[rule.holds.capture][0]
    value = held_value(variable, statement)
    if value is None:
        return None
    if rule.holds.steps_in_bytes and not declaration_of(variable).steps_in_bytes:
        return None
    for _, found in tree_sitter.QueryCursor(rule.holds_query).matches(value):
        if found["value"][0] != value:
            continue
        if all(found[mine][0].text == caps[theirs][0].text for mine, theirs in rule.holds.same):
            return {k: v for k, v in found.items() if k != "value"}
    return None


def _shaped(rule: Rule, caps: dict[str, list[Node]]) -> dict[str, list[Node]] | None:
    """The captures the rule's shapes add to the hit's (none without [[shape]]), or
    None when a capture lacks its shape.  A shaped capture becomes the expression
    inside its casts and parentheses; a pattern that does not capture it skips it."""
    found_all: dict[str, list[Node]] = {}
    for shape, query in zip(rule.shapes, rule.shape_queries):
        if shape.capture not in caps:
            continue
        node = strip_casts(caps[shape.capture][0])
        try:
            found = next((f for _, f in cursor_matches(query, node) if f[shape.capture][0] == node), None)
        except (UnicodeDecodeError, SystemError):  # as in _rule_matches
            raise MigratorError(f"rule {rule.id}: a predicate met bytes that are not UTF-8") from None
        if found is None:
            return None
        found_all.update(found)
    return found_all


def _alike(rule: Rule, caps: dict[str, list[Node]]) -> bool:
    """Whether each of the rule's `same` groups reads alike (among the captures the hit holds)."""
    return all(len({caps[c][0].text for c in group if c in caps}) <= 1 for group in rule.same)


def _meaning(rule: Rule, caps: dict[str, list[Node]]) -> dict[str, str] | None:
    """The variables of the first `when` row the captures fit; {} without rows."""
    if not rule.when:
        return {}
    for row in rule.when:
        if all(caps[k][0].text.decode() == v for k, v in row.items() if k in caps):
            return {k: v for k, v in row.items() if k not in caps}
    return None


def _indent(data: bytes, node: Node) -> str:
    """The leading white space of the line a node starts on."""
    start = data.rfind(b"\n", 0, node.start_byte) + 1
    line = data[start:node.start_byte]
    return line[: len(line) - len(line.lstrip())].decode()


def _render(rule: Rule, source: str | None, caps: dict[str, list[Node]], names: Mapping[str, str],
            data: bytes = b"") -> str:
    if source is None:
        return rule.summary
    values = {k: Capture(v[0]) for k, v in caps.items()}
    values.update(_meaning(rule, caps) or {})
    # Multi-line fixes indent their later lines like the site's line.
    values["indent"] = _indent(data, caps["site"][0]) if data else ""
    try:
        return compiled(source).render(**values, **template_globals(names))
    except jinja2.UndefinedError as e:
        raise MigratorError(f"{rule.path}: template uses {e.message}") from None
    except jinja2.TemplateError as e:  # compiled at first use: what the load check cannot see
        raise MigratorError(f"{rule.path}: template: {e.message}") from None


def _span(rule: Rule, site: Node, caps: dict[str, list[Node]]) -> tuple[int, int]:
    """The bytes a match owns: its site and every capture its fix replaces."""
    nodes = [site]
    if isinstance(rule.fix, dict):
        nodes += [caps[c][0] for c in rule.fix]
    return min(n.start_byte for n in nodes), max(n.end_byte for n in nodes)


def _calls_itself(site: Node, replacements) -> bool:
    """Whether a rewrite would make the function holding it call itself.

    within_module_core() once was the bounds test that the range rules turn
    into a call to within_module_core(); rewriting its own body that way
    would recurse forever.
    """
    fn = next((a for a in ancestors(site) if a.type == "function_definition"), None)
    name = function_name(fn) if fn is not None else None
    if not name:
        return False
    call = name + "("
    return any(call in text for _, _, text in replacements)


_SIDE_EFFECTS = ("update_expression", "assignment_expression", "call_expression")


def _evaluations_changed(root: Node, data: bytes, start: int, end: int, occurrences,
                         replacements) -> str | None:
    """Why a rewrite would change how often a receiver with side effects runs, or None.

    `p[i++]->old.base <= a && a < p[i++]->old.base + ...`
    evaluates `mods[i++]` three times; a helper call taking it once would
    change what the code does, as would a sum that names it twice.
    """
    if not replacements:
        return None
    old = data[start:end]
    new = bytearray(old)
    for s, e, text in sorted(replacements, reverse=True):
        new[s - start:e - start] = text.encode("utf-8", "surrogateescape")
    for o in occurrences:
        name = root.descendant_for_byte_range(o.name_start, o.name_start + len(o.name))
        access = parent(name) if name is not None else None
        receiver = access.child_by_field_name("argument") if access is not None else None
        if receiver is None or not any(n.type in _SIDE_EFFECTS for n in descendants(receiver)):
            continue
        before, after = old.count(receiver.text), bytes(new).count(receiver.text)
        if before != after:
            return (f"the receiver {receiver.text.decode('utf-8', 'replace')} has side effects: the rewrite "
                    f"would evaluate it {after} times instead of {before}; rewrite it by hand")
    return None


def _is_condition(node: Node) -> bool:
    above = parent(node)
    return (node.type == "parenthesized_expression" and above is not None
            and above.child_by_field_name("condition") == node)


def _replacements(rule: Rule, caps: dict[str, list[Node]], names: Mapping[str, str], data: bytes):
    if rule.severity is not Severity.REWRITE:
        return ()
    if isinstance(rule.fix, str):
        site = caps["site"][0]
        text = _render(rule, rule.fix, caps, names, data)
        if _is_condition(site):
            text = f"({text})"  # the parentheses of `if (...)` are syntax, not expression
        return ((site.start_byte, site.end_byte, text),)
    return tuple(sorted(
        (caps[c][0].start_byte, caps[c][0].end_byte, _render(rule, t, caps, names, data))
        for c, t in rule.fix.items()
    ))


def _rule_matches(rule: Rule, root: Node, units):
    try:
        return matches_in(rule.query, root, units)
    except (UnicodeDecodeError, SystemError):  # py-tree-sitter wraps the first in the second
        # Predicates see node text as strict UTF-8; a rule must not test free text.
        raise MigratorError(f"rule {rule.id}: a predicate met bytes that are not UTF-8") from None


def _candidates(rules: Sequence[Rule], root: Node, units, inside_seen: dict):
    for order, rule in enumerate(rules):
        for _, caps in _rule_matches(rule, root, units):
            shaped = _shaped(rule, caps)
            if shaped is None:
                continue
            caps = {**caps, **shaped}
            if not _alike(rule, caps):
                continue
            site = caps["site"][0]
            if _meaning(rule, caps) is None or not _inside_ok(rule, site, inside_seen):
                continue
            held = _held(rule, caps)
            if held is None:
                continue
            yield order, rule, site, {**caps, **held}


# Every hit asks for its ancestors; each parent is looked up once per file.
@remembered_parents()
def match_file(
    src: SourceFile,
    rules: Sequence[Rule],
    names: Mapping[str, str] | None = None,
    tree: tree_sitter.Tree | None = None,
    vocabulary: Vocabulary | None = None,
    out_of_tree: bool = False,
) -> FileMatches:
    """Occurrences, decided matches and per-occurrence findings of one file.

    `vocabulary` (what an occurrence looks like) defaults to the default
    migration's.  Out of the tree, the preprocessor's conditionals decide
    which uses a kernel with the change compiles, and rules also run over
    #define values and a tapset's embedded C (parse/views.py).
    """
    vocabulary = vocabulary or load_migration(DEFAULT_MIGRATION).vocabulary
    names = names or vocabulary.new.type_names()
    if src.path.endswith(".py"):
        occs = find_occurrences(src, vocabulary=vocabulary, conds=read_conditionals(b"") if out_of_tree else None)
        return FileMatches(src.path, tuple(occs), (), tuple(_unread_finding(o, vocabulary) for o in occs))
    if out_of_tree:
        conds = read_conditionals(src.data)
        views = out_of_tree_views(src, tree, conds, vocabulary)
        occs = find_occurrences(src, tree, vocabulary, conds, views)
        roots = [v.tree.root_node for v in views]
    else:
        tree = tree or parse_c(src.data)
        occs = find_occurrences(src, tree, vocabulary)
        roots = [tree.root_node]
    if not out_of_tree:  # their kinds of occurrence exist only out of the tree
        rules = [r for r in rules if r.mode != "out-of-tree"]
    sites = [o for o in occs if o.is_decidable]
    others = [o for o in occs if not o.is_decidable]
    kept = [o for o in occs if o.kind.is_kept]
    undecided_sites = [o for o in occs if o.is_site]

    # Occurrences in order of their names, so a hit finds those it covers by bisection:
    # thousands of uses in one file must not cost thousands of scans each.
    sites.sort(key=lambda o: o.name_start)
    others.sort(key=lambda o: o.name_start)
    site_at, other_at = [o.name_start for o in sites], [o.name_start for o in others]

    def covered(start: int, end: int, group: list[Occurrence]) -> list[Occurrence]:
        at = site_at if group is sites else other_at
        return group[bisect.bisect_left(at, start):bisect.bisect_left(at, end)]

    hits = []
    # A hit must cover a decidable occurrence: only the definitions holding one are searched
    # (in the file itself; the out-of-tree views are other texts, searched whole).
    def units(root: Node):
        if out_of_tree:
            return whole(root)
        return units_around(root, [o.name_start for o in sites])

    inside_seen: dict = {}
    for order, rule, site, caps in (c for root in roots
                                    for c in _candidates(rules, root, units(root), inside_seen)):
        s, e = _span(rule, site, caps)
        if rule.decides == "guard":
            # A conditional over kept uses; a use in it that needs a decision of its own comes first.
            if not covered(s, e, kept) or covered(s, e, undecided_sites):
                continue
        # A hit must decide something, and must not swallow guarded code or a declaration.
        elif not covered(s, e, sites) or covered(s, e, others):
            continue
        hits.append((-rule.priority, -(e - s), s, order, e, rule, caps))
    hits.sort(key=lambda h: h[:4])

    taken: list[tuple[int, int]] = []  # disjoint, in order
    conditionals = functools.cache(lambda: read_conditionals(src.data))  # read when a hit asks
    matches: list[Match] = []
    for _, _, s, _, e, rule, caps in hits:
        before = bisect.bisect_left(taken, (e,))  # the spans starting before e
        if before and taken[before - 1][1] > s:
            continue
        replacements = _replacements(rule, caps, names, src.data)
        if _calls_itself(caps["site"][0], replacements):
            continue
        severity, message = Decision(rule.severity), _render(rule, rule.reason, caps, names).strip()
        if severity is Decision.REWRITE:
            unsafe = _config_may_be_set(rule, caps, src, s, vocabulary, conditionals)
            if unsafe is not None:
                # The meaning holds only without a config option that may be set here.
                severity, replacements, message = Decision.REPORT, (), unsafe
        if replacements and tree is None:  # out of the tree the views were parsed, not the file
            tree = parse_c(src.data)
        evaluated = _evaluations_changed(tree.root_node if tree is not None else None, src.data, s, e,
                                         covered(s, e, sites), replacements)
        if evaluated:
            # Never duplicate or collapse a side effect: the site stays, and says why.
            severity, replacements, message = Decision.REPORT, (), evaluated
        taken.insert(before, (s, e))
        line, col = src.line_col(s)
        matches.append(Match(
            rule_id=rule.id,
            severity=severity,
            start=s,
            end=e,
            replacements=replacements,
            message=message,
            line=line,
            col=col,
        ))
    matches.sort(key=lambda m: m.start)

    findings = []
    starts = [m.start for m in matches]
    for o in occs:
        at = bisect.bisect_right(starts, o.name_start) - 1
        m = matches[at] if at >= 0 and o.name_start < matches[at].end else None
        if m is not None:
            findings.append(Finding(o, m.rule_id, m.severity, m.message))
        elif o.kind in UNREAD_KINDS:
            findings.append(Finding(o, None, UNDECIDED, _note(o, vocabulary)))
        elif o.kind in _UNREAD:
            findings.append(_unread_finding(o, vocabulary))
        elif o.is_site:
            findings.append(Finding(o, None, UNDECIDED, "no rule decides what this use means"))
        elif out_of_tree and o.kind == "guarded":
            findings.append(Finding(o, None, None, "no kernel with the change compiles it: left as it is"))
        else:
            findings.append(Finding(o, None, None, _note(o, vocabulary)))
    return FileMatches(src.path, tuple(occs), tuple(matches), tuple(findings))


# Any kernel: only the config option in question is known.
_ANY_KERNEL = Side("any", (0, 1 << 24))


def _config_may_be_set(rule: Rule, caps, src: SourceFile, at: int, vocabulary: Vocabulary,
                       conditionals) -> str | None:
    """Why the hit's `when` row, which holds only without a config option, must not
    rewrite here (the option may be set), or None."""
    option = (_meaning(rule, caps) or {}).get(WITHOUT)
    if option is None:
        return None
    known = vocabulary.old.config(option)
    for folder in known.selected_in if known is not None else ():
        if src.path.startswith(folder):
            return (f"this mapping holds only without {option}, and {folder} may have it set"
                    f"{f' ({known.why})' if known.why else ''}; which memory type is meant depends on it")
    if compiled_on(conditionals(), at, _ANY_KERNEL, undefined=frozenset({option})) is False:
        return (f"this mapping holds only without {option}, and this code is compiled only with it; "
                "which memory type is meant depends on it")
    return None


# Sites no C rule can read, decided here: each is reported (under this id) with what to do.
_UNREAD = {"python-reader": "python-reader", "text": "unread-code"}


def _unread_finding(o: Occurrence, vocabulary: Vocabulary) -> Finding:
    if o.kind in _UNREAD:
        return Finding(o, _UNREAD[o.kind], Decision.REPORT, _note(o, vocabulary))
    return Finding(o, None, None, _note(o, vocabulary))


def _note(o: Occurrence, vocabulary: Vocabulary) -> str:
    """What a scan says of an occurrence no rule decides: the pack's words, or the engine's."""
    return vocabulary.notes.get(o.kind) or _NOTE[o.kind]


# The engine's words for what no rule decides; a pack's [notes] say it in its own.
_NOTE = {
    "python-reader": "a script reading a running kernel sees one API or the other: read the new "
                     "one first and fall back to the old one when it is absent",
    "text": "no parse reads this as code (the C parser could not read it, or a tapset's "
            "script outside %{ %}): check it by hand",
    "guarded": "inside a LINUX_VERSION_CODE guard: left as it is",
    "supports-both": "only kernels before the change compile it, beside a branch for those with it: supports both",
    "foreign": "a same-named field of another struct",
    "declaration": "a member of the old API: replaced by the new definitions",
    "alias": "an alias of an old name",
    "python": "a script naming the old API",
    "api": "a name of the old internal API",
    "comment": "comment",
    "unparsed": "in code the C parser could not read (a parse error or a macro body): "
                "no rule can judge it; migrate it by hand",
    "spliced": "the name is split by a backslash-newline, which the parser does not join; "
               "join the line and run again",
    "new": "the new API already",
}
