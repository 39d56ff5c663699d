"""Emit decided rewrites behind a dual-kernel guard, for code outside the kernel.

The match stage has decided what each use means; this module only decides
how the new code sits beside the old so that both kernels build:

- a rewrite that only uses helpers which exist before and after the change
  (a rule of stage "prepare", such as within_module_core()) goes in place;
- a use in a branch of an API ladder (`#ifdef STAPCONF_MODULE_LAYOUT`,
  `#if LINUX_VERSION_CODE >= KERNEL_VERSION(4, 5, 0)`) gets a rung of its own
  before that branch: `#if GUARD` new body `#elif <the old condition>`;
- any other use is guarded with its whole unit, as a maintainer would guard
  it: the statement or declaration, the whole #define, or the run of
  statements (or the function body) that locals tie together:
  `#if GUARD` new `#else` old `#endif`;
- a rule that decides guards changes an existing conditional's condition in
  place (the code under it is already right on both sides).

The old code stays byte for byte; only preprocessor lines are added or
changed.  Uses tied together (one unit, one #define, locals of a function)
are emitted together or not at all: if one of them is only reported, all of
them stay, with one reason that names them all.
"""

from __future__ import annotations

import re
from functools import lru_cache
from dataclasses import dataclass
from typing import Mapping, Sequence

from tree_sitter import Node

from ...match.context import ancestors
from ...parse.syntax import descendants
from ...match.engine import Decision, Finding, Match
from ...parse.preproc import Block, Conditionals, evaluate, read_conditionals, taken
from ...vocabulary import Vocabulary
from ...parse.source import SourceFile
from ...parse.views import is_stp_path
from ...match.uses import out_of_tree_views
from ..edits import Edit, apply_edits, edits_for

# Conditions that choose an API: kernel versions, or probe macros (a project's
# configure results, the API's own macros, and the names the pack knows
# projects give their probes of it).
_LADDER = r"LINUX_VERSION_CODE|KERNEL_VERSION|\b(?:STAPCONF|HAVE)_\w+"


def _ladder_re(vocabulary: Vocabulary) -> re.Pattern[str]:
    new = vocabulary.sides.new
    return _ladder(new.defined | new.undefined, vocabulary.old.probe_names)


@lru_cache(maxsize=8)
def _ladder(macros: frozenset[str], probe_names: str | None) -> re.Pattern[str]:
    words = [_LADDER, *(re.escape(m) for m in sorted(macros))]
    if probe_names:
        words.append(probe_names)
    return re.compile("|".join(words))

# The smallest units a maintainer guards: whole statements and declarations.
_UNIT_TYPES = {
    "expression_statement", "return_statement", "declaration", "if_statement", "for_statement",
    "while_statement", "do_statement", "switch_statement", "field_declaration", "goto_statement",
}


@dataclass(frozen=True)
class Held:
    """Uses tied together that stay as they are, and why."""

    findings: tuple[Finding, ...]
    reason: str


@dataclass(frozen=True)
class Emitted:
    edits: tuple[Edit, ...]
    rewritten: tuple[Match, ...]
    held: tuple[Held, ...]
    guarded: int  # units emitted behind a guard (or as a rung)


@dataclass
class _Unit:
    start: int  # whole lines: the first byte of the first line
    end: int  # the byte after the last line's newline
    findings: list
    rung: tuple[Block, int] | None = None
    scope: Node | None = None  # the block holding a statement unit
    function: Node | None = None
    names_set: frozenset = frozenset()  # locals the unit assigns
    names_read: frozenset = frozenset()


def _line_start(data: bytes, at: int) -> int:
    return data.rfind(b"\n", 0, at) + 1


def _line_end(data: bytes, at: int) -> int:
    nl = data.find(b"\n", at)
    return len(data) if nl < 0 else nl + 1


_WORD_RE = re.compile(r"[A-Za-z_]\w*")
_PREPROCESSOR_WORDS = {"defined", "KERNEL_VERSION", "LINUX_VERSION_CODE"}


def _about_the_api(condition: str, ladder: re.Pattern[str]) -> bool:
    """Whether a condition tests only kernel versions and probe macros (no CONFIG_X)."""
    words = set(_WORD_RE.findall(condition)) - _PREPROCESSOR_WORDS
    return all(ladder.fullmatch(w) for w in words)


def gains_rung(block: Block, index: int, vocabulary: Vocabulary) -> bool:
    """Whether the new code belongs in a rung of its own before this branch.

    Only when the branch stands for "the API of some kernels": its condition
    holds on every kernel with the change (`>= 4.5`), or tests only versions and probe
    macros; an #else after such tests.  A branch that also tests anything
    else (`defined(CONFIG_KALLSYMS) && ...`) keeps that test: its code is
    guarded inside it instead.
    """
    ladder = _ladder_re(vocabulary)
    br = block.branches[index]
    if br.directive == "else":
        return index > 0 and all(_about_the_api(b.condition, ladder) for b in block.branches[:index])
    if evaluate(br.directive, br.condition, vocabulary.sides.new) is True:
        return True
    return _about_the_api(br.condition, ladder) and ladder.search(br.condition) is not None


