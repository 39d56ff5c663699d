"""Source files as bytes, and the C parser.

Kernel sources are not all clean UTF-8, and tree-sitter reports byte
offsets, so a file is kept as the bytes read from disk; only the small
slices that rules look at are ever decoded.
"""

from __future__ import annotations

import bisect
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


# A conditional at the top of a file this big (an include guard around a huge
# generated header) is looked into: its children are the units, not itself.
_WRAPPER_BYTES = 256 * 1024
_WRAPPERS = ("preproc_if", "preproc_ifdef", "preproc_else", "preproc_elif", "preproc_elifdef")


def matches_in(query: tree_sitter.Query, root: tree_sitter.Node, ranges) -> list:
    """The query's matches over the byte ranges only (each once), as QueryCursor.matches."""
    seen, found = set(), []
    for start, end in ranges:
        cursor = tree_sitter.QueryCursor(query)
        cursor.set_byte_range(start, end)
        for pattern, caps in cursor.matches(root):
            key = (pattern, tuple(sorted((k, v[0].start_byte, v[0].end_byte) for k, v in caps.items())))
            if key not in seen:
                seen.add(key)
                found.append((pattern, caps))
    return found


def units_around(root: tree_sitter.Node, offsets) -> list[tuple[int, int]]:
    """Byte ranges of the top-level declarations holding the offsets, merged.

    Queries run over these ranges only: what decides a use lies in the
    definition that holds it, and a 50 MB file with a few uses must not cost
    every query a walk over all of it.
    """
    spans = []
    for offset in sorted(set(offsets)):
        if spans and spans[-1][0] <= offset < spans[-1][1]:
            continue
        node = root
        while True:
            child = node.first_child_for_byte(offset)
            if child is None or child.start_byte > offset:
                break
            node = child
            if not (node.type in _WRAPPERS and node.end_byte - node.start_byte > _WRAPPER_BYTES):
                break
        if node == root:
            spans.append((offset, offset + 1))
        else:
            spans.append((node.start_byte, max(node.end_byte, offset + 1)))
    merged: list[tuple[int, int]] = []
    for s, e in sorted(spans):
        if merged and s <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], e))
        else:
            merged.append((s, e))
    return merged
