"""A plan's changes as a git-style unified diff, built from the edits.

A rewrite knows where it changed each file (FileChange.changed), so the diff
does not search whole files for the differences: it compares only the lines
each change touched, and shows them with three lines of context, hunks that
touch or overlap merged, as `diff -U3` does.  The cost grows with the file's
size plus the changed lines, not their product.

Inside a hunk the lines are matched as the whole-file difflib.unified_diff
that --dry-run used before matches them (its popular lines start no match,
the unchanged lines around take the equal lines at the edges), so the text
is the same wherever the alignment is not a toss-up between repeated lines;
on 6.1.192 it is the same byte for byte.
"""

from __future__ import annotations

import bisect
import difflib
import itertools
import os
from collections import Counter
from typing import Sequence

from .edits import Change, whole_change
from .plan import FileChange

CONTEXT = 3

# An opcode as difflib spells it: (tag, old first, old end, new first, new end), lines.
_Opcode = tuple[str, int, int, int, int]


def unified_diff(changes: Sequence[FileChange]) -> bytes:
    """A git-style diff (diff --git a/... b/...) of the changes, as bytes."""
    out = []
    for c in changes:
        name = os.fsencode(c.path)  # file names are bytes; they need not be UTF-8
        out.append(b"diff --git a/" + name + b" b/" + name + b"\n")
        out += _file_diff(c.old, c.new, c.changed or whole_change(c.old, c.new), name)
    return b"".join(line if line.endswith(b"\n") else line + b"\n\\ No newline at end of file\n"
                    for line in out)


def _boundaries(lines: Sequence[bytes]) -> list[int]:
    """Where each line starts, and the end of the data."""
    return list(itertools.accumulate(map(len, lines), initial=0))


def _blocks(changes: Sequence[Change], old_bounds: list[int], new_bounds: list[int]) -> list[list[int]]:
    """The whole lines the changes touch, as blocks [old first, old end, new first, new end).

    Blocks that overlap or touch are joined, since difflib sees adjacent
    changed lines as one run.  Between two blocks old and new must hold the
    same lines: a lone CR at a change's edge can end a line on one side and
    not on the other, and then the blocks around it are joined too.
    """
    blocks: list[list[int]] = []
    shift = 0  # new offset minus old offset between the last change and the next
    for os_, oe, ns, ne in sorted(changes, key=lambda c: (c[0], c[2])):
        o1, n1 = bisect.bisect_right(old_bounds, os_) - 1, bisect.bisect_right(new_bounds, ns) - 1
        o2, n2 = bisect.bisect_left(old_bounds, oe), bisect.bisect_left(new_bounds, ne)
        gap_agrees = (new_bounds[n1] - old_bounds[o1] == shift
                      and (not blocks or new_bounds[blocks[-1][3]] - old_bounds[blocks[-1][1]] == shift))
        if not blocks and not gap_agrees:
            o1 = n1 = 0
        if blocks and (o1 <= blocks[-1][1] or n1 <= blocks[-1][3] or not gap_agrees):
            blocks[-1][1], blocks[-1][3] = max(blocks[-1][1], o2), max(blocks[-1][3], n2)
        else:
            blocks.append([o1, o2, n1, n2])
        shift = ne - oe
    if blocks and new_bounds[blocks[-1][3]] - old_bounds[blocks[-1][1]] != shift:
        blocks[-1][1], blocks[-1][3] = len(old_bounds) - 1, len(new_bounds) - 1
    return blocks


def _popular(lines: Sequence[bytes]) -> set[bytes]:
    """The lines difflib's autojunk never starts a match on: in a file of 200 lines
    or more, those making up more than 1% of it (blank lines, lone braces)."""
    if len(lines) < 200:
        return set()
    most = len(lines) // 100 + 1
    return {line for line, n in Counter(lines).items() if n > most}


