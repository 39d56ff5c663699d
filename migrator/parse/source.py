"""Source files as bytes, and the C parser.

Kernel sources are not all clean UTF-8, and tree-sitter reports byte
offsets, so a file is kept as the bytes read from disk; only the small
slices that rules look at are ever decoded.
"""

from __future__ import annotations

import bisect
import contextlib
import errno
import os
import re
import stat
from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import Callable, NamedTuple, Sequence

import tree_sitter
import tree_sitter_c

from ..errors import MigratorError

C_SUFFIXES = (".c", ".h")
_LINE_BLOCK = 1 << 16
PYTHON_SUFFIXES = (".py",)


def is_c_path(path: str) -> bool:
    return path.endswith(C_SUFFIXES)


def is_python_path(path: str) -> bool:
    return path.endswith(PYTHON_SUFFIXES)


@dataclass(frozen=True)
class SourceFile:
    """One file of the tree: its path relative to the tree root, and its bytes."""

    path: str
    data: bytes

    @cached_property
    def _lines_before_block(self) -> list[int]:
        """How many newlines come before each _LINE_BLOCK-sized block of the file."""
        counts, total = [0], 0
        for start in range(0, len(self.data), _LINE_BLOCK):
            total += self.data.count(b"\n", start, start + _LINE_BLOCK)
            counts.append(total)
        return counts

    def line_col(self, offset: int) -> tuple[int, int]:
        """1-based line and byte column of a byte offset, as compilers print them."""
        # Counted from the block the offset is in, not from the start of the file (thousands
        # of uses in a 50 MB file stay linear) and without a table of every line's start.
        block = offset // _LINE_BLOCK
        line = self._lines_before_block[block] + self.data.count(b"\n", block * _LINE_BLOCK, offset) + 1
        return line, offset - (self.data.rfind(b"\n", 0, offset) + 1) + 1


def printable(text: str) -> str:
    """Text that can always be printed or stored as UTF-8: the undecodable bytes of a
    file name (held as surrogates, as os.listdir gives them) become \\xNN."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def file_type(mode: int) -> str:
    for test, name in ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device")):
        if test(mode):
            return name
    return "an unusual file"


def read_regular(path: str, follow_links: bool = True) -> bytes:
    """The bytes of a regular file, opened without blocking on a FIFO (or following a link)."""
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | (0 if follow_links else os.O_NOFOLLOW)
    fd = os.open(path, flags)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise OSError(errno.EINVAL, f"{file_type(st.st_mode)}, not a regular file", path)
        data = os.read(fd, st.st_size + 1)
        if len(data) <= st.st_size:
            return data  # a short read of a regular file is its end: one read, no copy
        chunks = [data]  # the file grew while being read
        while chunks[-1]:
            chunks.append(os.read(fd, 1 << 20))
        return b"".join(chunks)
    finally:
        os.close(fd)


def read_source(root: str, path: str) -> SourceFile:
    """Read root/path; an unreadable file is a MigratorError naming it."""
    try:
        return SourceFile(path, read_regular(os.path.join(root, path)))
    except OSError as e:
        raise MigratorError(f"{path}: cannot read: {e.strerror}") from None


def matches_holding(regex: re.Pattern[bytes], needle: bytes, data: bytes) -> list[re.Match[bytes]]:
    """list(regex.finditer(data)) for a regex every match of which holds `needle`.

    A regex led by an alternation (`\\b(?:a|b)_x\\b`) is tried at every byte,
    tens of nanoseconds each: a second for a 50 MB file, for every search
    of it.  The needle is found at memchr speed instead, and the regex tried
    only where a match holding that needle could start: no further before
    it than the longest match.  The regex is tried at those places in order,
    as finditer would, so the matches are the same.
    """
    width = _longest_match(regex)
    if width is None or not needle:
        return list(regex.finditer(data))
    found, tried = [], 0  # finditer would try the starts from `tried` on next
    at = data.find(needle)
    while at >= 0:
        start = max(tried, at + len(needle) - width)
        while start <= at:
            m = regex.match(data, start)
            if m is not None and m.end() > start:
                found.append(m)
                start = m.end()
            else:
                start += 1
        tried = start
        at = data.find(needle, max(at + 1, tried - len(needle) + 1))
    return found


@lru_cache(maxsize=64)
def _longest_match(regex: re.Pattern[bytes]) -> int | None:
    """The length of the regex's longest match, or None when unbounded (or unknown)."""
    try:
        import re._parser as sre_parse  # what re itself compiles with; its widths bound the search
        width = sre_parse.parse(regex.pattern, regex.flags).getwidth()[1]
    except Exception:  # noqa: BLE001 - another Python: search the plain way
        return None
    return width if width < sre_parse.MAXREPEAT else None


@lru_cache(maxsize=1)
def c_language() -> tree_sitter.Language:
    return tree_sitter.Language(tree_sitter_c.language())


@lru_cache(maxsize=1)
def _parser() -> tree_sitter.Parser:
    return tree_sitter.Parser(c_language())


