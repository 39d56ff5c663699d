"""Every occurrence of a migration's old API in one file, and what kind it is.

What an occurrence looks like is the pack's (vocabulary.toml): each
pattern is a tree-sitter query over C or a byte regex over Python, and
names the kind of what it finds (see vocabulary.OccurrenceKind).  The
engine adds what is the same for every migration:
  - a decidable occurrence inside an existing LINUX_VERSION_CODE guard is
    GUARDED: such code already chooses between the old and the new API;
  - a receiver declared with another type than the pattern's is somebody
    else's field, not an occurrence;
  - of several hits at one name, the widest wins (`mod->core_layout.base`
    over `mod->core_layout`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import tree_sitter
from tree_sitter import Node

from ..migration import DEFAULT_MIGRATION, load_migration
from ..parse.source import SourceFile, c_language, parse_c
from ..vocabulary import OccurrenceKind, OccurrencePattern, TextForm, Vocabulary
from .context import declared_type, is_type, is_version_guarded


@dataclass(frozen=True)
class Occurrence:
    """One occurrence: where it is, which old name, which member, and its kind."""

    path: str
    kind: OccurrenceKind
    name: str  # the old name itself, e.g. core_layout
    member: str | None  # a member read through it, e.g. base
    start: int  # byte span a rule must cover, e.g. `mod->core_layout.base`
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


def _kind(pattern: OccurrencePattern, node: Node) -> OccurrenceKind:
    if pattern.kind.is_decidable and is_version_guarded(node):
        return OccurrenceKind.GUARDED
    return pattern.kind


def _c_hits(src: SourceFile, root: Node, pattern: OccurrencePattern) -> list[Occurrence]:
    found = []
    for _, caps in tree_sitter.QueryCursor(_query(pattern.query)).matches(root):
        name = caps["name"][0] if "name" in caps else None
        span = caps["occurrence"][0] if "occurrence" in caps else name
        if pattern.receiver_type and _foreign_receiver(caps.get("receiver", [None])[0], pattern.receiver_type):
            continue
        if name is not None and name.parent is not None and name.parent.type in pattern.not_parent:
            continue
        kind = _kind(pattern, name if name is not None else span)
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


def _python_hits(src: SourceFile, pattern: OccurrencePattern) -> list[Occurrence]:
    found = []
    for m in re.finditer(pattern.regex, src.data):
        at = m.start("name")
        line, col = src.line_col(at)
        found.append(Occurrence(src.path, pattern.kind, m.group("name").decode(), None, m.start(), m.end(),
                                at, line, col, m.group(0).decode("utf-8", "replace")))
    return found


def find_occurrences(src: SourceFile, tree: tree_sitter.Tree | None = None,
                     vocabulary: Vocabulary | None = None) -> list[Occurrence]:
    """All occurrences in a file, in source order; C files are parsed unless a tree is given.

    `vocabulary` defaults to the default migration's.
    """
    vocabulary = vocabulary or load_migration(DEFAULT_MIGRATION).vocabulary
    patterns = vocabulary.old.occurrences
    if src.path.endswith(".py"):
        return [o for p in patterns if p.language == "python" for o in _python_hits(src, p)]
    root = (tree or parse_c(src.data)).root_node
    found = [o for p in patterns if p.language == "c" for o in _c_hits(src, root, p)]
    return sorted(_widest_per_name(found), key=lambda o: o.name_start)
