"""Region rules: code that is replaced as a whole, found with tree-sitter.

Site rules decide expressions; some code must be replaced whole (a struct
definition, a function whose body becomes a loop over types).  A region
rule names one file and lists its regions.  Each region is found by a
tree-sitter query whose @site capture is the region (or, in a file that is
not C, by a regex that must match exactly once), kept only where its `has`
conditions hold and its `not` conditions do not, and replaced (or preceded)
by a jinja2 template.

A rule is all or nothing on its file: when any region is missing or has
another shape, the rule refuses with every reason at once and changes
nothing, since a half-migrated file is worse than none.  The bytes a region
replaces belong to its rule, so site rules do not touch them, and a scan
knows this at match time.
"""

from __future__ import annotations

import enum
import os
import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Mapping

import jinja2
import tree_sitter
from tree_sitter import Node

from ..errors import MigratorError
from ..parse.lines import line_span, whole_lines
from ..parse.source import SourceFile, is_c_path
from ..tomlfile import check_fields, load_toml
from .template_env import compiled
from .rules import (CONFIDENCES, ID_RE, SEVERITIES, STAGES, NoMatchCase,
                    _compile_query, _check_template, _RuleFileError)

SPANS = ("one", "run", "lines")
ANCHORS = ("replace", "insert-before")
COMMENTS = ("none", "adjacent", "across-blank-lines")
_NAME_RE = re.compile(r"^[A-Za-z_]\w*$")


class RegionStatus(str, enum.Enum):
    APPLIED = "applied"
    REFUSED = "refused"
    DONE = "done"  # the file already has the new shape


@dataclass(frozen=True)
class Condition:
    """A `has`, `not` or `done_if` entry: a name (a token of that name in C, the
    word in other text), a tree-sitter query, or (not C) a regex."""

    source: str
    query: tree_sitter.Query | None = field(default=None, compare=False, repr=False)
    regex: re.Pattern | None = field(default=None, compare=False, repr=False)
    name: bytes | None = None  # C: any identifier, field or type spelled so

    def holds(self, root: Node | None, data: bytes, start: int, end: int) -> bool:
        """Whether it matches inside [start, end)."""
        if self.regex is not None:
            return self.regex.search(data, start, end) is not None
        cursor = tree_sitter.QueryCursor(_tokens() if self.name is not None else self.query)
        cursor.set_byte_range(start, end)
        for _, caps in cursor.matches(root):
            nodes = [n for ns in caps.values() for n in ns]
            if self.name is not None and nodes[0].text != self.name:
                continue
            if all(start <= n.start_byte and n.end_byte <= end for n in nodes):
                return True
        return False


@lru_cache(maxsize=1)
def _tokens() -> tree_sitter.Query:
    """Every name token; one query for all name conditions, filtered by text."""
    return _compile_query("name", "[(identifier) (field_identifier) (type_identifier)] @name")


@dataclass(frozen=True)
class Region:
    """One region of a rule's file, and what it becomes."""

    label: str  # how refusals name it: "the_function()", "struct the_struct"
    template: str  # the template file's path
    pattern: str | None = None  # C: a tree-sitter query with @site
    text: str | None = None  # not C: a regex matching the region exactly once
    has: tuple[Condition, ...] = ()
    not_: tuple[Condition, ...] = ()
    # one: exactly one @site is the region; run: from the first @site to the last,
    # whatever lies between; lines: the lines of every @site, with nothing else between.
    span: str = "one"
    anchor: str = "replace"  # or insert-before: the template goes above, nothing is replaced
    comments: str = "none"  # take the comment lines right above the region along
    query: tree_sitter.Query | None = field(default=None, compare=False, repr=False)
    source: str = field(default="", compare=False, repr=False)  # the template's text

    @property
    def compiled(self) -> jinja2.Template:
        """The template, compiled when first rendered, not at load."""
        return compiled(self.source)


