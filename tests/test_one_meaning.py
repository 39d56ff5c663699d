"""One meaning, one mapping (issue 12, defect 7).

The spellings of one address (base + text_size commuted, in parentheses,
with a cast, as &base[text_size]) all map like base + text_size; an offset
added in place (ro += text_size, ro = ro + text_size, ...) maps alike when
the block plainly gives ro the layout's base, and is reported alike when it
does not; a receiver with side effects is never evaluated more or fewer
times than before.
"""

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from migrator.match import load_rules, match_file
from migrator.parse import SourceFile
from migrator.rewrite.edits import apply_edits, edits_for

OFFSETS = {("core_layout", "text_size"): "RODATA", ("core_layout", "ro_size"): "RO_AFTER_INIT",
           ("core_layout", "ro_after_init_size"): "DATA", ("init_layout", "text_size"): "INIT_RODATA",
           ("init_layout", "ro_after_init_size"): "INIT_DATA"}


@pytest.fixture(scope="module")
def rules():
    return load_rules()


def rewrite(rules, statement: str) -> tuple[str, list]:
    code = f"void f(struct module *mod, struct module **mods, int i)\n{{\n\t{statement}\n}}\n".encode()
    result = match_file(SourceFile("arch/x/kernel/module.c", code), rules)
    new = apply_edits(code, edits_for(code, [m for m in result.matches if m.severity == "rewrite"]))
    return new.decode().split("{\n\t", 1)[1].rsplit("\n}", 1)[0], result.matches


@st.composite
def spellings(draw):
    (layout, offset), kind = draw(st.sampled_from(sorted(OFFSETS.items())))
    recv = draw(st.sampled_from(["mod", "me", "THIS_MODULE", "mk->mod", "(*pmod)"]))
    base, off = f"{recv}->{layout}.base", f"{recv}->{layout}.{offset}"
    cast = draw(st.sampled_from(["", "(unsigned long)", "(void *)"]))
    shape = draw(st.sampled_from(["{b} + {o}", "{o} + {b}", "&{b}[{o}]"]))
    # A cast binds looser than [], so a subscripted cast base needs its parentheses.
    if draw(st.booleans()) or (cast and shape.startswith("&")):
        base = f"({cast}{base})"
    else:
        base = f"{cast}{base}"
    if draw(st.booleans()):
        off = f"({off})"
    return shape.format(b=base, o=off), kind, cast.strip()


@settings(max_examples=150, derandomize=True, deadline=None)
@given(spelling=spellings())
def test_every_spelling_of_an_offset_address_maps_alike(rules, spelling):
    expression, kind, cast = spelling
    new, matches = rewrite(rules, f"p = {expression};")
    body = new[len("p = "):-1]
    assert re.fullmatch(rf"(\({re.escape(cast[1:-1])}\))?\S*mem\[MOD_{kind}\]\.base", body) if cast else \
        re.fullmatch(rf"\S*mem\[MOD_{kind}\]\.base", body), (expression, new)
    assert "_layout" not in new and "MOD_TEXT" not in new, (expression, new)


IN_PLACE = ["ro += {o};", "ro += ({o});", "ro = ro + {o};", "ro = {o} + ro;", "ro = ro + ({o});"]
# How the variable got the layout's base, plainly (its value is known at the addition)...
HOLDS_BASE = ["void *ro = {b};", "char *ro;\n\tro = {b};", "unsigned long ro;\n\tro = (unsigned long){b};",
              "u8 *ro = {b};\n\t/* the constants follow the code */"]
# ...or not: another value, a write or a label between, a module pointer that moved,
# a pointer that steps by four bytes.
UNKNOWN = ["char *ro = get_base(mod);", "char *ro = {b};\n\tif (i)\n\t\tro = NULL;",
           "char *ro = {b};\n\t{r} = mods[i];", "u32 *ro = {b};", "char *ro = {b};\nagain:",
           "char *ro;\n\tro = {b};\n\tbump(&ro);"]


