"""The C compiler of the source check, and the memory maps it runs on."""

import pytest

from migrator.migration import load_migration
from migrator.verify.kconfig import KernelConfig
from migrator.parse import parse_c

# The module-memory pack's model plug-in, reached through the migration.
_cexpr = load_migration().model("cexpr")
Compiler, Scope, Unevaluable = _cexpr.Compiler, _cexpr.Scope, _cexpr.Unevaluable
_memmap = load_migration().model("memmap")
NEW_BASES, OLD_BASES, new_point, old_point = _memmap.NEW_BASES, _memmap.OLD_BASES, _memmap.new_point, _memmap.old_point
synthetic_probe_sets = load_migration().model("probes").synthetic_probe_sets

HEADER = b"""
enum mod_mem_type { MOD_TEXT = 0, MOD_DATA, MOD_RODATA, MOD_RO_AFTER_INIT,
	MOD_INIT_TEXT, MOD_INIT_DATA, MOD_INIT_RODATA, MOD_MEM_NUM_TYPES, MOD_INVALID = -1 };
#define mod_mem_type_is_init(type) \\
	((type) == MOD_INIT_TEXT || (type) == MOD_INIT_DATA || (type) == MOD_INIT_RODATA)
static inline bool within_module_mem_type(unsigned long addr, const struct module *mod,
					  enum mod_mem_type type)
{
	unsigned long base = (unsigned long)mod->mem[type].base;

	return addr - base < mod->mem[type].size;
}
static inline bool within_module_init(unsigned long addr, const struct module *mod)
{
	for_class_mod_mem_type(type, init) {
		if (within_module_mem_type(addr, mod, type))
			return true;
	}
	return false;
}
"""


@pytest.fixture(scope="module")
def module():
    sets = synthetic_probe_sets()
    return next(m for m in sets[0].maps if m.name.endswith("every-class"))


def compile_expr(code: bytes, free="address", config=KernelConfig("amd64")):
    data = b"int x = (" + code + b");"
    tree = parse_c(data)
    value = tree.root_node.children[0].child_by_field_name("declarator").child_by_field_name("value")
    scope = Scope()
    scope.add_source(HEADER)
    return Compiler(scope, config).expression(value, data, free)


def test_unsigned_range_test_wraps_below_the_base(module):
    test = compile_expr(b"loc - (u64)mod->init_layout.base < mod->init_layout.size").fn
    assert test(module, OLD_BASES["init"]) is True
    assert test(module, OLD_BASES["init"] - 1) is False
    assert test(module, OLD_BASES["init"] + module.init_size) is False


def test_helpers_with_loops_and_macros(module):
    test = compile_expr(b"within_module_init(loc, mod)")
    assert test.kind == "bool"
    init_rodata = NEW_BASES[6]
    assert test.fn(module, init_rodata) is True
    assert test.fn(module, NEW_BASES[0]) is False


def test_thirty_two_bit_casts_truncate(module):
    value = compile_expr(b"(u32)(mod->core_layout.base + 0x100000000UL)", free=None)
    assert value.fn(module, 0) == OLD_BASES["core"]


def test_what_is_not_modelled_is_unevaluable():
    with pytest.raises(Unevaluable, match="MAX_LTOFF"):
        compile_expr(b"mod->mem[MOD_DATA].size > MAX_LTOFF")
    with pytest.raises(Unevaluable, match="gp"):
        compile_expr(b"mod->mem[MOD_DATA].base + gp", free=None)
    with pytest.raises(Unevaluable, match="arch"):
        compile_expr(b"me->mem[MOD_TEXT].base + me->arch.got_offset", free=None)
    with pytest.raises(Unevaluable, match="defined neither"):
        compile_expr(b"in_somewhere(mod, loc)")


def test_points_of_addresses(module):
    text_end = compile_expr(b"mod->mem[MOD_TEXT].base + mod->mem[MOD_TEXT].size", free=None)
    rodata = compile_expr(b"mod->core_layout.base + mod->core_layout.text_size", free=None)
    new, old = text_end.fn(module, 0), rodata.fn(module, 0)
    assert old_point(module, old)[:2] == (".rodata", 3)
    assert new_point(module, new) == ("<end>",)
    # Read as the end of a range, both are the end of the text's last section.
    assert old_point(module, old, end=True) == new_point(module, new, end=True)