@dataclass(frozen=True)
class RegionRule:
    id: str
    path: str
    file: str  # the file of the tree, relative to its root, whose regions these are
    description: str
    severity: str
    confidence: str
    stage: str
    regions: tuple[Region, ...]
    done_if: tuple[Condition, ...] = ()
    renames: tuple[tuple[str, str], ...] = ()
    match_cases: tuple[str, ...] = ()
    no_match_cases: tuple[NoMatchCase, ...] = ()

    @property
    def summary(self) -> str:
        return self.description.strip().splitlines()[0]

    @property
    def is_c(self) -> bool:
        return is_c_path(self.file)

    @property
    def snapshot(self) -> str:
        """The file pinning the rule's output on each of its match cases."""
        return os.path.join(os.path.dirname(self.path), "snapshots", f"{self.id}.snap")


@dataclass(frozen=True)
class Replacement:
    start: int
    end: int
    text: bytes


@dataclass(frozen=True)
class RegionResult:
    rule: RegionRule
    status: RegionStatus
    reason: str = ""
    replacements: tuple[Replacement, ...] = ()
    owned: tuple[tuple[int, int], ...] = ()  # the bytes the regions replace


# ---------------------------------------------------------------- loading

_TOP_FIELDS = {
    "kind": str, "id": str, "file": str, "description": str, "severity": str,
    "confidence": str, "stage": str, "done_if": list, "region": list, "rename": list,
    "tests": dict,
}
_REGION_FIELDS = {
    "label": str, "pattern": str, "text": str, "has": list, "not": list, "span": str,
    "anchor": str, "comments": str, "template": str,
}


def _condition(where: str, source, is_c: bool) -> Condition:
    if not isinstance(source, str):
        raise _RuleFileError(f"{where}: must be a string")
    if _NAME_RE.match(source):
        if is_c:
            return Condition(source, name=source.encode())
        return Condition(source, regex=re.compile(rf"\b{source}\b".encode()))
    if is_c:
        return Condition(source, query=_compile_query(where, source))
    try:
        return Condition(source, regex=re.compile(source.encode(), re.M))
    except re.error as e:
        raise _RuleFileError(f"{where}: {e}") from None


def _choice(where: str, table: dict, key: str, allowed: tuple, default: str) -> str:
    value = table.get(key, default)
    if value not in allowed:
        raise _RuleFileError(f"{where}: field '{key}' must be one of {', '.join(allowed)}")
    return value


def _region(path: str, i: int, r: dict, is_c: bool) -> Region:
    where = f"{path}: region[{i}]"
    check_fields(where, r, _REGION_FIELDS, ("label", "template"))
    template = os.path.join(os.path.dirname(path), r["template"])
    try:
        with open(template, encoding="utf-8") as f:
            source = f.read()
    except OSError:
        raise _RuleFileError(f"{where}: field 'template': no file {r['template']}") from None
    _check_template(f"{where}: field 'template'", source, set())
    conds = {key: tuple(_condition(f"{where}: {key}[{j}]", c, is_c) for j, c in enumerate(r.get(key, ())))
             for key in ("has", "not")}
    span = _choice(where, r, "span", SPANS, "one")
    anchor = _choice(where, r, "anchor", ANCHORS, "replace")
    comments = _choice(where, r, "comments", COMMENTS, "none")
    if is_c:
        if "pattern" not in r or "text" in r:
            raise _RuleFileError(f"{where}: a region of a C file has a 'pattern' (and no 'text')")
        query = _compile_query(f"{where}: field 'pattern'", r["pattern"])
        if "site" not in [query.capture_name(k) for k in range(query.capture_count)]:
            raise _RuleFileError(f"{where}: field 'pattern' captures no @site")
        return Region(r["label"], template, pattern=r["pattern"], has=conds["has"], not_=conds["not"],
                      span=span, anchor=anchor, comments=comments, query=query, source=source)
    if "text" not in r or "pattern" in r:
        raise _RuleFileError(f"{where}: a region of a file that is not C has a 'text' regex "
                             "(and no 'pattern')")
    if span != "one" or anchor != "replace" or comments != "none":
        raise _RuleFileError(f"{where}: a text region is one match, replaced")
    try:
        re.compile(r["text"], re.M)
    except re.error as e:
        raise _RuleFileError(f"{where}: field 'text': {e}") from None
    return Region(r["label"], template, text=r["text"], has=conds["has"], not_=conds["not"],
                  source=source)