def _identifiers(node: Node) -> set[bytes]:
    return {n.text for n in descendants(node) if n.type == "identifier"}


def _assigned(node: Node) -> set[bytes]:
    """Locals a statement sets: its declarators, or the left side of its assignments."""
    out, stack = set(), [node]
    while stack:
        n = stack.pop()
        if n.type == "init_declarator":
            d = n.child_by_field_name("declarator")
            while d is not None and d.type != "identifier":
                d = d.child_by_field_name("declarator")
            if d is not None:
                out.add(d.text)
        elif n.type == "assignment_expression":
            left = n.child_by_field_name("left")
            while left is not None and left.type in ("pointer_expression", "parenthesized_expression"):
                left = left.child_by_field_name("argument") or (left.named_children or [None])[0]
            if left is not None and left.type == "identifier":
                out.add(left.text)
        stack.extend(n.children)
    return out


def _statement_unit(data: bytes, root: Node, offset: int, finding: Finding) -> _Unit:
    node = root.descendant_for_byte_range(offset, offset + 1)
    unit_node = None
    for a in ([node] if node is not None else []) + (list(ancestors(node)) if node is not None else []):
        if a.type in _UNIT_TYPES:
            unit_node = a
            break
    if unit_node is None:
        return _Unit(_line_start(data, offset), _line_end(data, offset), [finding])
    fn = next((a for a in ancestors(unit_node) if a.type == "function_definition"), None)
    return _Unit(_line_start(data, unit_node.start_byte), _line_end(data, unit_node.end_byte - 1), [finding],
                 scope=unit_node.parent, function=fn,
                 names_set=frozenset(_assigned(unit_node)), names_read=frozenset(_identifiers(unit_node)))


def _unit_of(data: bytes, conds: Conditionals, roots, finding: Finding, vocabulary: Vocabulary) -> _Unit:
    at = finding.occurrence.name_start
    for block, i in reversed(conds.enclosing(at)):
        if gains_rung(block, i, vocabulary) and taken(block, i, vocabulary.sides.new) is not False:
            br = block.branches[i]
            return _Unit(br.body_start, br.body_end, [finding], rung=(block, i))
    define = conds.define_at(at)
    if define is not None:
        return _Unit(define.start, define.end, [finding])
    root = next(r for s, e, r in roots if s <= at < e)
    return _statement_unit(data, root, at, finding)


def _function_body(data: bytes, fn: Node) -> tuple[int, int] | None:
    body = fn.child_by_field_name("body")
    if body is None:
        return None
    return _line_end(data, body.start_byte), _line_start(data, body.end_byte - 1)


def _tie(data: bytes, units: list[_Unit]) -> list[_Unit]:
    """Merge units that overlap, that are neighbouring statements of one block, or
    whose statements locals of one function tie (across blocks: the whole body).
    Two rungs of different branches that overlap become one guarded span."""
    changed = True
    while changed:
        changed = False
        for i, a in enumerate(units):
            for b in units[i + 1:]:
                overlap = a.start < b.end and b.start < a.end
                # Statements next to each other share one guard, as a maintainer writes it.
                adjacent = (a.end == b.start or b.end == a.start) and a.rung is None and b.rung is None \
                    and a.scope is not None and a.scope == b.scope
                tied = adjacent or (a.function is not None and a.function == b.function and a.rung is None
                        and b.rung is None and ((a.names_set & b.names_read) or (b.names_set & a.names_read)))
                if not (overlap or tied):
                    continue
                if overlap or a.scope == b.scope:
                    start, end = min(a.start, b.start), max(a.end, b.end)
                else:  # tied across blocks: the whole function body
                    start, end = _function_body(data, a.function) or (min(a.start, b.start), max(a.end, b.end))
                merged = _Unit(start, end, a.findings + b.findings, a.rung if a.rung == b.rung else None,
                               a.scope if a.scope == b.scope else None, a.function if a.function == b.function else None,
                               a.names_set | b.names_set, a.names_read | b.names_read)
                units = [u for u in units if u is not a and u is not b] + [merged]
                changed = True
                break
            if changed:
                break
    return sorted(units, key=lambda u: u.start)


def _where(f: Finding) -> str:
    o = f.occurrence
    return f"{o.path}:{o.line}:{o.col}"


def _elif_condition(data: bytes, block: Block, index: int) -> bytes:
    """The old branch's directive line as a rung of an #elif ladder (its comments kept)."""
    br = block.branches[index]
    line = data[br.start:br.body_start]
    m = re.match(rb"([ \t]*#[ \t]*)(ifdef|ifndef|if)([ \t]+)(\w+)?", line)
    if m is None:
        return line
    word = m.group(2)
    if word == b"if":
        return m.group(1) + b"elif" + line[m.end(2):]
    test = b"defined(" + m.group(4) + b")" if word == b"ifdef" else b"!defined(" + m.group(4) + b")"
    return m.group(1) + b"elif " + test + line[m.end():]


