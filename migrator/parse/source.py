"""Source files as bytes, and the C parser.

Kernel sources are not all clean UTF-8, and tree-sitter reports byte
offsets, so a file is kept as the bytes read from disk; only the small
slices that rules look at are ever decoded.
"""

from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass
from functools import lru_cache

import tree_sitter
import tree_sitter_c

from ..errors import MigratorError

C_SUFFIXES = (".c", ".h")
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

    def line_col(self, offset: int) -> tuple[int, int]:
        """1-based line and byte column of a byte offset, as compilers print them."""
        line = self.data.count(b"\n", 0, offset) + 1
        col = offset - (self.data.rfind(b"\n", 0, offset) + 1) + 1
        return line, col


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
        chunks = [os.read(fd, st.st_size + 1)]  # one read for a file that does not grow
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
