"""Source files as bytes, and the C parser.

Kernel sources are not all clean UTF-8, and tree-sitter reports byte
offsets, so a file is kept as the bytes read from disk; only the small
slices that rules look at are ever decoded.
"""

from __future__ import annotations

import os
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


def read_source(root: str, path: str) -> SourceFile:
    """Read root/path; an unreadable file is a MigratorError naming it."""
    try:
        with open(os.path.join(root, path), "rb") as f:
            return SourceFile(path, f.read())
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
