"""A migration's words, read from its pack's vocabulary.toml.

The engine knows no API: what an old use looks like (tree-sitter queries
and byte regexes, each naming the kind of occurrence it finds), the new
API's named constants and how they are spelt, its header, and the series'
texts all come from the pack.  This module reads and checks that file into
a frozen value; the match stage runs its queries.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Mapping

import tree_sitter

from .errors import MigratorError
from .parse.preproc import Sides, sides_of_change
from .parse.source import c_language
from .tomlfile import check_fields, load_toml

VOCABULARY_FILE = "vocabulary.toml"


class OccurrenceKind(enum.StrEnum):
    """What an occurrence of the old API is; a closed set the engine acts on."""

    USE = "use"                  # a site: a rule must decide it
    GUARDED = "guarded"          # a site only kernels before the change compile: left alone
    SUPPORTS_BOTH = "supports-both"  # such a site beside a branch the new kernels compile
    DECLARATION = "declaration"  # a member of the old struct
    ALIAS = "alias"              # a macro renaming one old name to another
    PYTHON = "python"            # a script reading the old name (the kernel's own gdb scripts)
    PYTHON_READER = "python-reader"  # out of the tree: a runtime reader's access, a site
    COMMENT = "comment"          # a comment naming the old API: rules may update it
    API = "api"                  # a name of the old internal API: rules may change it
    STRING = "string"            # out of the tree: an old name in a C string a reader looks up
    TEXT = "text"                # out of the tree: an old name no parse read as code
    FOREIGN = "foreign"          # out of the tree: a same-named field of another declared type
    NEW = "new"                  # a use of the new API already (one that shares the old name)
    # An old name where the parser could not look (an ERROR node, a macro body),
    # or split by a backslash-newline the compiler joins: sites no rule can judge.
    UNPARSED = "unparsed"
    SPLICED = "spliced"

    @property
    def is_site(self) -> bool:
        """Whether a rewrite must deal with it; the rest is information."""
        return self in (OccurrenceKind.USE, OccurrenceKind.STRING, OccurrenceKind.PYTHON_READER,
                        OccurrenceKind.TEXT, OccurrenceKind.UNPARSED, OccurrenceKind.SPLICED)

    @property
    def is_decidable(self) -> bool:
        """Whether a rule may touch it (and so whether a version guard makes it GUARDED)."""
        return self in (OccurrenceKind.USE, OccurrenceKind.COMMENT, OccurrenceKind.API,
                        OccurrenceKind.STRING)

    @property
    def is_kept(self) -> bool:
        """Whether an existing conditional keeps it from kernels with the change: what a
        rule that decides guards (rules.DECIDES) decides, through that conditional."""
        return self in (OccurrenceKind.GUARDED, OccurrenceKind.SUPPORTS_BOTH)


class TextForm(enum.StrEnum):
    """What a scan line shows of an occurrence."""

    NODE = "node"    # the text of its span
    LINE = "line"    # the source line its name is on
    WORDS = "words"  # the text of its span, blanks folded


@dataclass(frozen=True)
class OccurrencePattern:
    """One way an old use looks: a C tree-sitter query or a byte regex (Python files)."""

    kind: OccurrenceKind
    language: str  # "c" or "python"
    query: str | None = None  # C: captures @name, optional @occurrence, @member, @receiver
    regex: bytes | None = None  # Python: a byte regex with a group `name`
    receiver_type: str | None = None  # a receiver declared with another type is not a use
    within: bytes | None = None  # every hit of this byte regex inside @occurrence is one
    # A byte regex locating the pattern's hits where the old names do not (a
    # kernel run queries only the definitions holding one or the other).
    anchor: bytes | None = None
    not_parent: tuple[str, ...] = ()  # node types whose child @name is no occurrence
    text: TextForm = TextForm.NODE
    # The runs that look for it: "kernel", "out-of-tree" or both (code outside
    # the kernel is read for more: strings runtime readers look up, say).
    modes: tuple[str, ...] = ("kernel", "out-of-tree")


@dataclass(frozen=True)
class ConfigOption:
    """A kernel config option of the old API's world, and where it may be set."""

    name: str  # CONFIG_...
    selected_in: tuple[str, ...]  # path prefixes (an architecture's folder) whose Kconfig selects it
    why: str = ""  # which Kconfig line selects it, for the report


