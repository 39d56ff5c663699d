"""Byte-range edits: the only way migrator changes a file.

An edit replaces [start, end) by new bytes.  Edits are narrowed to the bytes
that really differ, so a rule that renders a whole expression still leaves
every untouched byte (receivers, casts, comments, odd encodings) as it was.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

from ..errors import MigratorError
from ..parse.lines import whole_lines


# (old start, old end, new start, new end): bytes an edit replaced, and where its text
# landed; outside a file's changes its old and new bytes are the same.
Change = tuple[int, int, int, int]


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
                start, end = whole_lines(data, start, end)
                edits.append(Edit(start, end, b"", m.rule_id))
                continue
            pre, suf = _narrow(old, new)
            edits.append(Edit(start + pre, end - suf, new[pre:len(new) - suf], m.rule_id))
    return edits


def apply_edits(data: bytes, edits: Sequence[Edit]) -> bytes:
    """Apply non-overlapping edits; overlapping ones are a bug in the caller."""
    return apply_edits_with_spans(data, edits)[0]


def apply_edits_with_spans(data: bytes, edits: Sequence[Edit]) -> tuple[bytes, list[tuple[int, int]]]:
    """The new bytes, and where each edit's text landed in them (in edit order)."""
    out, pos, size = [], 0, 0
    spans: dict[int, tuple[int, int]] = {}
    order = sorted(range(len(edits)), key=lambda i: (edits[i].start, edits[i].end))
    for i in order:
        e = edits[i]
        if e.start < pos:
            raise MigratorError(f"overlapping edits at byte {e.start} ({e.rule_id})")
        out.append(data[pos:e.start])
        size += e.start - pos
        spans[i] = (size, size + len(e.text))
        out.append(e.text)
        size += len(e.text)
        pos = e.end
    out.append(data[pos:])
    return b"".join(out), [spans[i] for i in range(len(edits))]


def changes_of(edits: Sequence[Edit], spans: Sequence[tuple[int, int]]) -> list[Change]:
    """Each edit's old bytes and where its new text landed (apply_edits_with_spans)."""
    return [(e.start, e.end, s, t) for e, (s, t) in zip(edits, spans)]


def whole_change(old: bytes, new: bytes) -> list[Change]:
    """One change spanning everything between the common head and tail of old and
    new, for when the edits are not known."""
    limit = min(len(old), len(new))
    head = next((i for i in range(limit) if old[i] != new[i]), limit)
    tail = 0
    while tail < limit - head and old[len(old) - 1 - tail] == new[len(new) - 1 - tail]:
        tail += 1
    if head == len(old) == len(new):
        return []
    return [(head, len(old) - tail, head, len(new) - tail)]
