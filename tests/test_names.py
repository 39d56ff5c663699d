"""Which spelling of the memory types a rewrite uses."""

from migrator.match import load_rules
from migrator.rewrite.plan import plan_rewrite
from migrator.match.regions import load_region_rules
from migrator.migration import load_migration

names_defined_in = load_migration().vocabulary.new.names_defined_in
type_names = load_migration().vocabulary.new.type_names

USE = b"""static Elf_Addr *got(struct module *me)
{
	return me->core_layout.base + me->arch.got_offset;
}
"""

EARLY_HEADER = b"""enum mod_mem_type {
	MOD_MEM_TYPE_TEXT = 0,
	MOD_MEM_TYPE_DATA,
	MOD_MEM_TYPE_RODATA,
	MOD_MEM_TYPE_RO_AFTER_INIT,
	MOD_MEM_TYPE_INIT_TEXT,
	MOD_MEM_TYPE_INIT_DATA,
	MOD_MEM_TYPE_INIT_RODATA,

	MOD_MEM_NUM_TYPES,
	MOD_MEM_TYPE_INVALID = -1,
};
"""


def tree(tmp_path, header=None):
    (tmp_path / "arch/s390/kernel").mkdir(parents=True)
    (tmp_path / "arch/s390/kernel/module.c").write_bytes(USE)
    if header is not None:
        (tmp_path / "include/linux").mkdir(parents=True)
        (tmp_path / "include/linux/module.h").write_bytes(header)
    return str(tmp_path)


def rewrite(root, style="short"):
    plan = plan_rewrite(root, load_rules(), load_region_rules(load_migration().regions_dir), style)
    return next(c.new for c in plan.changes if c.path.startswith("arch/")), plan


def test_default_is_mainline(tmp_path):
    new, _ = rewrite(tree(tmp_path))
    assert b"me->mem[MOD_TEXT].base" in new


def test_long_names_on_request(tmp_path):
    new, _ = rewrite(tree(tmp_path), "long")
    assert b"me->mem[MOD_MEM_TYPE_TEXT].base" in new


def test_the_trees_own_enum_wins(tmp_path):
    # A tree that already has the early posting's header keeps its spelling,
    # whatever was asked, and its header is left alone.
    new, plan = rewrite(tree(tmp_path, EARLY_HEADER), "short")
    assert b"me->mem[MOD_MEM_TYPE_TEXT].base" in new
    assert [(r.rule.id, r.status) for r in plan.regions] == [("module-h-api", "done")]
    assert all(c.path != "include/linux/module.h" for c in plan.changes)


def test_names_defined_in():
    names = names_defined_in(EARLY_HEADER)
    assert names["INIT_TEXT"] == "MOD_MEM_TYPE_INIT_TEXT" and names["TEXT"] == "MOD_MEM_TYPE_TEXT"
    assert names["NUM"] == "MOD_MEM_NUM_TYPES" and names["INVALID"] == "MOD_MEM_TYPE_INVALID"
    assert names_defined_in(b"struct module_layout {};") is None
    assert dict(type_names("short"))["INIT_RODATA"] == "MOD_INIT_RODATA"