@dataclass(frozen=True)
class OldApi:
    """Where the old API occurs."""

    prefilter: bytes  # a byte regex: only files holding it are parsed
    needle: bytes  # a plain substring of every prefilter hit, tested first
    occurrences: tuple[OccurrencePattern, ...]
    # The kernel before the change that out-of-tree code still builds for: its
    # #if lines are evaluated for it and for any kernel with the change.
    before: tuple[int, int] = (0, 0)
    macros: tuple[str, ...] = ()  # macros the old API defines and the new one lacks
    # A regex of the names projects give their own probes of the change (a
    # configure test's result): such an #if chooses an API, as a version test does.
    probe_names: str | None = None
    # The struct only kernels before the change define: a kernel's header tells
    # its side by defining it or the new API's `struct`.
    struct: str | None = None
    # Config options that change what the old API meant, each with the folders
    # whose Kconfig may select it: a rule's `when` row that holds only without
    # one (its `without`) is reported, not rewritten, where the option may be set.
    configs: tuple["ConfigOption", ...] = ()

    def config(self, name: str) -> "ConfigOption | None":
        return next((c for c in self.configs if c.name == name), None)

    @property
    def prefilter_re(self) -> re.Pattern[bytes]:
        return _compiled(self.prefilter)


@dataclass(frozen=True)
class NewApi:
    """The new API's names: named constants (by key) and how a tree spells them."""

    api_header: str | None = None  # the header that defines the new API in a tree
    types: tuple[str, ...] = ()  # keys, in the enum's order
    init_types: tuple[str, ...] = ()
    core_types: tuple[str, ...] = ()
    spellings: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({"short": ""}))  # style -> prefix
    enum: str | None = None  # the C enum a tree with the new API already defines
    count: str | None = None  # the constant counting the types (spelt the same in every style)
    invalid: str | None = None  # the key of the "no type" marker
    struct: str | None = None  # the struct only kernels with the change define
    field_structs: tuple[str, ...] = ()  # the structs whose fields are the new API
    indexed_member: str | None = None  # the member the types index: its index is an enumerator
    index_prefix: str | None = None  # the API's constants begin with it
    helper_names: str | None = None  # a regex searched in a called name: a helper of the API
    statement_macros: tuple[str, ...] = ()  # iterator macros used like statements
    # Macros of the new API: defined on kernels that have it, undefined before.
    macros: tuple[str, ...] = ()
    # An #if expression true on exactly the kernels with the new API, whatever
    # their version (vendor backports); None where no such test exists.
    probe: str | None = None

    def is_helper(self, name: str) -> bool:
        """Whether a called name is one of the API's helpers (by `helper_names`)."""
        return self.helper_names is not None and re.search(self.helper_names, name) is not None

    def is_type(self, enumerator: str) -> bool:
        """Whether an enumerator of `enum` names a type: not the count, not the marker
        (spelt PREFIX_INVALID in any style, so known by its key's ending)."""
        not_types = tuple(k for k in (self.count, self.invalid) if k)
        return not enumerator.endswith(not_types)

    def type_names(self, style: str = "short") -> Mapping[str, str]:
        """Key -> constant, e.g. TEXT -> PREFIX_TEXT; NUM names the count, INVALID the marker."""
        prefix = self.spellings[style]
        names = {key: prefix + key for key in self.types}
        if self.count is not None:
            names["NUM"] = self.count
        if self.invalid is not None:
            names["INVALID"] = prefix + self.invalid
        return MappingProxyType(names)

    def names_defined_in(self, header: bytes) -> Mapping[str, str] | None:
        """The names a header's own enum uses, or None if it has none (or lacks a type).

        Enumerators are matched to keys by their endings, longest key first,
        so X_INIT_TEXT is INIT_TEXT and not TEXT.
        """
        if self.enum is None:
            return None
        m = re.search(rb"enum\s+" + re.escape(self.enum.encode()) + rb"\s*\{(?P<body>[^}]*)\}", header, re.S)
        if m is None:
            return None
        body = re.sub(rb"/\*.*?\*/", b"", m.group("body"), flags=re.S)
        enumerators = [e.decode() for e in _ENUMERATOR_RE.findall(body.replace(b",", b"\n"))]
        count_key = self.count.removeprefix(self.spellings["short"]) if self.count else None
        wanted = {key: key for key in self.types}
        if count_key:
            wanted[count_key] = "NUM"
        if self.invalid:
            wanted[self.invalid] = "INVALID"
        names: dict[str, str] = {}
        for ending in sorted(wanted, key=len, reverse=True):
            for e in enumerators:
                if e.endswith("_" + ending) and e not in names.values():
                    names[wanted[ending]] = e
                    break
        if not all(k in names for k in self.types):
            return None
        if self.count:
            names.setdefault("NUM", self.count)
        if self.invalid:
            names.setdefault("INVALID", self.spellings["short"] + self.invalid)
        return MappingProxyType(names)


