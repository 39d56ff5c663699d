"""Line arithmetic on bytes: where a line starts and ends, and whole-line spans."""

from __future__ import annotations


def line_bounds(data: bytes, offset: int) -> tuple[int, int]:
    """Start of the line holding offset, and the start of the next line."""
    start = data.rfind(b"\n", 0, offset) + 1
    end = data.find(b"\n", offset)
    return start, len(data) if end < 0 else end + 1


def whole_lines(data: bytes, start: int, end: int) -> tuple[int, int]:
    """Widen a deletion that leaves only blanks on its lines to those whole lines.

    Blank lines that the deletion would leave against a brace go too, and two
    runs of blank lines do not meet, as checkpatch asks ("Blank lines aren't
    necessary before a close brace", "Please don't use multiple blank lines").
    """
    first, _ = line_bounds(data, start)
    _, last = line_bounds(data, max(end - 1, start))
    if data[first:start].strip() or data[end:last].strip():
        return start, end
    # A one-line comment right above a deleted statement described it: it goes too.
    while first > 0:
        prev, _ = line_bounds(data, first - 1)
        above = data[prev:first].strip()
        if not (above.startswith(b"/*") and above.endswith(b"*/")):
            break
        first = prev
    before = first
    while before > 0:
        prev, _ = line_bounds(data, before - 1)
        if data[prev:before].strip():
            break
        before = prev
    after = last
    while after < len(data):
        _, nxt = line_bounds(data, after)
        if data[after:nxt].strip():
            break
        after = nxt
    prev_line = data[line_bounds(data, before - 1)[0]:before] if before > 0 else b""
    next_line = data[after:line_bounds(data, after)[1]]
    if next_line.strip().startswith(b"}") or prev_line.rstrip().endswith(b"{"):
        return before, after
    if before < first and after > last:
        return first, after
    return first, last


def line_span(data: bytes, start: int, end: int) -> tuple[int, int]:
    """Widen [start, end) to whole lines, the newline of the last included."""
    first = data.rfind(b"\n", 0, start) + 1
    last = data.find(b"\n", end)
    return first, len(data) if last < 0 else last + 1
