"""Source files as bytes, and the C parser.

Kernel sources are not all clean UTF-8, and tree-sitter reports byte
offsets, so a file is kept as the bytes read from disk; only the small
slices that rules look at are ever decoded.
"""

from __future__ import annotations

import bisect
import contextlib
import errno
import re
import os
import stat
from dataclasses import dataclass
from functools import cached_property, lru_cache

import tree_sitter
import tree_sitter_c

from ..errors import MigratorError

C_SUFFIXES = (".c", ".h")
_NEWLINE_RE = re.compile(b"\n")
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
    def _line_starts(self) -> list[int]:
        return [0] + [m.end() for m in _NEWLINE_RE.finditer(self.data)]

    def line_col(self, offset: int) -> tuple[int, int]:
        """1-based line and byte column of a byte offset, as compilers print them."""
        # A bisection, not a count from the start: thousands of uses in a 50 MB file stay linear.
        line = bisect.bisect_right(self._line_starts, offset)
        return line, offset - self._line_starts[line - 1] + 1


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


def matches_in(query: tree_sitter.Query, root: tree_sitter.Node, units) -> list:
    """The query's matches over the units only (each once), as QueryCursor.matches.

    A unit is (start, end, node): the cursor starts at the node (from the root,
    it would step over every top-level node before the range, a walk of a
    50 MB file per use and rule) and keeps to the byte range.
    """
    seen, found = set(), []
    for start, end, node in units:
        cursor = tree_sitter.QueryCursor(query)
        cursor.set_byte_range(start, end)
        for pattern, caps in cursor.matches(node):
            key = (pattern, tuple(sorted((k, v[0].start_byte, v[0].end_byte) for k, v in caps.items())))
            if key not in seen:
                seen.add(key)
                found.append((pattern, caps))
    return found


def whole(root: tree_sitter.Node) -> list[tuple[int, int, tree_sitter.Node]]:
    """The one unit of a text searched whole."""
    return [(0, root.end_byte + 1, root)]


# Parents looked up inside remembered_parents(), by node id (one tree at a time).
_parents: dict[int, tree_sitter.Node | None] | None = None


@contextlib.contextmanager
def remembered_parents():
    """Within it each node's parent is looked up once.  tree-sitter finds a parent by
    walking down from the root, which at the top of a 50 MB file steps over
    half a million definitions; the rules ask for the ancestors of every hit."""
    global _parents
    saved, _parents = _parents, {}
    try:
        yield
    finally:
        _parents = saved


def parent(node: tree_sitter.Node) -> tree_sitter.Node | None:
    """node.parent, remembered inside remembered_parents()."""
    if _parents is None:
        return node.parent
    if node.id not in _parents:
        _parents[node.id] = node.parent
    return _parents[node.id]


class _Children:
    """A node's children and where they start, for finding the one holding an offset
    by bisection: tree-sitter's own lookup steps through the children one by one.
    Their parent is known now, and remembered (see remembered_parents)."""

    def __init__(self, node: tree_sitter.Node):
        self.nodes = node.children
        self.starts = [c.start_byte for c in self.nodes]
        if _parents is not None:
            _parents.update((c.id, node) for c in self.nodes)

    def holding(self, offset: int) -> tree_sitter.Node | None:
        at = bisect.bisect_right(self.starts, offset) - 1
        for i in (at, at - 1):  # the one before, past a zero-width (MISSING) node
            if i >= 0 and self.nodes[i].start_byte <= offset < self.nodes[i].end_byte:
                return self.nodes[i]
        return None


def units_around(root: tree_sitter.Node, offsets) -> list[tuple[int, int, tree_sitter.Node]]:
    """The top-level declarations holding the offsets, as (start, end, node), merged.

    Queries run over these units only: what decides a use lies in the
    definition that holds it, and a 50 MB file with a few uses must not cost
    every query a walk over all of it.
    """
    children: dict[int, _Children] = {}
    spans = []
    for offset in sorted(set(offsets)):
        if spans and spans[-1][0] <= offset < spans[-1][1]:
            continue
        node = root
        while True:
            if node.id not in children:
                children[node.id] = _Children(node)
            child = children[node.id].holding(offset)
            if child is None:
                break
            node = child
            if not (node.type in _WRAPPERS and node.end_byte - node.start_byte > _WRAPPER_BYTES):
                break
        if node == root:
            spans.append((offset, offset + 1, root))
        else:
            spans.append((node.start_byte, max(node.end_byte, offset + 1), node))
    merged: list[tuple[int, int, tree_sitter.Node]] = []
    for s, e, node in sorted(spans, key=lambda u: u[:2]):
        if merged and s <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], e), root)  # several: from the root
        else:
            merged.append((s, e, node))
    return merged