def load_region_rule(path: str | os.PathLike) -> RegionRule:
    path = str(path)
    data = load_toml(path)
    check_fields(path, data, _TOP_FIELDS,
                  ("kind", "id", "file", "description", "severity", "confidence", "region"))
    if data["kind"] != "region":
        raise _RuleFileError(f"{path}: field 'kind' must be \"region\"")
    if not ID_RE.match(data["id"]) or os.path.basename(path) != f"{data['id']}.toml":
        raise _RuleFileError(f"{path}: field 'id': '{data['id']}' must be kebab-case and the file's name")
    _choice(path, data, "severity", SEVERITIES, "rewrite")
    _choice(path, data, "confidence", CONFIDENCES, "high")
    stage = _choice(path, data, "stage", STAGES, "flag-day")
    is_c = is_c_path(data["file"])
    regions = tuple(_region(path, i, r, is_c) for i, r in enumerate(data["region"]))
    if not regions:
        raise _RuleFileError(f"{path}: field 'region': no region")
    done_if = tuple(_condition(f"{path}: done_if[{j}]", c, is_c) for j, c in enumerate(data.get("done_if", ())))
    renames = []
    for j, r in enumerate(data.get("rename", ())):
        check_fields(f"{path}: rename[{j}]", r, {"from": str, "to": str}, ("from", "to"))
        renames.append((r["from"], r["to"]))
    tests = data.get("tests", {})
    check_fields(f"{path}: tests", tests, {"match": list, "no_match": list})
    match_cases, no_match_cases = [], []
    for j, case in enumerate(tests.get("match", [])):
        check_fields(f"{path}: tests.match[{j}]", case, {"code": str}, ("code",))
        match_cases.append(case["code"])
    for j, case in enumerate(tests.get("no_match", [])):
        check_fields(f"{path}: tests.no_match[{j}]", case, {"code": str, "why": str}, ("code", "why"))
        no_match_cases.append(NoMatchCase(case["code"], case["why"]))
    return RegionRule(data["id"], path, data["file"], data["description"], data["severity"],
                      data["confidence"], stage, regions, done_if, tuple(renames),
                      tuple(match_cases), tuple(no_match_cases))


def load_region_rules(directory: str | os.PathLike) -> tuple[RegionRule, ...]:
    directory = str(directory)
    if not os.path.isdir(directory):
        return ()
    return tuple(load_region_rule(os.path.join(directory, p))
                 for p in sorted(os.listdir(directory)) if p.endswith(".toml"))


# ---------------------------------------------------------------- finding

class _Refused(Exception):
    pass


def _with_comments_above(data: bytes, start: int, across_blank_lines: bool) -> int:
    """Move start up over the comment lines right above it."""
    lines_start = data.rfind(b"\n", 0, start) + 1
    while lines_start > 0:
        prev = data.rfind(b"\n", 0, lines_start - 1) + 1
        line = data[prev:lines_start].strip()
        if line.endswith(b"*/") or line.startswith((b"/*", b"*", b"//")):
            lines_start = prev
        elif not line and across_blank_lines:
            # A blank line counts only if a comment stands above it.
            above = data[data.rfind(b"\n", 0, max(prev - 1, 0)) + 1:prev].strip()
            if not above.endswith(b"*/"):
                break
            lines_start = prev
        else:
            break
    return lines_start


def _holds(region: Region, root: Node, data: bytes, start: int, end: int) -> bool:
    return (all(c.holds(root, data, start, end) for c in region.has)
            and not any(c.holds(root, data, start, end) for c in region.not_))