def _opcodes(old_lines: list[bytes], new_lines: list[bytes], blocks: list[list[int]]) -> list[_Opcode]:
    """difflib's opcodes for the whole file: equal between the blocks, matched within them.

    Blocks close enough to share a hunk are matched together.  Like the
    whole-file matcher, the unchanged lines before a block take the equal
    lines at its start, those after it the equal lines at its end, and
    inside, lines popular in the whole file start no match.
    """
    codes: list[_Opcode] = []

    def add(tag: str, i1: int, i2: int, j1: int, j2: int) -> None:
        if i1 == i2 and j1 == j2:
            return
        if tag == "equal" and codes and codes[-1][0] == "equal":
            codes[-1] = ("equal", codes[-1][1], i2, codes[-1][3], j2)
        else:
            codes.append((tag, i1, i2, j1, j2))

    popular = _popular(new_lines)
    joined = _joined(blocks)
    i = j = 0
    for k, (o1, o2, n1, n2) in enumerate(joined):
        while o1 < o2 and n1 < n2 and old_lines[o1] == new_lines[n1]:
            o1, n1 = o1 + 1, n1 + 1
        # Lines only added (or only removed) go below the equal lines they could
        # be swapped with, as far as the unchanged lines after them reach.
        stop = joined[k + 1][0] if k + 1 < len(joined) else len(old_lines)
        while (o1 == o2) != (n1 == n2) and o2 < stop and n2 < len(new_lines) \
                and old_lines[o1] == new_lines[n1]:
            o1, o2, n1, n2 = o1 + 1, o2 + 1, n1 + 1, n2 + 1
        while o1 < o2 and n1 < n2 and old_lines[o2 - 1] == new_lines[n2 - 1]:
            o2, n2 = o2 - 1, n2 - 1
        add("equal", i, o1, j, n1)
        matcher = difflib.SequenceMatcher(None, old_lines[o1:o2], new_lines[n1:n2], autojunk=False)
        for line in popular:  # b2j: the matcher's index of b, without what it may not start on
            matcher.b2j.pop(line, None)
        for tag, a1, a2, b1, b2 in matcher.get_opcodes():
            add(tag, o1 + a1, o1 + a2, n1 + b1, n1 + b2)
        i, j = o2, n2
    add("equal", i, len(old_lines), j, len(new_lines))
    return codes


def _joined(blocks: list[list[int]]) -> list[list[int]]:
    """Blocks at most twice the context apart (in one hunk) as one block."""
    joined: list[list[int]] = []
    for b in blocks:
        if joined and b[0] - joined[-1][1] <= 2 * CONTEXT:
            joined[-1] = [joined[-1][0], b[1], joined[-1][2], b[3]]
        else:
            joined.append(list(b))
    return joined


def _format_range(first: int, end: int) -> bytes:
    """A hunk header's range as difflib writes it: `N` for one line, `N,LEN` else,
    an empty range naming the line before it."""
    length = end - first
    if length == 1:
        return b"%d" % (first + 1)
    return b"%d,%d" % (first if length == 0 else first + 1, length)


def _file_diff(old: bytes, new: bytes, changes: Sequence[Change], name: bytes) -> list[bytes]:
    old_lines, new_lines = old.splitlines(keepends=True), new.splitlines(keepends=True)
    blocks = _blocks(changes, _boundaries(old_lines), _boundaries(new_lines))
    codes = _opcodes(old_lines, new_lines, blocks)
    out: list[bytes] = []
    for hunk in _group(codes):
        if not out:
            out += [b"--- a/" + name + b"\n", b"+++ b/" + name + b"\n"]
        out.append(b"@@ -" + _format_range(hunk[0][1], hunk[-1][2]) +
                   b" +" + _format_range(hunk[0][3], hunk[-1][4]) + b" @@\n")
        for tag, i1, i2, j1, j2 in hunk:
            if tag == "equal":
                out += [b" " + line for line in old_lines[i1:i2]]
                continue
            out += [b"-" + line for line in old_lines[i1:i2]]
            out += [b"+" + line for line in new_lines[j1:j2]]
    return out


def _group(codes: list[_Opcode]) -> list[list[_Opcode]]:
    """The opcodes cut into hunks: each change with up to CONTEXT equal lines on
    either side; changes at most twice that apart share a hunk."""
    hunks: list[list[_Opcode]] = []
    hunk: list[_Opcode] = []
    for k, code in enumerate(codes):
        tag, i1, i2, j1, j2 = code
        if tag != "equal":
            hunk.append(code)
            continue
        last = k == len(codes) - 1
        if hunk:
            if not last and i2 - i1 <= 2 * CONTEXT:
                hunk.append(code)
                continue
            hunks.append(hunk + [("equal", i1, min(i2, i1 + CONTEXT), j1, min(j2, j1 + CONTEXT))])
            hunk = []
        if not last:
            hunk = [("equal", max(i1, i2 - CONTEXT), i2, max(j1, j2 - CONTEXT), j2)]
    if any(code[0] != "equal" for code in hunk):
        hunks.append(hunk)
    return hunks