@st.composite
def offsets_added_in_place(draw):
    (layout, offset), kind = draw(st.sampled_from(sorted(OFFSETS.items())))
    recv = draw(st.sampled_from(["mod", "mk->mod", "(*mods)"]))
    return recv, layout, offset, kind


@settings(max_examples=40, derandomize=True, deadline=None)
@given(case=offsets_added_in_place())
def test_every_spelling_of_an_offset_added_in_place_maps_alike(rules, case):
    recv, layout, offset, kind = case
    base, off = f"{recv}->{layout}.base", f"{recv}->{layout}.{offset}"
    for before in HOLDS_BASE:
        cast = "(unsigned long)" if "unsigned long" in before else ""
        expect = f"ro = {cast}{recv}->mem[MOD_{kind}].base;"
        for form in IN_PLACE:
            new, matches = rewrite(rules, before.format(b=base) + "\n\t" + form.format(o=off))
            assert new.rsplit("\n\t", 1)[1] == expect, (before, form, new)
            assert [m.rule_id for m in matches if m.start > len(before)][-1:] == ["offset-added-to-base"]
    for before in UNKNOWN:
        for form in IN_PLACE:
            statement = before.format(b=base, r=recv) + "\n\t" + form.format(o=off)
            new, matches = rewrite(rules, statement)
            assert new.rsplit("\n\t", 1)[1] == form.format(o=off), (before, form, new)
            assert "offset-added-in-place" in [m.rule_id for m in matches if m.severity == "report"]


@pytest.mark.parametrize("statement", [
    "return a >= (unsigned long)mods[i++]->core_layout.base && "
    "a < (unsigned long)mods[i++]->core_layout.base + mods[i++]->core_layout.size;",
    "p = mods[i++]->core_layout.base + mods[i++]->core_layout.text_size;",
    "p = mods[i++]->core_layout.text_size + mods[i++]->core_layout.base;",
    "p = get_mod(x)->core_layout.base + get_mod(x)->core_layout.ro_size;",
])
def test_a_receiver_with_side_effects_is_never_collapsed(rules, statement):
    new, matches = rewrite(rules, statement)
    assert new.count("i++") == statement.count("i++") and new.count("get_mod(") == statement.count("get_mod(")
    assert new == statement, new
    assert any("side effects" in m.message for m in matches)


@st.composite
def bounds(draw):
    """A comparison of an address with base + offset, in any spelling, either way round."""
    sum_, kind, cast = draw(spellings())
    if draw(st.booleans()):
        sum_ = f"({sum_})" if not draw(st.booleans()) else f"(unsigned long)({sum_})"
    op = draw(st.sampled_from(["<", "<=", ">", ">="]))
    swapped = draw(st.booleans())
    upper = op in ("<", "<=")  # a op sum, or the same test the other way round: sum flipped a
    flipped = {"<": ">", "<=": ">=", ">": "<", ">=": "<="}[op]
    test = f"{sum_} {flipped} a" if swapped else f"a {op} {sum_}"
    return test, kind, upper


@settings(max_examples=150, derandomize=True, deadline=None)
@given(case=bounds())
def test_every_spelling_of_an_offset_bound_maps_alike(rules, case):
    """Only the end of the text bounds a memory since v6.4; every other bound is left whole."""
    test, kind, upper = case
    new, matches = rewrite(rules, f"if ({test})\n\t\thit = 1;")
    if upper and kind in ("RODATA", "INIT_RODATA"):  # base + text_size: the end of the text
        text = "MOD_TEXT" if kind == "RODATA" else "MOD_INIT_TEXT"
        assert f"mem[{text}].base" in new and f"mem[{text}].size" in new and "_layout" not in new, (test, new)
        assert [m.rule_id for m in matches] == ["text-range-end"], (test, new)
    else:
        assert new == f"if ({test})\n\t\thit = 1;", (test, new)
        assert [(m.rule_id, m.severity) for m in matches] == [("layout-offset-bound", "report")], (test, new)