def _shape_refusal(region: Region, root: Node, data: bytes, spans: list[tuple[int, int]]) -> str:
    missing = [c.source for c in region.has
               if not any(c.holds(root, data, s, e) for s, e in spans)]
    if missing:
        return f"{region.label} does not use {', '.join(missing)}: not the shape this rule replaces"
    present = [c.source for c in region.not_ if any(c.holds(root, data, s, e) for s, e in spans)]
    return f"{region.label} uses {', '.join(present)}: not the shape this rule replaces"


def _wrapper_of_sites(node: Node, sites: set[tuple[int, int]]) -> bool:
    """A preprocessor conditional that holds nothing but sites goes with them."""
    cond = node.child_by_field_name("condition")
    inner = [c for c in node.named_children if c.type != "identifier" and c != cond]
    return bool(inner) and all((c.start_byte, c.end_byte) in sites for c in inner)


def _lines_extent(region: Region, sites: list[Node], data: bytes) -> tuple[int, int]:
    """The whole lines of the sites (and of conditionals holding only sites), which
    must follow each other with only blank lines between."""
    spans = {(n.start_byte, n.end_byte) for n in sites}
    nodes = list(sites)
    parents = {n.parent.id: n.parent for n in sites if n.parent is not None and n.parent.type.startswith("preproc_if")}
    nodes += [p for p in parents.values() if _wrapper_of_sites(p, spans)]
    lines = {ln for n in nodes for ln in range(n.start_point[0], n.end_point[0] + 1)}
    first, last = min(lines), max(lines)
    text_lines = data.split(b"\n")
    for ln in range(first, last + 1):
        if ln not in lines and text_lines[ln].strip():
            raise _Refused(f"{region.label}: other code between them (line {ln + 1})")
    start = sum(len(line) + 1 for line in text_lines[:first])
    end = sum(len(line) + 1 for line in text_lines[:last + 1])
    return start, min(end, len(data))


def _one_extent(node: Node, data: bytes) -> tuple[int, int]:
    """The whole lines of one site, with what belongs to it."""
    if node.type.startswith("preproc"):
        parent = node.parent
        # A conditional that holds nothing but this definition goes with it.
        if parent is not None and parent.type.startswith("preproc_if") and \
                _wrapper_of_sites(parent, {(node.start_byte, node.end_byte)}):
            node = parent
        # A preprocessor node ends after its newline: its last line is the one before.
        return line_span(data, node.start_byte, max(node.end_byte - 1, node.start_byte))
    end = node.end_byte
    semi = node.next_sibling
    if node.type == "struct_specifier" and semi is not None and semi.type == ";":
        end = semi.end_byte  # a definition ends at its semicolon
    elif node.type == "struct_specifier" and node.parent is not None and node.parent.type == "declaration":
        end = node.parent.end_byte
    return line_span(data, node.start_byte, end)


def _c_extent(region: Region, root: Node, data: bytes) -> tuple[int, int]:
    cursor = tree_sitter.QueryCursor(region.query)
    found: dict[tuple[int, int], Node] = {}
    for _, caps in cursor.matches(root):
        for n in caps.get("site", ()):
            found.setdefault((n.start_byte, n.end_byte), n)
    sites = [found[k] for k in sorted(found)]
    if not sites:
        raise _Refused(f"{region.label}: not found")
    if region.span == "one":
        shaped = [n for n in sites if _holds(region, root, data, n.start_byte, n.end_byte)]
        if not shaped:
            raise _Refused(_shape_refusal(region, root, data, [(n.start_byte, n.end_byte) for n in sites]))
        if len(shaped) > 1:
            raise _Refused(f"{region.label} is found {len(shaped)} times with the shape this rule replaces")
        start, end = _one_extent(shaped[0], data)
    elif region.span == "run":
        start, end = sites[0].start_byte, max(n.end_byte for n in sites)
        if not _holds(region, root, data, start, end):
            raise _Refused(_shape_refusal(region, root, data, [(start, end)]))
        start, end = line_span(data, start, end)
    else:
        start, end = _lines_extent(region, sites, data)
        if not _holds(region, root, data, start, end):
            raise _Refused(_shape_refusal(region, root, data, [(start, end)]))
    if region.comments != "none" or region.anchor == "insert-before":
        start = _with_comments_above(data, start, region.comments == "across-blank-lines")
    return start, end