_VERSION_H_RE = re.compile(rb"^[ \t]*#[ \t]*include[ \t]*<linux/version\.h>", re.M)
_SYSTEM_INCLUDE_RE = re.compile(rb"^[ \t]*#[ \t]*include[ \t]*<[^\n]*\n", re.M)
_INCLUDE_GUARD_RE = re.compile(rb"(?:\s|/\*.*?\*/|//[^\n]*)*#[ \t]*ifndef[ \t]+(\w+)[^\n]*\n[ \t]*#[ \t]*define[ \t]+\1\b[^\n]*\n", re.S)
_HEADER_COMMENT_RE = re.compile(rb"(?:\s|/\*.*?\*/|//[^\n]*)*", re.S)


def _version_include(data: bytes, conds: Conditionals, first_unit: int) -> Edit | None:
    """`#include <linux/version.h>` where the file lacks it: after the last <...>
    include above the first guard that sits outside any conditional (but the
    include guard), else just inside the include guard, else after the leading comments."""
    if _VERSION_H_RE.search(data):
        return None
    guard = _INCLUDE_GUARD_RE.match(data)
    guard_block = conds.enclosing(guard.end())[0][0] if guard and conds.enclosing(guard.end()) else None
    at = None
    for m in _SYSTEM_INCLUDE_RE.finditer(data, 0, first_unit):
        if all(block is guard_block for block, _ in conds.enclosing(m.start())):
            at = m.end()
    if at is None:
        at = guard.end() if guard else _line_start(data, _HEADER_COMMENT_RE.match(data).end())
    return Edit(at, at, b"#include <linux/version.h>\n", "guard")


def emit_guarded(src: SourceFile, matches: Sequence[Match], findings: Sequence[Finding],
                 guard: str, stages: Mapping[str, str], needs_version_h: bool,
                 vocabulary: Vocabulary, guard_rules: frozenset[str] = frozenset()) -> Emitted:
    """The edits that put a file's decided rewrites behind the guard, unit by unit,
    and the in-place edits of the rules (ids in guard_rules) that decide existing guards."""
    data = src.data
    conds = read_conditionals(data)
    views = out_of_tree_views(src, None, conds, vocabulary)
    roots = [(v.start, v.end, v.tree.root_node) for v in reversed(views)]
    sites = [f for f in findings if f.occurrence.is_site and f.occurrence.kind in ("use", "string")]
    units = _tie(data, [_unit_of(data, conds, roots, f, vocabulary) for f in sites])

    edits: list[Edit] = []
    rewritten: list[Match] = []
    held: list[Held] = []
    guarded = 0
    for unit in units:
        inside = [m for m in matches if m.severity is Decision.REWRITE and unit.start <= m.start and m.end <= unit.end
                  and any(m.start <= f.occurrence.name_start < m.end for f in unit.findings)]
        covered = lambda f: any(m.start <= f.occurrence.name_start < m.end for m in inside)  # noqa: E731
        left = [f for f in unit.findings if f.severity is not Decision.REWRITE or not covered(f)]
        if left:
            if len(unit.findings) > 1:
                names = ", ".join(_where(f) for f in unit.findings)
                first = left[0]
                reason = (f"tied together ({names}); {_where(first)} is left: "
                          f"{first.message or 'no rule decides it'}")
            else:
                reason = left[0].message
            held.append(Held(tuple(unit.findings), reason))
            continue
        unit_edits = edits_for(data, inside)
        rewritten += inside
        if all(stages.get(m.rule_id) == "prepare" for m in inside):
            edits += unit_edits  # the helpers exist on both sides: no guard
            continue
        shifted = [Edit(e.start - unit.start, e.end - unit.start, e.text, e.rule_id) for e in unit_edits]
        old = data[unit.start:unit.end]
        new = apply_edits(old, shifted)
        if not new.endswith(b"\n"):
            new, old_tail = new + b"\n", b"\n"
        else:
            old_tail = b""
        head = f"#if {guard}\n".encode()
        if unit.rung is not None:
            block, i = unit.rung
            br = block.branches[i]
            if br.directive in ("if", "ifdef", "ifndef"):
                edits.append(Edit(br.start, br.body_start, head + new + _elif_condition(data, block, i), "guard"))
            else:
                edits.append(Edit(br.start, br.start, f"#elif {guard}\n".encode() + new, "guard"))
        else:
            edits.append(Edit(unit.start, unit.end, head + new + b"#else\n" + old + old_tail + b"#endif\n", "guard"))
        guarded += 1
    units_edited = [(e.start, e.end) for e in edits]
    for m in matches:
        # A conditional inside a unit above keeps its old copy byte for byte: left as it is.
        if m.rule_id in guard_rules and m.severity == "rewrite" \
                and not any(s < m.end and m.start < e for s, e in units_edited):
            edits += edits_for(data, [m])
            rewritten.append(m)
    if guarded and needs_version_h and not is_stp_path(src.path):
        include = _version_include(data, conds, min(e.start for e in edits if e.rule_id == "guard"))
        if include is not None:
            edits.append(include)
    return Emitted(tuple(edits), tuple(rewritten), tuple(held), guarded)
