"""C code that a plain parse of a file does not see, parsed at its own byte offsets.

Out-of-tree code hides uses where tree-sitter reads only text: the value of
a `#define` (a preproc_arg), and the embedded C of a systemtap tapset
(`%{ ... %}` inside a .stp file).  Each is given a parse of its own: a copy
of the file, as long as the file, blank except for that code, with just
enough C around it to make it a declaration or a function body.  Offsets in
such a view are offsets in the file, so occurrences, rule hits and edits
found there need no translation.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import tree_sitter

from .preproc import Conditionals, Define
from .source import parse_c
from .syntax import descendants

STP_SUFFIXES = (".stp",)


def is_stp_path(path: str) -> bool:
    return path.endswith(STP_SUFFIXES)


@dataclass(frozen=True)
class View:
    """A parse of some of a file's code at the file's own offsets."""

    kind: str  # "file", "define" or "embedded"
    data: bytes
    tree: tree_sitter.Tree
    start: int = 0  # the span of the file the view is about
    end: int = 0


def _blank(data: bytes) -> bytearray:
    """Spaces as long as data, its newlines kept."""
    return bytearray(re.sub(rb"[^\n]", b" ", data))


def _errors(tree: tree_sitter.Tree) -> int:
    return sum(1 for n in descendants(tree.root_node, into=lambda n: n.has_error)
               if n.type == "ERROR" or n.is_missing)


def _place(data: bytes, start: int, end: int, before: bytes, after: bytes) -> bytes | None:
    """A blank copy of data holding data[start:end], `before` ending at start, `after` at end."""
    if len(before) > start:
        return None
    mask = _blank(data)
    mask[start - len(before):start] = before
    body = data[start:end].replace(b"\\\r\n", b"  \n").replace(b"\\\n", b" \n")
    mask[start:end] = body
    mask[end:end + len(after)] = after
    return bytes(mask[:len(data)] if len(mask) > len(data) else mask)


def define_view(data: bytes, define: Define) -> View | None:
    """The value of a #define, parsed as the initializer of a variable named like the
    macro (so rules that read names, such as *_end, read it too), or else as a
    function body for statement macros."""
    name = define.name.lower().encode()
    shapes = ((b"long " + name + b" = ", b";"), (b"void " + name + b"(void) { ", b";}"))
    best = None
    for before, after in shapes:
        mask = _place(data + b"  ", define.value_start, define.value_end, before, after)
        if mask is None:
            continue
        tree = parse_c(mask)
        errors = _errors(tree)
        if best is None or errors < best[0]:
            best = (errors, View("define", mask, tree, define.start, define.end))
        if errors == 0:
            break
    return best[1] if best is not None else None


def define_views(data: bytes, conds: Conditionals, names: re.Pattern) -> list[View]:
    """Views of the #define values that mention a name."""
    views = []
    for d in conds.defines:
        if names.search(data, d.value_start, d.value_end):
            view = define_view(data, d)
            if view is not None:
                views.append(view)
    return views


_EMBEDDED_RE = re.compile(rb"%\{(.*?)%\}", re.S)
# What a function body's `%{` follows: `) :type` or `)`, after comments.
_FUNCTION_TAIL_RE = re.compile(rb"\)\s*(?::\s*\w+\s*)?(?:/\*.*?\*/\s*)*$", re.S)
_FUNCTION_HEAD = b"void _f(void)"


def embedded_c(data: bytes) -> bytes:
    """A .stp file's embedded C at its own offsets: everything else blank.

    A function's `%{ ... %}` becomes a C function body; a top-level one
    (includes, helpers) stays as it is.
    """
    mask = _blank(data)
    last = 0
    for m in _EMBEDDED_RE.finditer(data):
        inner_start, inner_end = m.start(1), m.end(1)
        mask[inner_start:inner_end] = data[inner_start:inner_end]
        head = data[last:m.start()]
        if _FUNCTION_TAIL_RE.search(head) and len(head) >= len(_FUNCTION_HEAD):
            mask[m.start() - len(_FUNCTION_HEAD):m.start()] = _FUNCTION_HEAD
            mask[m.start():m.start() + 2] = b"{ "
            mask[m.end() - 2:m.end()] = b" }"
        last = m.end()
    return bytes(mask)


def code_views(path: str, data: bytes, tree: tree_sitter.Tree | None, conds: Conditionals | None,
               names: re.Pattern) -> list[View]:
    """The parses a file's uses are found in: the file itself (or a tapset's embedded
    C), then, where conditionals are given, each #define value naming a layout."""
    if is_stp_path(path):
        data = embedded_c(data)
        tree = parse_c(data)
        views = [View("embedded", data, tree, 0, len(data))]
    else:
        views = [View("file", data, tree or parse_c(data), 0, len(data))]
    if conds is not None:
        views += define_views(data, conds, names)
    return views