def parse_c(data: bytes) -> tree_sitter.Tree:
    """Parse C bytes.  Macros leave ERROR nodes; the subtrees around them stay usable."""
    return _parser().parse(data)


def reparse_c(old_tree: tree_sitter.Tree, old: bytes, new: bytes, changes) -> tree_sitter.Tree:
    """parse_c(new), reusing old_tree (which stays as it is) where old and new agree.

    `changes` are (old start, old end, new start, new end) byte spans, in
    order, outside which old and new have the same bytes.  Only the text
    around them is parsed again, so checking a rewrite of a 50 MB file with a
    few edits does not cost a full parse each time.
    """
    edits, row, at = [], 0, 0
    for os_, oe, ns, ne in changes:
        row += old.count(b"\n", at, os_)
        start = (row, os_ - old.rfind(b"\n", 0, os_) - 1)
        end_row = row + old.count(b"\n", os_, oe)
        old_end = (end_row, oe - old.rfind(b"\n", 0, oe) - 1)
        text = new[ns:ne]
        lines = text.count(b"\n")
        new_end = (row + lines, len(text) - text.rfind(b"\n") - 1 if lines else start[1] + len(text))
        edits.append((os_, oe, os_ + len(text), start, old_end, new_end))
        row, at = end_row, oe
    tree = old_tree.copy()
    for start_byte, old_end_byte, new_end_byte, start, old_end, new_end in reversed(edits):
        tree.edit(start_byte, old_end_byte, new_end_byte, start, old_end, new_end)
    return _parser().parse(new, tree)


# A conditional at the top of a file this big (an include guard around a huge
# generated header) is looked into: its children are the units, not itself.
_WRAPPER_BYTES = 256 * 1024
_WRAPPERS = ("preproc_if", "preproc_ifdef", "preproc_else", "preproc_elif", "preproc_elifdef")
# Nodes that may hold several definitions, looked into by the queries of Unit.path.
_HOLDERS = (*_WRAPPERS, "ERROR")


class Near(NamedTuple):
    """Offsets held by one node: `path` goes from the unit's node down to it through
    the nodes that hold several definitions (conditionals, parse errors)."""

    path: tuple[tree_sitter.Node, ...]
    start: int
    end: int


class Unit(NamedTuple):
    """Where a query looks for what holds some offsets.

    From `node`, over the bytes start..end: the definitions holding them.
    A query whose every pattern has one root node looks closer: a match
    holds an offset only if its root node does, and one that holds none
    decides nothing.  Such a query looks, for each Near, from the innermost
    node of its path over the bytes of its offsets alone, and at the nodes
    above on the path for matches rooted there: it does not walk a whole
    conditional for the one use in it.
    """

    node: tree_sitter.Node
    start: int
    end: int
    near: tuple[Near, ...]


def _rooted(query: tree_sitter.Query) -> bool:
    return all(query.is_pattern_rooted(i) for i in range(query.pattern_count))


def cursor_matches(query: tree_sitter.Query, node: tree_sitter.Node, start: int | None = None,
                   end: int | None = None) -> list:
    """QueryCursor.matches from the node: over the bytes start..end, or with no range,
    only the matches rooted at the node itself."""
    cursor = tree_sitter.QueryCursor(query)
    if start is None:
        cursor.set_max_start_depth(0)
    else:
        cursor.set_byte_range(start, end)
    return cursor.matches(node)


def matches_in(query: tree_sitter.Query, root: tree_sitter.Node, units: Sequence[Unit]) -> list:
    """The query's matches over the units only (each once), as QueryCursor.matches.

    The cursor starts at the unit's node (from the root, it would step over
    every top-level node before the range, a walk of a 50 MB file per use and
    rule) and gives the matches whose root node intersects the byte range
    (see Unit).
    """
    near = _rooted(query)
    seen, found = set(), []
    for unit in units:
        if near:
            above = {}
            for group in unit.near:
                above.update((n.id, n) for n in group.path[:-1])
            hits = [m for n in above.values() for m in cursor_matches(query, n)]
            for group in unit.near:
                hits += cursor_matches(query, group.path[-1], group.start, group.end)
        else:
            hits = cursor_matches(query, unit.node, unit.start, unit.end)
        for pattern, caps in hits:
            key = (pattern, tuple(sorted((k, v[0].start_byte, v[0].end_byte) for k, v in caps.items())))
            if key not in seen:
                seen.add(key)
                found.append((pattern, caps))
    return found


def whole(root: tree_sitter.Node) -> list[Unit]:
    """The one unit of a text searched whole."""
    return [Unit(root, 0, root.end_byte + 1, (Near((root,), 0, root.end_byte + 1),))]


@dataclass
class _Parents:
    """What remembered_parents() knows: each node's parent looked up so far (by node id),
    and the top-level nodes of the trees units_around() looked into (by root id)."""

    known: dict[int, tree_sitter.Node | None]
    tops: dict[int, tuple[tree_sitter.Node, "_Children"]]


_parents: _Parents | None = None


