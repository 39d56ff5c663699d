"""Keep rewritten lines within the kernel's width.

checkpatch warns past 100 columns (tabs count 8).  A line the rewrite made
longer than that, and longer than it was, is broken after its last comma or
binary operator that fits, and the rest is aligned with the innermost open
parenthesis, as kernel code aligns continuations (tabs, then spaces), or
indented one tab deeper than the statement outside parentheses.
"""

from __future__ import annotations

import difflib
import re

MAX_COLUMNS = 100
TAB = 8

# Where a line may break: after a comma or a binary operator and its space.
_BREAK_RE = re.compile(rb"(?:,|&&|\|\||\?|:|\+|-|\*|/|<=|>=|<|>|==|!=) (?=\S)")


def columns(line: bytes) -> int:
    return len(line.expandtabs(TAB))


def _indent_to(column: int) -> bytes:
    return b"\t" * (column // TAB) + b" " * (column % TAB)


def _open_parens(prefix: bytes, carried: tuple[int, ...] = ()) -> list[int]:
    """Display columns just after each '(' left open at the end of prefix, outermost
    first; `carried` are those a line above left open."""
    depth_stack: list[int] = []
    open_cols = list(carried)
    in_string = None
    for i, ch in enumerate(prefix):
        c = bytes([ch])
        if in_string:
            if c == in_string and prefix[i - 1:i] != b"\\":
                in_string = None
        elif c in (b'"', b"'"):
            in_string = c
        elif c == b"(":
            depth_stack.append(i)
            open_cols.append(columns(prefix[: i + 1]))
        elif c == b")" and open_cols:
            if depth_stack:
                depth_stack.pop()
            open_cols.pop()
    return open_cols


def _wrap(line: bytes, carried: tuple[int, ...] | None = None, macro: bool = False,
          outer: int | None = None) -> bytes:
    """line broken to fit.  A continuation aligns with the innermost open
    parenthesis, counting those a broken line above left open (`carried`);
    outside parentheses it goes one tab deeper than the statement, or, for a
    broken line's rest, where the line itself began (`outer`).  In a macro
    each break gets its backslash."""
    if columns(line) <= MAX_COLUMNS:
        return line
    indent = line[: len(line) - len(line.lstrip())]
    best = None
    for m in _BREAK_RE.finditer(line):
        head = line[: m.end() - 1].rstrip()
        if columns(head) > MAX_COLUMNS - (2 if macro else 0):
            break
        still_open = _open_parens(head, carried or ())
        if still_open:
            col = still_open[-1]
        elif outer is not None:
            col = outer  # the rest of a broken line continues what the line began
        else:
            # Outside parentheses a continuation goes one tab deeper than the statement.
            col = columns(indent + b"\t")
        # The last break that fits, at the outermost level it can be (kernel
        # code breaks `a ||` before it breaks inside a call's arguments).
        depth = len(still_open) - len(carried or ())
        if best is None or depth <= best[3]:
            best = (m.end(), col, tuple(still_open), depth)
    if best is None:
        return line
    at, col, still_open, _ = best
    rest = _indent_to(col) + line[at:]
    if columns(rest) < columns(line):  # the rest may need breaking again
        rest = _wrap(rest, still_open, macro=macro,
                     outer=columns(indent) if outer is None else outer)
    return line[:at].rstrip() + (b" \\" if macro else b"") + b"\n" + rest


def _in_macro(lines: list[bytes], i: int) -> bool:
    """Whether line i belongs to a #define (it starts one, or the line above continues)."""
    if re.match(rb"\s*#\s*define\b", lines[i]):
        return True
    return i > 0 and lines[i - 1].rstrip().endswith(b"\\")


def reflow(old: bytes, new: bytes) -> bytes:
    """new, with each line the rewrite lengthened past the limit wrapped."""
    old_lines = old.split(b"\n")
    new_lines = new.split(b"\n")
    out = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, old_lines, new_lines, autojunk=False).get_opcodes():
        if tag in ("equal", "delete"):
            out.extend(new_lines[j1:j2])
            continue
        widest_old = max((columns(l) for l in old_lines[i1:i2]), default=0)
        for j, line in enumerate(new_lines[j1:j2], j1):
            if columns(line) > MAX_COLUMNS and columns(line) > widest_old:
                out.append(_wrap(line, macro=_in_macro(new_lines, j)))
            else:
                out.append(line)
    return b"\n".join(out)
