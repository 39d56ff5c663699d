"""Fuzzing the rewrite with generated C (issue 12): seeded and bounded, so CI runs it.

Each example is one C file holding uses of the old layouts in expressions,
statements, macro bodies, comments, strings and #if branches.  The rewrite
must not crash, must not add parse errors, must leave no old use that it
does not report, must keep every byte outside its edits (the reflow may only
move blanks), and a second run must change nothing.
"""

import re

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from migrator.match import load_rule_book
from migrator.parse import parse_c
from migrator.rewrite.edits import apply_edits, edits_for
from migrator.rewrite.plan import plan_rewrite

RECEIVERS = ["mod", "me", "THIS_MODULE", "mk->mod", "(*pmod)", "mods[i]", "info->mod"]
LAYOUTS = ["core_layout", "init_layout"]
MEMBERS = ["base", "size", "text_size", "ro_size", "ro_after_init_size"]
AREAS = ["arch/x/kernel/module.c", "kernel/module/fuzz.c", "drivers/x/fuzz.h"]


@st.composite
def uses(draw):
    recv = draw(st.sampled_from(RECEIVERS))
    layout = draw(st.sampled_from(LAYOUTS))
    member = draw(st.sampled_from(MEMBERS))
    return f"{recv}->{layout}.{member}"


@st.composite
def expressions(draw, depth=0):
    a = draw(uses())
    if depth > 1:
        return a
    b = draw(st.one_of(uses(), st.sampled_from(["addr", "4096", "loc", "mod->arch.got_offset"])))
    shape = draw(st.sampled_from([
        "{a}", "{a} + {b}", "{b} + {a}", "{a} - {b}", "({a})", "(unsigned long){a}", "{a} < {b}",
        "{b} >= {a} && {b} < {a} + {b}", "f({a}, {b})", "{b} ? {a} : 0", "&{a}", "(void *){a} + {b}",
        "({a} + {b}) / 2",
    ]))
    text = shape.format(a=a, b=b)
    if draw(st.booleans()):
        inner = draw(expressions(depth=depth + 1))
        text = draw(st.sampled_from(["{x} + ({y})", "g({x}, {y})", "{x} == {y}"])).format(x=text, y=inner)
    return text


# Where a use stands: a statement, a condition, a call, a comment, a string, an #if branch.
STATEMENTS = [
    "\tp = {e};", "\tif ({e})\n\t\treturn 1;", "\treturn {e};",
    "\tpr_debug(\"%lx\\n\", (unsigned long)({e}));", "\t/* {e} */", "\tputs(\"{e}\");",
    "#if CONFIG_FUZZ_{n}\n\tp = {e};\n#else\n\tp = {other};\n#endif", "\tp += {e};",
]


@st.composite
def statements(draw):
    shape = draw(st.sampled_from(STATEMENTS))
    other = draw(expressions()) if "{other}" in shape else ""
    return shape.format(e=draw(expressions()), other=other, n=draw(st.integers(0, 3)))


@st.composite
def files(draw):
    parts = []
    for i in range(draw(st.integers(1, 3))):
        body = "\n".join(draw(st.lists(statements(), min_size=1, max_size=4)))
        parts.append(f"static unsigned long fuzz_{i}(struct module *mod, struct module *me)\n{{\n{body}\n}}\n")
    if draw(st.booleans()):
        parts.insert(0, f"#define FUZZ_ADDR(mod) ({draw(expressions())})\n")
    return draw(st.sampled_from(AREAS)), "\n".join(parts).encode()


def _errors(data: bytes) -> int:
    count, stack = 0, [parse_c(data).root_node]
    while stack:
        n = stack.pop()
        count += n.type == "ERROR" or n.is_missing
        if n.has_error:
            stack.extend(n.children)
    return count


def _sites(path: str, data: bytes) -> int:
    """Old uses in the bytes, counted without the tool: the names after `->` outside
    comments and string literals (the generator writes no other kind)."""
    code = re.sub(rb"/\*.*?\*/|\"(?:\\.|[^\"\\])*\"", b"", data, flags=re.S)
    return len(re.findall(rb"->(?:core|init)_layout\b", code))


def _untouched_lines(data: bytes, matches) -> list[bytes]:
    """The lines of data that no rewritten match touches."""
    out, pos = [], 0
    for line in data.split(b"\n"):
        end = pos + len(line)
        if not any(m.start <= end and pos < m.end for m in matches):
            out.append(line)
        pos = end + 1
    return out


def _in_order(wanted: list[bytes], lines: list[bytes]) -> bool:
    it = iter(lines)
    return all(any(w == line for line in it) for w in wanted)


@pytest.fixture(scope="module")
def book():
    return load_rule_book()


@settings(max_examples=120, derandomize=True, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(case=files())
def test_fuzzed_fragments(tmp_path_factory, book, case):
    path, code = case
    root = tmp_path_factory.mktemp("fuzz")
    (root / path).parent.mkdir(parents=True)
    (root / path).write_bytes(code)

    plan = plan_rewrite(str(root), book)  # no crash
    left = [f for f in plan.left() if f.occurrence.path == path]
    change = next((c for c in plan.changes if c.path == path), None)
    event(f"sites left: {'some' if left else 'none'}; file {'rewritten' if change else 'unchanged'}")
    if change is None:
        assert len(left) == _sites(path, code)  # nothing rewritten: every site is reported
        return
    new = change.new
    assert _errors(new) <= _errors(code), new.decode()
    assert _sites(path, new) == len(left), new.decode()  # every old use left is reported
    # Outside the edits nothing changes; the reflow may only turn blanks into line breaks.
    expected = apply_edits(code, edits_for(code, change.rewritten))
    assert re.sub(rb"\s+", b"", new) == re.sub(rb"\s+", b"", expected)
    assert _in_order(_untouched_lines(code, change.rewritten), new.split(b"\n"))
    # A second run changes nothing.
    (root / path).write_bytes(new)
    again = plan_rewrite(str(root), book)
    assert not again.changes, again.changes[0].new.decode()
