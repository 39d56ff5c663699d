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
import itertools
import re
from typing import Sequence

from .edits import Change, whole_change

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


def _line_starts(data: bytes) -> list[int]:
    # Summed in C: a Python loop over every line of a 50 MB file takes seconds.
    ends_with_newline = map((1).__add__, map(len, data.split(b"\n")[:-1]))
    return list(itertools.accumulate(ends_with_newline, initial=0))


def _reflow_lines(old_lines: list[bytes], new_lines: list[bytes]) -> list[bytes]:
    """Wrap the lines of one changed run, judged against the old lines they replace."""
    out: list[bytes] = []
    opcodes = difflib.SequenceMatcher(None, old_lines, new_lines, autojunk=False).get_opcodes()
    for tag, i1, i2, j1, j2 in opcodes:
        if tag in ("equal", "delete"):
            out.extend(new_lines[j1:j2])
            continue
        widest_old = max((columns(l) for l in old_lines[i1:i2]), default=0)
        for j, line in enumerate(new_lines[j1:j2], j1):
            if columns(line) > MAX_COLUMNS and columns(line) > widest_old:
                out.append(_wrap(line, macro=_in_macro(new_lines, j)))
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
    return reflow_changes(old, new, changes)[0]


def reflow_changes(old: bytes, new: bytes, changes: Sequence[Change] | None = None,
                   ) -> tuple[bytes, list[Change]]:
    """reflow(), and where its result differs from old (a change per run of changed
    lines, covering its edits and its wrapping), so a diff need not search for it."""
    if changes is None:
        changes = whole_change(old, new)
    if not changes:
        return new, []
    old_starts, new_starts = _line_starts(old), _line_starts(new)

    def line_of(starts: list[int], offset: int) -> int:
        return bisect.bisect_right(starts, offset) - 1

    runs: list[list] = []  # [old first line, old last line, new first line, new last line, its changes]
    for c in sorted(changes, key=lambda c: c[2]):
        os_, oe, ns, ne = c
        r = [line_of(old_starts, os_), line_of(old_starts, max(oe - 1, os_)),
             line_of(new_starts, ns), line_of(new_starts, max(ne - 1, ns)), [c]]
        if runs and r[2] <= runs[-1][3] + 1:  # adjacent changed lines: one run, as a diff sees it
            last = runs[-1]
            last[0], last[1] = min(last[0], r[0]), max(last[1], r[1])
            last[3] = max(last[3], r[3])
            last[4].append(c)
        else:
            runs.append(r)

    def lines(data: bytes, starts: list[int], first: int, last: int) -> tuple[int, int, list[bytes]]:
        start = starts[first]
        end = starts[last + 1] - 1 if last + 1 < len(starts) else len(data)
        return start, end, data[start:end].split(b"\n")

    out, pos, size, changed = [], 0, 0, []
    for o1, o2, n1, n2, run_changes in runs:
        _, _, old_lines = lines(old, old_starts, o1, o2)
        start, end, new_lines = lines(new, new_starts, n1, n2)
        wrapped = b"\n".join(_reflow_lines(old_lines, new_lines))
        shift = size - pos  # where new's bytes before the run moved to
        # The run's lines may not hold an edit's last newline: cover both, and the
        # same unchanged bytes on the old side.
        (first_os, _, first_ns, _), (_, last_oe, _, last_ne) = run_changes[0], run_changes[-1]
        lo, hi = min(start, first_ns), max(end, last_ne)
        changed.append((first_os - (first_ns - lo), last_oe + (hi - last_ne),
                        lo + shift, hi + shift + len(wrapped) - (end - start)))
        out += [new[pos:start], wrapped]
        size += start - pos + len(wrapped)
        pos = end
    out.append(new[pos:])
    return b"".join(out), changed
