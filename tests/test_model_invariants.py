"""The invariants hold for the mainline v6.4 table and catch deliberately wrong tables."""

import dataclasses

import pytest
from test_model_builder import MODULE_SYMBOLS, Obj, Sec, build_object, module_sections

from migrator.migration import load_migration
from migrator.errors import MigratorError
from migrator.verify import elf
from migrator.verify.elf import SHF_ALLOC, SHF_IA_64_SHORT, SHF_WRITE
from migrator.verify.image import read_image
from migrator.verify.kconfig import KernelConfig

# The module-memory pack's model plug-in, reached through the migration.
check_image = load_migration().model("check").check_image
_table = load_migration().model("table")
MAINLINE_V6_4, MOD_INVALID = _table.MAINLINE_V6_4, _table.MOD_INVALID

X86 = KernelConfig("amd64")
# An ia64-like kernel: small data sections carry SHF_IA_64_SHORT and have a row of their own.
IA64 = KernelConfig("ia64", page_size=16384, arch_shf_small=SHF_IA_64_SHORT)
SMALL = (Sec(".sdata", SHF_ALLOC | SHF_WRITE | SHF_IA_64_SHORT, 16, 8),
         Sec(".sbss", SHF_ALLOC | SHF_WRITE | SHF_IA_64_SHORT, 32, 8, elf.SHT_NOBITS))


def module(*extra, machine=elf.EM_X86_64):
    return read_image(build_object(Obj(module_sections(*extra), MODULE_SYMBOLS,
                                       machine=machine)), "m.ko")


def invariants(result):
    return {v.invariant for v in result.violations}


@pytest.mark.parametrize("config", [
    X86,
    dataclasses.replace(X86, strict_module_rwx=False),
    dataclasses.replace(X86, data_in_vmalloc=True),
    dataclasses.replace(X86, module_unload=False),
    dataclasses.replace(X86, kallsyms=False),
    dataclasses.replace(X86, page_size=65536),
], ids=["strict", "no-strict", "data-in-vmalloc", "no-unload", "no-kallsyms", "64k-pages"])
def test_mainline_table_keeps_every_invariant(config):
    result = check_image(module(), config)
    assert result.violations == ()
    assert result.footprint.allocations_after > result.footprint.allocations_before


def test_mainline_table_places_ia64_small_data_in_data():
    result = check_image(module(*SMALL, machine=elf.EM_IA_64), IA64)
    assert result.violations == ()


def test_small_data_mapped_to_invalid_is_caught():
    # Upstream's first v6.4 table did this and broke ia64.
    broken = dataclasses.replace(
        MAINLINE_V6_4, core_types=MAINLINE_V6_4.core_types[:4] + (MOD_INVALID,),
        source="small-data-invalid")
    result = check_image(module(*SMALL, machine=elf.EM_IA_64), IA64, broken)
    assert {"invalid-type", "placed-once"} <= invariants(result)
    messages = [str(v) for v in result.violations if v.invariant == "invalid-type"]
    assert any(".sdata" in m and "mask row 4" in m and "MOD_INVALID" in m for m in messages)


def test_ro_after_init_mapped_to_data_is_caught():
    broken = dataclasses.replace(
        MAINLINE_V6_4, core_types=("MOD_TEXT", "MOD_RODATA", "MOD_DATA", "MOD_DATA", "MOD_DATA"),
        source="ro-after-init-as-data")
    result = check_image(module(), X86, broken)
    wrong = [v for v in result.violations if v.invariant == "permission-class"]
    assert {v.subject for v in wrong} == {".data..ro_after_init", "__jump_table"}
    assert "ro_after_init in 6.1, data in MOD_DATA" in wrong[0].message
    assert "type-size" in invariants(result)


def test_init_text_mapped_to_core_text_is_caught():
    broken = dataclasses.replace(
        MAINLINE_V6_4, init_types=("MOD_TEXT",) + MAINLINE_V6_4.init_types[1:],
        source="init-text-in-core")
    result = check_image(module(), X86, broken)
    assert "init-ness" in invariants(result)
    assert any(v.subject == ".init.text" for v in result.violations)


def test_swapped_rodata_and_text_is_caught():
    broken = dataclasses.replace(
        MAINLINE_V6_4, core_types=("MOD_RODATA", "MOD_TEXT") + MAINLINE_V6_4.core_types[2:],
        source="swapped")
    assert "permission-class" in invariants(check_image(module(), X86, broken))


def test_kallsyms_in_the_wrong_type_is_caught():
    broken = dataclasses.replace(MAINLINE_V6_4, kallsyms_core="MOD_INIT_DATA",
                                 source="kallsyms-in-init")
    result = check_image(module(), X86, broken)
    assert "init-ness" in invariants(result) and "type-size" in invariants(result)


def test_alignment_beyond_the_page_is_caught():
    big = Sec(".data..page_aligned", SHF_ALLOC | SHF_WRITE, 64, 8192)
    result = check_image(module(big), X86)
    assert "alignment" in invariants(result)


@pytest.mark.parametrize("change, field", [
    ({"core_types": ("MOD_TEXT",)}, "core_types has 1 entries"),
    ({"init_types": ("MOD_INIT_TEXT", "MOD_INIT_RODATA", "MOD_FOO", "MOD_INIT_DATA",
                     "MOD_INIT_DATA")}, r"init_types\[2\] is not a memory type"),
    ({"kallsyms_core": "MOD_BSS"}, "kallsyms_core is not a memory type"),
])
def test_malformed_table_names_the_bad_field(change, field):
    broken = dataclasses.replace(MAINLINE_V6_4, source="typo", **change)
    with pytest.raises(MigratorError, match=field):
        check_image(module(), X86, broken)


def test_refused_modules_are_results_not_errors():
    data = build_object(Obj([Sec(".text", SHF_ALLOC | elf.SHF_EXECINSTR)], MODULE_SYMBOLS[:1]))
    result = check_image(read_image(data, "nomod.ko"), X86)
    assert result.refusal == "no .gnu.linkonce.this_module section"
    wx = Sec(".text.wx", SHF_ALLOC | elf.SHF_EXECINSTR | SHF_WRITE, 4, 4)
    assert "writable and executable" in check_image(module(wx), X86).refusal