@dataclass(frozen=True)
class SeriesTexts:
    flag_day_subject: str = ""  # the subject of the patch that carries the change itself
    helpers: tuple[str, ...] = ()  # helpers that exist before and after, named in preparation subjects
    out_of_tree_summary: str = ""  # the subject of out-of-tree code's one patch, after its own prefix


@dataclass(frozen=True)
class Vocabulary:
    path: Path
    old: OldApi
    new: NewApi
    series: SeriesTexts
    sides: Sides  # the kernels before and after the change, as #if lines see them
    # What a scan says of an occurrence no rule decides, by kind, in the pack's words.
    notes: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))


_ENUMERATOR_RE = re.compile(rb"^\s*([A-Z_][A-Z0-9_]*)", re.M)

_COMPILED: dict[bytes, re.Pattern[bytes]] = {}


def _compiled(pattern: bytes) -> re.Pattern[bytes]:
    if pattern not in _COMPILED:
        _COMPILED[pattern] = re.compile(pattern)
    return _COMPILED[pattern]


_TOP = {"old": dict, "new": dict, "series": dict, "notes": dict}
_OLD = {"prefilter": str, "needle": str, "occurrence": list, "before": str, "macros": list,
        "probe_names": str, "struct": str, "config": list}
_CONFIG = {"name": str, "selected_in": list, "why": str}
_OCCURRENCE = {"kind": str, "language": str, "query": str, "regex": str, "receiver_type": str,
               "within": str, "anchor": str, "not_parent": list, "text": str, "modes": list}
_NEW = {"api_header": str, "types": list, "init_types": list, "core_types": list, "spellings": dict,
        "enum": str, "count": str, "invalid": str, "statement_macros": list, "macros": list,
        "probe": str, "struct": str, "field_structs": list,
        "indexed_member": str, "index_prefix": str, "helper_names": str}
_SERIES = {"flag_day_subject": str, "helpers": list, "out_of_tree_summary": str}
# Kinds a pack may declare; the engine gives the others (a guard, a foreign receiver).
_DECLARABLE = tuple(k for k in OccurrenceKind if k not in (
    OccurrenceKind.GUARDED, OccurrenceKind.SUPPORTS_BOTH, OccurrenceKind.TEXT, OccurrenceKind.FOREIGN,
    OccurrenceKind.UNPARSED, OccurrenceKind.SPLICED))
_MODES = ("kernel", "out-of-tree")


def _strings(where: str, value: list) -> tuple[str, ...]:
    if not all(isinstance(v, str) for v in value):
        raise _error(f"{where}: must be a list of strings")
    return tuple(value)


def _error(message: str) -> MigratorError:
    return MigratorError(message)


def _regex(where: str, text: str) -> bytes:
    try:
        re.compile(text.encode())
    except re.error as e:
        raise _error(f"{where}: not a regular expression: {e}") from None
    return text.encode()


def _occurrence(where: str, table: dict) -> OccurrencePattern:
    check_fields(where, table, _OCCURRENCE, ("kind", "language"))
    if "regex" in table:
        _regex(f"{where}: field 'regex'", table["regex"])
    if table["kind"] not in _DECLARABLE:
        raise _error(f"{where}: field 'kind' must be one of {', '.join(_DECLARABLE)}")
    language = table["language"]
    if language == "c":
        if "query" not in table or "regex" in table:
            raise _error(f"{where}: a C occurrence has a 'query' and no 'regex'")
        _check_query(where, table["query"])
    elif language == "python":
        if "regex" not in table or "query" in table:
            raise _error(f"{where}: a Python occurrence has a 'regex' and no 'query'")
        if "name" not in re.compile(table["regex"].encode()).groupindex:
            raise _error(f"{where}: field 'regex' has no group 'name'")
    else:
        raise _error(f"{where}: field 'language' must be c or python")
    if table.get("text", "node") not in tuple(TextForm):
        raise _error(f"{where}: field 'text' must be one of {', '.join(TextForm)}")
    modes = _strings(f"{where}: field 'modes'", table.get("modes", list(_MODES)))
    if not modes or not set(modes) <= set(_MODES):
        raise _error(f"{where}: field 'modes' must list some of {', '.join(_MODES)}")
    return OccurrencePattern(
        kind=OccurrenceKind(table["kind"]), language=language, query=table.get("query"),
        regex=_regex(f"{where}: field 'regex'", table["regex"]) if "regex" in table else None,
        receiver_type=table.get("receiver_type"),
        within=_regex(f"{where}: field 'within'", table["within"]) if "within" in table else None,
        anchor=_regex(f"{where}: field 'anchor'", table["anchor"]) if "anchor" in table else None,
        not_parent=_strings(f"{where}: field 'not_parent'", table.get("not_parent", [])),
        text=TextForm(table.get("text", "node")),
        modes=modes,
    )