@contextlib.contextmanager
def remembered_parents():
    """Within it each node's parent is looked up once.  tree-sitter finds a parent by
    walking down from the root, which at the top of a 50 MB file steps over
    half a million definitions; the rules ask for the ancestors of every hit."""
    global _parents
    saved, _parents = _parents, _Parents({}, {})
    try:
        yield
    finally:
        _parents = saved


def parent(node: tree_sitter.Node) -> tree_sitter.Node | None:
    """node.parent, remembered inside remembered_parents()."""
    if _parents is None:
        return node.parent
    if node.id not in _parents.known:
        _parents.known[node.id] = _parent_from_top(node) or node.parent
    return _parents.known[node.id]


def _parent_from_top(node: tree_sitter.Node) -> tree_sitter.Node | None:
    """node.parent found as tree-sitter finds it, walking down from the node's top-level
    ancestor rather than from the root: that ancestor is found by bisection among the
    top-level nodes units_around() looked into.  The parents of every node on the way
    are remembered too.  None when no such ancestor is known (or the node is empty,
    where the walk could take another way than tree-sitter's)."""
    if node.start_byte == node.end_byte:
        return None
    for root, tops in _parents.tops.values():
        top = tops.holding(node.start_byte)
        if top is None or node.end_byte > top.end_byte:
            continue
        path = [root, top]
        while path[-1].id != node.id:
            child = path[-1].child_with_descendant(node)
            if child is None:
                break  # another tree's node at the same bytes
            path.append(child)
        else:
            _parents.known.update((child.id, above) for above, child in zip(path, path[1:]))
            return path[-2]
    return None


def looking_into(root: tree_sitter.Node) -> _Children:
    """The root's children, by which parent() (inside remembered_parents()) finds the
    top-level node above a node of its tree without stepping through them all."""
    if _parents is None:
        return _Children(root)
    return _parents.tops.setdefault(root.id, (root, _Children(root)))[1]


class _Children:
    """A node's children and where they start, for finding the one holding an offset
    by bisection: tree-sitter's own lookup steps through the children one by one."""

    def __init__(self, node: tree_sitter.Node):
        self.nodes = node.children
        self.starts = [c.start_byte for c in self.nodes]

    def holding(self, offset: int) -> tree_sitter.Node | None:
        at = bisect.bisect_right(self.starts, offset) - 1
        for i in (at, at - 1):  # the one before, past a zero-width (MISSING) node
            if i >= 0 and self.nodes[i].start_byte <= offset < self.nodes[i].end_byte:
                return self.nodes[i]
        return None


def _path_to(offset: int, node: tree_sitter.Node, children: dict[int, _Children],
             go_on: Callable[[tree_sitter.Node], bool]) -> list[tree_sitter.Node]:
    """node and the nodes below it holding the offset, each a child of the one
    before, while go_on says to look into the last; `children` keeps each
    node's bisection table for the next offset."""
    path = [node]
    while go_on(path[-1]):
        if path[-1].id not in children:
            children[path[-1].id] = _Children(path[-1])
        child = children[path[-1].id].holding(offset)
        if child is None:
            break
        path.append(child)
    return path


def units_around(root: tree_sitter.Node, offsets) -> list[Unit]:
    """The top-level declarations holding the offsets, as units, merged.

    Queries run over these units only: what decides a use lies in the
    definition that holds it, and a 50 MB file with a few uses must not cost
    every query a walk over all of it.
    """
    children: dict[int, _Children] = {root.id: looking_into(root)}
    spans = []  # (start, end, node, offsets)
    for offset in sorted(set(offsets)):
        if spans and spans[-1][0] <= offset < spans[-1][1]:
            spans[-1][3].append(offset)
            continue
        node = _path_to(offset, root, children, lambda n: n == root or (
            n.type in _WRAPPERS and n.end_byte - n.start_byte > _WRAPPER_BYTES))[-1]
        if node == root:
            spans.append((offset, offset + 1, root, [offset]))
        else:
            spans.append((node.start_byte, max(node.end_byte, offset + 1), node, [offset]))
    merged = []
    for s, e, node, held in sorted(spans, key=lambda u: u[:2]):
        if merged and s <= merged[-1][1]:  # several: from the root
            ms, me, _, before = merged[-1]
            merged[-1] = (ms, max(me, e), root, before + held)
        else:
            merged.append((s, e, node, held))
    return [Unit(node, s, e, _near(root, node, sorted(held), children)) for s, e, node, held in merged]


def _near(root: tree_sitter.Node, node: tree_sitter.Node, offsets: list[int],
          children: dict) -> tuple[Near, ...]:
    """The offsets grouped by the innermost node holding them below the holders of
    several definitions under `node` (each group's offsets in order)."""
    groups: list[Near] = []
    for offset in offsets:
        path = _path_to(offset, node, children, lambda n: n.type in _HOLDERS or n == root)
        if groups and groups[-1].path[-1] == path[-1]:
            groups[-1] = groups[-1]._replace(end=offset + 1)
        else:
            groups.append(Near(tuple(path), offset, offset + 1))
    return tuple(groups)
