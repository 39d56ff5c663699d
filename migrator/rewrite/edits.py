"""Byte-range edits: the only way migrator changes a file.

An edit replaces [start, end) by new bytes.  Edits are narrowed to the bytes
that really differ, so a rule that renders a whole expression still leaves
every untouched byte (receivers, casts, comments, odd encodings) as it was.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

from ..errors import MigratorError


@dataclass(frozen=True)
class Edit:
    start: int
    end: int
    text: bytes
    rule_id: str = ""


def _narrow(old: bytes, new: bytes) -> tuple[int, int]:
    """Lengths of the common prefix and suffix of old and new (not overlapping)."""
    limit = min(len(old), len(new))
    pre = 0
    while pre < limit and old[pre] == new[pre]:
        pre += 1
    suf = 0
    while suf < limit - pre and old[-1 - suf] == new[-1 - suf]:
        suf += 1
    return pre, suf


def _whole_lines(data: bytes, start: int, end: int) -> tuple[int, int]:
    """Widen a deletion that leaves only blanks on its lines to those whole lines.

    A blank line left between the deletion and a closing brace goes too, as
    checkpatch asks: "Blank lines aren't necessary before a close brace".
    """
    line_start = data.rfind(b"\n", 0, start) + 1
    line_end = data.find(b"\n", end)
    line_end = len(data) if line_end < 0 else line_end + 1
    if data[line_start:start].strip() or data[end:line_end].strip():
        return start, end
    next_end = data.find(b"\n", line_end)
    next_line = data[line_end:next_end if next_end >= 0 else len(data)]
    prev_start = data.rfind(b"\n", 0, max(line_start - 1, 0)) + 1
    if line_start > 0 and not data[prev_start:line_start].strip() and next_line.strip().startswith(b"}"):
        line_start = prev_start
    return line_start, line_end


def edits_for(data: bytes, matches: Iterable) -> list[Edit]:
    """The narrowed edits of the rewrite matches of one file."""
    edits = []
    for m in matches:
        for start, end, text in m.replacements:
            old = data[start:end]
            new = text.encode("utf-8", "surrogateescape")
            if old == new:
                continue
            if not new:
                start, end = _whole_lines(data, start, end)
                edits.append(Edit(start, end, b"", m.rule_id))
                continue
            pre, suf = _narrow(old, new)
            edits.append(Edit(start + pre, end - suf, new[pre:len(new) - suf], m.rule_id))
    return edits


def apply_edits(data: bytes, edits: Sequence[Edit]) -> bytes:
    """Apply non-overlapping edits; overlapping ones are a bug in the caller."""
    out, pos = [], 0
    for e in sorted(edits, key=lambda e: (e.start, e.end)):
        if e.start < pos:
            raise MigratorError(f"overlapping edits at byte {e.start} ({e.rule_id})")
        out.append(data[pos:e.start])
        out.append(e.text)
        pos = e.end
    out.append(data[pos:])
    return b"".join(out)