def _check_query(where: str, source: str) -> None:
    """A query must compile against the C grammar and capture @name or @occurrence."""
    try:
        query = tree_sitter.Query(c_language(), source)
    except (tree_sitter.QueryError, ValueError) as e:
        raise _error(f"{where}: field 'query': {' '.join(str(e).split())}") from None
    names = {query.capture_name(i) for i in range(query.capture_count)}
    if not names & {"name", "occurrence"}:
        raise _error(f"{where}: field 'query' captures neither @name nor @occurrence")


def _notes(where: str, table: dict) -> Mapping[str, str]:
    check_fields(where, table, dict.fromkeys(OccurrenceKind, str))
    return MappingProxyType(dict(table))


def load_vocabulary(path: Path, landed: tuple[int, int, int]) -> Vocabulary:
    """The vocabulary file at path, of a change that landed in `landed`; a bad
    one is a one-line MigratorError naming the field."""
    data = load_toml(path)
    check_fields(str(path), data, _TOP, ("old",))
    old = data["old"]
    check_fields(f"{path}: [old]", old, _OLD, ("prefilter", "needle", "occurrence"))
    patterns = tuple(_occurrence(f"{path}: [[old.occurrence]] {i + 1}", t)
                     for i, t in enumerate(old["occurrence"]))
    prefilter = _regex(f"{path}: [old] field 'prefilter'", old["prefilter"])
    new = data.get("new", {})
    check_fields(f"{path}: [new]", new, _NEW)
    lists = {k: _strings(f"{path}: [new] field '{k}'", new[k])
             for k in ("types", "init_types", "core_types", "statement_macros", "macros",
                       "field_structs") if k in new}
    for k in ("init_types", "core_types"):
        if not set(lists.get(k, ())) <= set(lists.get("types", ())):
            raise _error(f"{path}: [new] field '{k}' names a key not in 'types'")
    spellings = new.get("spellings", {"short": ""})
    if "short" not in spellings or not all(isinstance(v, str) for v in spellings.values()):
        raise _error(f"{path}: [new] field 'spellings' must map 'short' (and other styles) to prefixes")
    before = old.get("before", "0.0")
    if not re.fullmatch(r"\d+\.\d+", before) or tuple(map(int, before.split("."))) >= landed[:2]:
        raise _error(f"{path}: [old] field 'before': '{before}' is not a version like 6.1 before the change")
    old_macros = _strings(f"{path}: [old] field 'macros'", old.get("macros", []))
    if "probe_names" in old:
        _regex(f"{path}: [old] field 'probe_names'", old["probe_names"])
    configs = []
    for i, table in enumerate(old.get("config", [])):
        where = f"{path}: [[old.config]] {i + 1}"
        check_fields(where, table, _CONFIG, ("name",))
        configs.append(ConfigOption(table["name"], _strings(f"{where} field 'selected_in'",
                                                            table.get("selected_in", [])),
                                    table.get("why", "")))
    if "helper_names" in new:
        _regex(f"{path}: [new] field 'helper_names'", new["helper_names"])
    series = data.get("series", {})
    check_fields(f"{path}: [series]", series, _SERIES)
    return Vocabulary(
        path=path,
        old=OldApi(prefilter, old["needle"].encode(), patterns, tuple(map(int, before.split("."))), old_macros,
                   old.get("probe_names"), old.get("struct"), tuple(configs)),
        new=NewApi(api_header=new.get("api_header"), spellings=MappingProxyType(dict(spellings)),
                   enum=new.get("enum"), count=new.get("count"), invalid=new.get("invalid"),
                   probe=new.get("probe"), struct=new.get("struct"),
                   indexed_member=new.get("indexed_member"), index_prefix=new.get("index_prefix"),
                   helper_names=new.get("helper_names"), **lists),
        series=SeriesTexts(series.get("flag_day_subject", ""),
                           _strings(f"{path}: [series] field 'helpers'", series.get("helpers", [])),
                           series.get("out_of_tree_summary", "")),
        notes=_notes(f"{path}: [notes]", data.get("notes", {})),
        sides=sides_of_change(tuple(map(int, before.split("."))), landed, frozenset(old_macros),
                              frozenset(lists.get("macros", ()))),
    )
