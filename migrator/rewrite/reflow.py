"""Keep rewritten lines within the kernel's width.

checkpatch warns past 100 columns (tabs count 8).  A line the rewrite made
longer than that, and longer than it was, is broken after its last comma or
binary operator that fits, and the rest is aligned with the innermost open
parenthesis, as kernel code aligns continuations (tabs, then spaces), or
indented one tab deeper than the statement outside parentheses.
"""

from __future__ import annotations

import bisect
import difflib
import re
from typing import Sequence

MAX_COLUMNS = 100
TAB = 8

# Where a line may break: after a comma or a binary operator and its space.
_BREAK_RE = re.compile(rb"(?:,|&&|\|\||\?|:|\+|-|\*|/|<=|>=|<|>|==|!=) (?=\S)")


def columns(line: bytes) -> int:
    return len(line.expandtabs(TAB))


def _indent_to(column: int) -> bytes:
    return b"\t" * (column // TAB) + b" " * (column % TAB)


def _open_paren_column(prefix: bytes) -> int | None:
    """Display column just after the innermost '(' left open in prefix."""
    depth_stack = []
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
        elif c == b")" and depth_stack:
            depth_stack.pop()
    if not depth_stack:
        return None
    return columns(prefix[: depth_stack[-1] + 1])


def _wrap(line: bytes) -> bytes:
    if columns(line) <= MAX_COLUMNS:
        return line
    indent = line[: len(line) - len(line.lstrip())]
    best = None
    for m in _BREAK_RE.finditer(line):
        head = line[: m.end() - 1].rstrip()
        if columns(head) > MAX_COLUMNS:
            break
        col = _open_paren_column(head)
        if col is None:
            # Outside parentheses a continuation goes one tab deeper than the statement.
            col = columns(indent + b"\t")
        best = (m.end(), col)
    if best is None:
        return line
    at, col = best
    rest = _indent_to(col) + line[at:]
    if columns(rest) < columns(line):  # the rest may need breaking again
        rest = _wrap(rest)
    return line[:at].rstrip() + b"\n" + rest


# (old start, old end, new start, new end): bytes an edit replaced, and where its text landed.
Change = tuple[int, int, int, int]


def _line_starts(data: bytes) -> list[int]:
    return [0] + [m.end() for m in re.finditer(b"\n", data)]


def _whole_change(old: bytes, new: bytes) -> list[Change]:
    """One change spanning everything between the common head and tail of old and new."""
    limit = min(len(old), len(new))
    head = next((i for i in range(limit) if old[i] != new[i]), limit)
    tail = 0
    while tail < limit - head and old[len(old) - 1 - tail] == new[len(new) - 1 - tail]:
        tail += 1
    if head == len(old) == len(new):
        return []
    return [(head, len(old) - tail, head, len(new) - tail)]


def _reflow_lines(old_lines: list[bytes], new_lines: list[bytes]) -> list[bytes]:
    """Wrap the lines of one changed run, judged against the old lines they replace."""
    out: list[bytes] = []
    opcodes = difflib.SequenceMatcher(None, old_lines, new_lines, autojunk=False).get_opcodes()
    for tag, i1, i2, j1, j2 in opcodes:
        if tag in ("equal", "delete"):
            out.extend(new_lines[j1:j2])
            continue
        widest_old = max((columns(l) for l in old_lines[i1:i2]), default=0)
        for line in new_lines[j1:j2]:
            if columns(line) > MAX_COLUMNS and columns(line) > widest_old:
                out.append(_wrap(line))
            else:
                out.append(line)
    return out


def reflow(old: bytes, new: bytes, changes: Sequence[Change] | None = None) -> bytes:
    """new, with each line the rewrite lengthened past the limit wrapped.

    Only the lines the changes touch are looked at (each run of adjacent
    changed lines is compared with the old lines it replaced), so the cost
    grows with the file's size and the number of edits, not their product.
    Without `changes`, everything between the common head and tail changed.
    """
    if changes is None:
        changes = _whole_change(old, new)
    if not changes:
        return new
    old_starts, new_starts = _line_starts(old), _line_starts(new)

    def line_of(starts: list[int], offset: int) -> int:
        return bisect.bisect_right(starts, offset) - 1

    runs: list[list[int]] = []  # [old first line, old last line, new first line, new last line]
    for os_, oe, ns, ne in sorted(changes, key=lambda c: c[2]):
        r = [line_of(old_starts, os_), line_of(old_starts, max(oe - 1, os_)),
             line_of(new_starts, ns), line_of(new_starts, max(ne - 1, ns))]
        if runs and r[2] <= runs[-1][3] + 1:  # adjacent changed lines: one run, as a diff sees it
            last = runs[-1]
            last[0], last[1] = min(last[0], r[0]), max(last[1], r[1])
            last[3] = max(last[3], r[3])
        else:
            runs.append(r)

    def lines(data: bytes, starts: list[int], first: int, last: int) -> tuple[int, int, list[bytes]]:
        start = starts[first]
        end = starts[last + 1] - 1 if last + 1 < len(starts) else len(data)
        return start, end, data[start:end].split(b"\n")

    out, pos = [], 0
    for o1, o2, n1, n2 in runs:
        _, _, old_lines = lines(old, old_starts, o1, o2)
        start, end, new_lines = lines(new, new_starts, n1, n2)
        out.append(new[pos:start])
        out.append(b"\n".join(_reflow_lines(old_lines, new_lines)))
        pos = end
    out.append(new[pos:])
    return b"".join(out)