def _text_extent(region: Region, data: bytes) -> tuple[int, int]:
    found = list(re.finditer(region.text.encode(), data, re.M))
    if len(found) != 1:
        raise _Refused(f"{region.label}: the text /{region.text}/ occurs {len(found)} times, not once")
    start, end = line_span(data, found[0].start(), max(found[0].end() - 1, found[0].start()))
    if not _holds(region, None, data, start, end):
        raise _Refused(_shape_refusal(region, None, data, [(start, end)]))
    return start, end


def _render(region: Region, names: Mapping[str, str]) -> bytes:
    try:
        text = region.compiled.render(T=names)
    except jinja2.TemplateError as e:
        raise MigratorError(f"{region.template}: {e}") from None
    if not text.strip():
        return b""
    return text.encode() if text.endswith("\n") else (text + "\n").encode()


def _renames(root: Node, rule: RegionRule, owned: list[tuple[int, int]]) -> list[Replacement]:
    wanted = {old.encode(): new.encode() for old, new in rule.renames}
    if not wanted:
        return []
    out = []
    for _, caps in tree_sitter.QueryCursor(_tokens()).matches(root):
        n = caps["name"][0]
        if n.text in wanted and not any(s <= n.start_byte < e for s, e in owned):
            out.append(Replacement(n.start_byte, n.end_byte, wanted[n.text]))
    return sorted(out, key=lambda r: r.start)


def match_regions(rule: RegionRule, src: SourceFile, tree: tree_sitter.Tree | None,
                  names: Mapping[str, str]) -> RegionResult:
    """The replacements of one region rule on its file, or why it refuses (all or nothing)."""
    root = tree.root_node if tree is not None else None
    if any(c.holds(root, src.data, 0, len(src.data)) for c in rule.done_if):
        return RegionResult(rule, RegionStatus.DONE, f"{rule.file} already has {rule.done_if[0].source}")
    owned: list[tuple[int, int]] = []
    replacements: list[Replacement] = []
    refusals: list[str] = []
    # Every region is looked at, so a refusal names all that differ at once.
    for region in rule.regions:
        try:
            if region.text is not None:
                start, end = _text_extent(region, src.data)
            elif root is None:
                raise _Refused(f"{rule.file} was not parsed as C")
            else:
                start, end = _c_extent(region, root, src.data)
            if any(s < end and start < e for s, e in owned):
                raise _Refused(f"two regions overlap at line {src.line_col(start)[0]}")
        except _Refused as e:
            refusals.append(str(e))
            continue
        text = _render(region, names)
        if region.anchor == "insert-before":
            text += b"\n"  # new code stands apart from what follows
            end = start
        elif not text:
            start, end = whole_lines(src.data, start, end)
        owned.append((start, end))
        replacements.append(Replacement(start, end, text))
    if refusals:
        return RegionResult(rule, RegionStatus.REFUSED, "; ".join(refusals))
    if root is not None:
        replacements += _renames(root, rule, owned)
    return RegionResult(rule, RegionStatus.APPLIED, "", tuple(replacements), tuple(owned))


def owner_of(results, offset: int) -> RegionRule | None:
    """The rule whose applied region holds the byte at offset."""
    for r in results:
        if any(s <= offset < e for s, e in r.owned):
            return r.rule
    return None


__all__ = ["RegionRule", "Region", "RegionResult", "RegionStatus", "Replacement", "Condition",
           "load_region_rule", "load_region_rules", "match_regions", "owner_of"]
