"""Rewritten lines keep within the kernel's 100 columns."""

from migrator.rewrite.reflow import columns, reflow


def test_wraps_inside_the_innermost_parenthesis():
    old = b"\t\tval -= (uint64_t) (in_init(mod, val) ? mod->init_layout.base : mod->core_layout.base);\n"
    new = b"\t\tval -= (uint64_t) (in_init(mod, val) ? mod->mem[MOD_INIT_TEXT].base : mod->mem[MOD_TEXT].base);\n"
    assert reflow(old, new) == (b"\t\tval -= (uint64_t) (in_init(mod, val) ? mod->mem[MOD_INIT_TEXT].base :\n"
                                b"\t\t\t\t   mod->mem[MOD_TEXT].base);\n")


def test_wraps_one_tab_deeper_outside_parentheses():
    old = b"\t\tnextval = (unsigned long)mod->init_layout.base + mod->init_layout.text_size;\n"
    new = b"\t\tnextval = (unsigned long)mod->mem[MOD_INIT_TEXT].base + mod->mem[MOD_INIT_TEXT].size;\n"
    assert columns(new.rstrip()) == 101
    assert reflow(old, new) == (b"\t\tnextval = (unsigned long)mod->mem[MOD_INIT_TEXT].base +\n"
                                b"\t\t\tmod->mem[MOD_INIT_TEXT].size;\n")


def test_leaves_lines_that_were_long_already_or_fit():
    long_before = b"\t" + b"x" * 120 + b" + y;\n"
    assert reflow(long_before, long_before.replace(b"y", b"z")) == long_before.replace(b"y", b"z")
    short = b"\tp = mod->mem[MOD_TEXT].base;\n"
    assert reflow(b"\tp = mod->core_layout.base;\n", short) == short
