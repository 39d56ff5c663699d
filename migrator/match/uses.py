"""Every occurrence of a migration's old API in one file, and what kind it is.

What an occurrence looks like is the pack's (vocabulary.toml): each
pattern is a tree-sitter query over C or a byte regex over Python, and
names the kind of what it finds (see vocabulary.OccurrenceKind).  The
engine adds what is the same for every migration:
  - a decidable occurrence inside an existing LINUX_VERSION_CODE guard is
    GUARDED: such code already chooses between the old and the new API;
  - a receiver declared with another type than the pattern's is somebody
    else's field, not an occurrence;
  - of several hits at one name, the widest wins (`p->old.member` over
    `p->old`);
  - an old name (the vocabulary's prefilter) that no pattern found and that
    sits where the parser could not look (an ERROR node, a macro body) is
    UNPARSED, and one split by a backslash-newline is SPLICED: sites no rule
    can judge, always left and listed.

Out of the kernel tree the preprocessor's conditionals are read and
evaluated for a kernel before and after the change, and more is found:
  - a use that no kernel with the change compiles is GUARDED, or
    SUPPORTS_BOTH beside a branch that such kernels compile;
  - a receiver of another declared type is FOREIGN (listed, not a site);
  - #define values and a tapset's embedded C are read too (parse/views.py),
    and the patterns whose `modes` name out-of-tree run as well;
  - a script's read of an old name is a PYTHON_READER site;
  - an old name (the vocabulary's prefilter) that no pattern found is TEXT:
    every name is listed, so nothing is silent.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass
from functools import lru_cache

import tree_sitter
from tree_sitter import Node

from ..migration import DEFAULT_MIGRATION, load_migration
from ..parse.preproc import Conditionals, Side, compiled, taken
from ..parse.source import (SourceFile, c_language, matches_holding, matches_in, parent, parse_c, units_around,
                             whole)
from ..parse.views import code_views
from ..vocabulary import OccurrenceKind, OccurrencePattern, TextForm, Vocabulary
from .context import ancestors, declared_type, is_type, is_version_guarded

# Sites no rule can see: always left and listed.
UNREAD_KINDS = (OccurrenceKind.UNPARSED, OccurrenceKind.SPLICED)


@dataclass(frozen=True)
class Occurrence:
    """One occurrence: where it is, which old name, which member, and its kind."""

    path: str
    kind: OccurrenceKind
    name: str  # the old name itself
    member: str | None  # a member read through it, e.g. base
    start: int  # byte span a rule must cover, e.g. `p->old.member`
    end: int
    name_start: int  # byte offset of the old name
    line: int
    col: int
    text: str

    @property
    def is_site(self) -> bool:
        return self.kind.is_site

    @property
    def is_decidable(self) -> bool:
        return self.kind.is_decidable


@lru_cache(maxsize=64)
def _query(source: str) -> tree_sitter.Query:
    return tree_sitter.Query(c_language(), source)


def _line_at(data: bytes, offset: int) -> str:
    start = data.rfind(b"\n", 0, offset) + 1
    end = data.find(b"\n", offset)
    return data[start:end if end >= 0 else len(data)].decode("utf-8", "replace").strip()


def _text(form: TextForm, data: bytes, start: int, end: int, at: int) -> str:
    if form is TextForm.LINE:
        return _line_at(data, at)
    text = data[start:end].decode("utf-8", "replace")
    return " ".join(text.split()) if form is TextForm.WORDS else text


def _foreign_receiver(receiver: Node | None, wanted: str) -> bool:
    """Whether the receiver is a variable declared here with a type other than `wanted`."""
    if receiver is None or receiver.type != "identifier":
        return False
    t = declared_type(receiver)
    return t is not None and not is_type(t, wanted)


def _kernel_kind(node: Node, kind: OccurrenceKind) -> OccurrenceKind:
    """Kernel mode: any LINUX_VERSION_CODE conditional around a decidable node guards it."""
    return OccurrenceKind.GUARDED if kind.is_decidable and is_version_guarded(node) else kind


@dataclass(frozen=True)
class BranchKinds:
    """Out of the tree: a use is handled only where no kernel with the change compiles it."""

    conds: Conditionals
    new: Side  # any kernel with the change

    def __call__(self, node: Node, kind: OccurrenceKind) -> OccurrenceKind:
        return self.at(node.start_byte, kind) if kind.is_decidable else kind

    def at(self, at: int, kind: OccurrenceKind) -> OccurrenceKind:
        if compiled(self.conds, at, self.new) is not False:
            return kind
        return OccurrenceKind.SUPPORTS_BOTH if self.beside_new_branch(at) else OccurrenceKind.GUARDED

    def beside_new_branch(self, offset: int) -> bool:
        """Whether a conditional around offset has a branch that new kernels compile."""
        for block, i in self.conds.enclosing(offset):
            if taken(block, i, self.new) is False and any(
                    taken(block, j, self.new) is not False for j in range(len(block.branches)) if j != i):
                return True
        return False


def _c_hits(src: SourceFile, root: Node, pattern: OccurrencePattern, units,
            classify=_kernel_kind) -> list[Occurrence]:
    found = []
    for _, caps in matches_in(_query(pattern.query), root, units):
        name = caps["name"][0] if "name" in caps else None
        span = caps["occurrence"][0] if "occurrence" in caps else name
        foreign = bool(pattern.receiver_type) and _foreign_receiver(caps.get("receiver", [None])[0],
                                                                    pattern.receiver_type)
        if foreign and classify is _kernel_kind:
            continue
        if name is not None and (above := parent(name)) is not None and above.type in pattern.not_parent:
            continue
        kind = OccurrenceKind.FOREIGN if foreign else classify(name if name is not None else span, pattern.kind)
        if pattern.within is not None:
            for m in re.finditer(pattern.within, span.text):
                at = span.start_byte + m.start()
                found.append(_occurrence(src, pattern, kind, m.group(0).decode(), None, span, at))
            continue
        member = caps["member"][0].text.decode() if "member" in caps else None
        found.append(_occurrence(src, pattern, kind, name.text.decode(), member, span, name.start_byte))
    return found


def _occurrence(src: SourceFile, pattern: OccurrencePattern, kind: OccurrenceKind, name: str,
                member: str | None, span: Node, at: int) -> Occurrence:
    line, col = src.line_col(at)
    return Occurrence(src.path, kind, name, member, span.start_byte, span.end_byte, at, line, col,
                      _text(pattern.text, src.data, span.start_byte, span.end_byte, at))


def _widest_per_name(found: list[Occurrence]) -> list[Occurrence]:
    """One occurrence per (kind, name position): the widest span."""
    best: dict[tuple[OccurrenceKind, int], Occurrence] = {}
    for o in found:
        key = (o.kind, o.name_start)
        if key not in best or o.end - o.start > best[key].end - best[key].start:
            best[key] = o
    return list(best.values())


def _python_hits(src: SourceFile, pattern: OccurrencePattern, out_of_tree: bool = False) -> list[Occurrence]:
    # Out of the tree a script reading an old name is a runtime reader to port.
    kind = OccurrenceKind.PYTHON_READER if out_of_tree and pattern.kind is OccurrenceKind.PYTHON else pattern.kind
    found = []
    for m in re.finditer(pattern.regex, src.data):
        at = m.start("name")
        member = m.group("member") if "member" in m.re.groupindex and m.group("member") else None
        line, col = src.line_col(at)
        text = m.group(0).decode("utf-8", "replace") if pattern.text is TextForm.NODE else _line_at(src.data, at)
        found.append(Occurrence(src.path, kind, m.group("name").decode(), member and member.decode(),
                                m.start(), m.end(), at, line, col, text))
    return found


def _text_occurrences(src: SourceFile, names: re.Pattern[bytes], seen: set[int], classify_at) -> list[Occurrence]:
    """Names that no pattern found in any parse: each is listed, so nothing is silent."""
    found = []
    for m in names.finditer(src.data):
        if m.start() in seen:
            continue
        found.append(_unread(src, classify_at(m.start(), OccurrenceKind.TEXT), m.group(0).decode(),
                             m.start(), m.end()))
    return found


_OPAQUE = ("preproc_arg", "ERROR")  # text the parser leaves unread
_LITERALS = ("string_literal", "char_literal", "system_lib_string", "string_content")


def _unread_occurrences(src: SourceFile, root: Node, known: list[Occurrence], name_matches: list[re.Match[bytes]],
                        names: re.Pattern[bytes], needle: bytes) -> list[Occurrence]:
    """Old names that no occurrence accounts for and that sit where the parser could not look.

    A name in a string, or an identifier the parser did read (a local
    variable, another struct's field), is no use; one in an ERROR node or a
    macro body may be, and one split by a backslash-newline is.  These are
    listed, never silently dropped.
    """
    seen = {o.name_start for o in known}
    spans = [(o.start, o.end) for o in known if o.kind is OccurrenceKind.ALIAS]
    found = []
    for m in name_matches:
        at = m.start()
        if at in seen or any(s <= at < e for s, e in spans):
            continue
        node = root.descendant_for_byte_range(at, m.end())
        chain = [node, *ancestors(node)] if node is not None else []
        if any(n.type in _LITERALS or n.type == "comment" for n in chain):
            continue
        misread = node is not None and node.type == "identifier" and _after_member_operator(src.data, at)
        if not misread and not any(n.type in _OPAQUE or n.is_error for n in chain):
            continue
        found.append(_unread(src, OccurrenceKind.UNPARSED, m.group(0).decode(), at, m.end()))
    if b"\\\n" in src.data or b"\\\r\n" in src.data:
        found += _spliced_names(src, names, needle)
    return found


def _after_member_operator(data: bytes, at: int) -> bool:
    """Whether `->` or `.` stands before `at`, across blanks and preprocessor lines: a
    member the parser read as a plain name because an #if cut the expression."""
    before = data[max(0, at - 4096):at]
    while True:
        before = before.rstrip()
        line_start = before.rfind(b"\n") + 1
        if not before[line_start:].lstrip().startswith(b"#"):
            return before.endswith((b"->", b"."))
        before = before[:line_start]


def _unread(src: SourceFile, kind: OccurrenceKind, name: str, start: int, end: int) -> Occurrence:
    line, col = src.line_col(start)
    return Occurrence(src.path, kind, name, None, start, end, start, line, col, _line_at(src.data, start))


_SPLICE_RE = re.compile(rb"\\\r?\n")


def _spliced_names(src: SourceFile, names: re.Pattern[bytes], needle: bytes) -> list[Occurrence]:
    """Names that only appear once the backslash-newlines are joined."""
    pieces, origin, pos = [], [], 0  # origin[i]: offset in the file of the i-th joined piece
    for m in _SPLICE_RE.finditer(src.data):
        pieces.append(src.data[pos:m.start()])
        origin.append(pos)
        pos = m.end()
    pieces.append(src.data[pos:])
    origin.append(pos)
    joined_starts, size = [], 0
    for piece in pieces:
        joined_starts.append(size)
        size += len(piece)
    joined = b"".join(pieces)
    if needle not in joined:
        return []

    def to_file(offset: int) -> int:
        i = bisect.bisect_right(joined_starts, offset) - 1
        return origin[i] + offset - joined_starts[i]

    found = []
    for m in matches_holding(names, needle, joined):
        start, last = to_file(m.start()), to_file(m.end() - 1)
        if last - start != m.end() - 1 - m.start():  # a splice inside the name
            found.append(_unread(src, OccurrenceKind.SPLICED, m.group(0).decode(), start, last + 1))
    return found


def out_of_tree_views(src: SourceFile, tree: tree_sitter.Tree | None, conds: Conditionals,
                      vocabulary: Vocabulary | None = None):
    """The parses an out-of-tree file's uses are found in (see parse/views.py)."""
    vocabulary = vocabulary or load_migration(DEFAULT_MIGRATION).vocabulary
    return code_views(src.path, src.data, tree, conds, vocabulary.old.prefilter_re)


def _out_of_tree_occurrences(src: SourceFile, conds: Conditionals, views, vocabulary: Vocabulary) -> list[Occurrence]:
    classify = BranchKinds(conds, vocabulary.sides.new)
    patterns = [p for p in vocabulary.old.occurrences if p.language == "c" and "out-of-tree" in p.modes]
    found: dict[int, Occurrence] = {}
    for view in views:
        root = view.tree.root_node
        # A view is another text: searched whole.
        hits = [o for p in patterns for o in _c_hits(src, root, p, whole(root), classify)]
        for occ in sorted(_widest_per_name(hits), key=lambda o: o.name_start):
            found.setdefault(occ.name_start, occ)
    for occ in _text_occurrences(src, vocabulary.old.prefilter_re, set(found), classify.at):
        found[occ.name_start] = occ
    return sorted(found.values(), key=lambda o: o.name_start)


def find_occurrences(src: SourceFile, tree: tree_sitter.Tree | None = None,
                     vocabulary: Vocabulary | None = None, conds: Conditionals | None = None,
                     views=None) -> list[Occurrence]:
    """All occurrences in a file, in source order; C files are parsed unless a tree is given.

    `vocabulary` defaults to the default migration's.  With the file's
    conditionals (an out-of-tree run), uses are judged by the branches that
    a kernel with the change compiles, #define values and tapsets' embedded C
    are read too, and every name is listed.
    """
    vocabulary = vocabulary or load_migration(DEFAULT_MIGRATION).vocabulary
    mode = "kernel" if conds is None else "out-of-tree"
    patterns = [p for p in vocabulary.old.occurrences if mode in p.modes]
    if src.path.endswith(".py"):
        found = [o for p in patterns if p.language == "python" for o in _python_hits(src, p, conds is not None)]
        return sorted(found, key=lambda o: o.name_start)
    if conds is not None:
        return _out_of_tree_occurrences(src, conds, views or out_of_tree_views(src, tree, conds, vocabulary),
                                        vocabulary)
    root = (tree or parse_c(src.data)).root_node
    patterns = [p for p in patterns if p.language == "c"]
    # Only the definitions that hold an old name (or a pattern's anchor) can hold an occurrence.
    old = vocabulary.old
    names = matches_holding(old.prefilter_re, old.needle, src.data)
    at = [m.start() for m in names]
    at += [m.start() for anchor in {p.anchor for p in patterns if p.anchor} for m in re.finditer(anchor, src.data)]
    units = units_around(root, at)
    found = _widest_per_name([o for p in patterns for o in _c_hits(src, root, p, units)])
    found += _unread_occurrences(src, root, found, names, old.prefilter_re, old.needle)
    return sorted(found, key=lambda o: o.name_start)
