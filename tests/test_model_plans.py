"""Allocation plans: extraction from C, and the permission model they are checked against."""

from migrator.migration import load_migration
from migrator.verify.kconfig import KernelConfig

# The module-memory pack's model plug-in, reached through the migration.
_permissions = load_migration().model("permissions")
entry_kind, missing, permissions = _permissions.entry_kind, _permissions.missing, _permissions.permissions
_plans = load_migration().model("plans")
check_plans, extract_plan = _plans.check_plans, _plans.extract_plan

FROB = b"""
int module_frob_arch_sections(Elf_Ehdr *h, Elf_Shdr *s, char *n, struct module *me)
{
	me->LAYOUT.size = ALIGN(me->LAYOUT.size, 16);
	me->arch.got_offset = me->LAYOUT.size;
	me->LAYOUT.size += gots * sizeof(struct got_entry);
	me->arch.fdesc_offset = me->LAYOUT.size;
	me->LAYOUT.size += fdescs * sizeof(Elf_Fdesc);
	return 0;
}

static Elf_Addr slot(struct module *me, int i)
{
	return (Elf_Addr)me->BASE.base + me->arch.got_offset + i * 8;
}
"""


def plan(layout: bytes, base: bytes):
    code = FROB.replace(b"LAYOUT", layout).replace(b"BASE", base)
    return extract_plan("arch/parisc/kernel/module.c", code)


def test_reservations_and_addresses_are_read_in_both_spellings():
    old = plan(b"core_layout", b"core_layout")
    assert [(r.variable, r.memory, r.grown_by) for r in old.reservations] == [
        ("got_offset", "core_layout", "gots * sizeof(struct got_entry)"),
        ("fdesc_offset", "core_layout", "fdescs * sizeof(Elf_Fdesc)")]
    new = plan(b"mem[MOD_TEXT]", b"mem[MOD_TEXT]")
    assert [(a.variable, a.memory, a.line) for a in new.addresses] == [
        ("got_offset", "MOD_TEXT", 14)]


def test_the_faithful_plan_passes_and_a_stray_base_fails():
    config = KernelConfig("generic")
    old = [plan(b"core_layout", b"core_layout")]
    assert check_plans([plan(b"mem[MOD_TEXT]", b"mem[MOD_TEXT]")], old, config) == []
    bad = check_plans([plan(b"mem[MOD_TEXT]", b"mem[MOD_RODATA]")], old, config)
    assert [(v.line, v.invariant) for v in bad] == [(14, "reservation-type")]


def test_when_permissions_are_set():
    strict = KernelConfig("generic")
    assert permissions("MOD_TEXT", "relocation", strict) == "rw"
    assert permissions("MOD_TEXT", "running", strict) == "rx"
    assert permissions("MOD_RO_AFTER_INIT", "running", strict) == "rw"
    assert permissions("MOD_RO_AFTER_INIT", "after-init", strict) == "r"
    assert permissions("MOD_INIT_TEXT", "after-init", strict) == ""
    assert permissions("MOD_DATA", "running", KernelConfig("generic", strict_module_rwx=False)) == "rwx"
    assert entry_kind("plt_offset") == "PLT" and entry_kind("got_offset") == "GOT"
    assert entry_kind("fdesc_offset") == "function descriptors" and entry_kind("size") is None
    assert missing("PLT", "MOD_TEXT", strict) == []
    assert ("running", "x") in missing("PLT", "MOD_DATA", strict)
    assert missing("GOT", "MOD_RODATA", strict) == []  # written before it turns read-only
