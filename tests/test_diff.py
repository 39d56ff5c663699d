"""--dry-run's diff, built from the edits: a true diff of the files, and difflib's text."""

import difflib
import random
import re

import pytest

from migrator.rewrite.diff import unified_diff
from migrator.rewrite.edits import Edit, apply_edits_with_spans, changes_of
from migrator.rewrite.plan import FileChange
from migrator.rewrite.reflow import reflow_changes

HUNK = re.compile(rb"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@\n", re.M)


def _difflib(c: FileChange) -> bytes:
    name = c.path.encode()
    out = [b"diff --git a/" + name + b" b/" + name + b"\n"]
    out += difflib.diff_bytes(difflib.unified_diff, c.old.splitlines(keepends=True),
                              c.new.splitlines(keepends=True), b"a/" + name, b"b/" + name, n=3)
    return b"".join(line if line.endswith(b"\n") else line + b"\n\\ No newline at end of file\n"
                    for line in out)


def _apply(diff: bytes, old: bytes) -> bytes:
    """old with the diff's hunks applied, each checked against the old lines it names."""
    body = diff.replace(b"\n\\ No newline at end of file\n", b"\x00\n")
    old_lines, out, at = old.splitlines(keepends=True), [], 0
    hunks = list(HUNK.finditer(body))
    for k, h in enumerate(hunks):
        start, length = int(h[1]), int(h[2] if h[2] is not None else 1)
        first = start - 1 if length else start
        out += old_lines[at:first]
        text = body[h.end():hunks[k + 1].start() if k + 1 < len(hunks) else len(body)]
        lines = [line[:-2] if line.endswith(b"\x00\n") else line for line in re.findall(rb"[^\n]*\n", text)]
        minus = [line[1:] for line in lines if line[:1] in b" -"]
        assert minus == old_lines[first:first + length]
        out += [line[1:] for line in lines if line[:1] in b" +"]
        at = first + length
    return b"".join(out + old_lines[at:])


def _random_change(rnd: random.Random, line_pool: list[bytes]) -> FileChange:
    old = b"".join(rnd.choice(line_pool) for _ in range(rnd.randint(1, 60)))
    if rnd.random() < 0.2:
        old = old.rstrip(b"\n")
    edits, pos = [], 0
    while True:
        pos += rnd.randint(0, 60)
        if pos > len(old):
            break
        end = min(len(old), pos + rnd.choice([0, 1, 3, 12, 40]))
        text = rnd.choice([b"", b"mem[MOD_TEXT]", b"\n", b"\r", b"x\ny\n", b"\t}\n"])
        if end > pos or text:
            edits.append(Edit(pos, end, text))
        pos = end + rnd.randint(0, 4)
    new, spans = apply_edits_with_spans(old, edits)
    new, changed = reflow_changes(old, new, changes_of(edits, spans))
    return FileChange("drivers/x/a.c", old, new, (), (), changed=tuple(changed))


@pytest.mark.parametrize("seed", range(4))
def test_the_diff_turns_the_old_file_into_the_new(seed):
    # Repeated lines, CRs, lone braces and a missing last newline: the edges where
    # lines are told apart.
    pool = [b"\tp = mod->core_layout.base;\n", b"}\n", b"\n", b"\t}\n", b"a\r\n", b"b\r", b"\tq = 1;\n"]
    rnd = random.Random(seed)
    for _ in range(500):
        c = _random_change(rnd, pool)
        if c.old == c.new:
            continue
        diff = unified_diff([c])
        assert _apply(diff, c.old) == c.new
        assert _apply(unified_diff([FileChange(c.path, c.old, c.new, (), ())]), c.old) == c.new


@pytest.mark.parametrize("seed", range(4))
def test_where_the_lines_are_distinct_the_text_is_difflibs(seed):
    # Real code between two rewrites is mostly distinct lines: there no alignment
    # is ambiguous, and the diff is byte for byte what whole-file difflib prints.
    rnd = random.Random(seed)
    pool = [b"\tline_%d(mod);\n" % i for i in range(5000)]
    for _ in range(300):
        c = _random_change(rnd, pool)
        if c.old == c.new or any(len(set(d.splitlines())) < len(d.splitlines()) for d in (c.old, c.new)):
            continue
        assert unified_diff([c]) == _difflib(c)
