"""Old (6.1) and new (v6.4) placement of small synthetic modules."""

import dataclasses

from test_model_builder import MODULE_SYMBOLS, Obj, Sec, build_object, module_sections

from migrator.migration import load_migration
from migrator.verify import elf
from migrator.verify.elf import SHF_ALLOC, SHF_EXECINSTR
from migrator.verify.image import read_image
from migrator.verify.kconfig import KernelConfig, parse_config

# The module-memory pack's model plug-in, reached through the migration.
_layout = load_migration().model("layout")
new_layout, old_layout = _layout.new_layout, _layout.old_layout
_loader = load_migration().model("loader")
ARCH_RESERVED, CORE_SYMTAB, prepare = _loader.ARCH_RESERVED, _loader.CORE_SYMTAB, _loader.prepare
MAINLINE_V6_4 = load_migration().model("table").MAINLINE_V6_4

X86 = KernelConfig("amd64")


def image(*extra, machine=elf.EM_X86_64, bits=64, big_endian=False, symbols=MODULE_SYMBOLS):
    data = build_object(Obj(module_sections(*extra), symbols, bits, big_endian, machine))
    return read_image(data, "synthetic.ko")


def placements(layout):
    return {(p.key, p.index): p for p in layout.placements}


def by_key(layout):
    return {p.key: p for p in layout.placements}


def test_loader_drops_modinfo_versions_percpu_and_marks_ro_after_init():
    prepared = prepare(image(), X86)
    keys = {item.key: item for item in prepared.sections}
    assert ".modinfo" not in keys and "__versions" not in keys and ".data..percpu" not in keys
    assert keys[".data..ro_after_init"].flags & elf.SHF_RO_AFTER_INIT
    assert keys["__jump_table"].flags & elf.SHF_RO_AFTER_INIT
    assert keys[".init.text"].init and not keys[".exit.text"].init


def test_exit_code_is_init_without_module_unload():
    prepared = prepare(image(), dataclasses.replace(X86, module_unload=False))
    assert {i.key: i.init for i in prepared.sections}[".exit.text"]


def test_old_layout_classes_are_page_aligned_with_strict_rwx():
    old = old_layout(prepare(image(), X86), X86)
    got = by_key(old)
    assert got[".text"].perm == "text" and got[".exit.text"].perm == "text"
    assert got[".rodata"].perm == "rodata" and got[".rodata"].offset == 4096
    assert got[".data..ro_after_init"].perm == "ro_after_init"
    assert got["__jump_table"].perm == "ro_after_init"
    assert got[".data"].perm == "data" and got[".bss"].perm == "data"
    assert got[".init.text"].region == "init" and got[".init.data"].perm == "data"
    core = [s for s in old.spans if s.region == "core"]
    assert all(s.start % 4096 == 0 for s in core)
    # kallsyms: the core symbol table starts on a fresh page after the data.
    assert got[CORE_SYMTAB].offset % 4096 == 0 and got[CORE_SYMTAB].perm == "data"
    assert got[".symtab"].region == "init"


def test_old_layout_without_strict_rwx_packs_classes():
    config = dataclasses.replace(X86, strict_module_rwx=False)
    old = old_layout(prepare(image(), config), config)
    got = by_key(old)
    # .text [0, 100), .exit.text at 112 (16-aligned) to 132, .rodata 32-aligned right after
    assert got[".rodata"].offset == 160
    assert all(pad == 0 for pad in (s.strict_pad for s in old.spans))


def test_new_layout_gives_each_class_its_own_type():
    prepared = prepare(image(), X86)
    new = new_layout(prepared, X86, MAINLINE_V6_4)
    got = by_key(new)
    assert got[".text"].region == "MOD_TEXT" and got[".text"].offset == 0
    assert got[".rodata"].region == "MOD_RODATA" and got[".rodata"].offset == 0
    assert got[".data..ro_after_init"].region == "MOD_RO_AFTER_INIT"
    assert got[".init.text"].region == "MOD_INIT_TEXT"
    assert got[".init.data"].region == "MOD_INIT_DATA"
    assert got[CORE_SYMTAB].region == "MOD_DATA"
    assert got[".symtab"].region == "MOD_INIT_DATA"
    assert not new.invalid


def test_ppc64_keeps_init_sections_in_core():
    prepared = prepare(image(Sec(".stubs", SHF_ALLOC | SHF_EXECINSTR, 0, 8, elf.SHT_NOBITS),
                             machine=elf.EM_PPC64), KernelConfig("ppc64el", page_size=65536))
    assert not any(item.init for item in prepared.sections)
    stubs = {i.key: i for i in prepared.sections}[".stubs"]
    assert stubs.size == (1 + 2) * 40  # terminator + two ftrace stubs, no relocations


def test_arm_init_rule_takes_unwind_tables_of_init_code():
    prepared = prepare(image(Sec(".ARM.exidx.init.text", SHF_ALLOC, 8, 4),
                             Sec(".plt", SHF_ALLOC | SHF_EXECINSTR, 1, 1),
                             Sec(".init.plt", SHF_ALLOC | SHF_EXECINSTR, 1, 1),
                             machine=elf.EM_ARM, bits=32),
                       KernelConfig("armhf"))
    items = {i.key: i for i in prepared.sections}
    assert items[".ARM.exidx.init.text"].init
    assert items[".plt"].size == 128 and items[".plt"].align == 64  # two ftrace PLTs, rounded


def test_arm64_plt_grows_with_branches_out_of_the_section():
    branch = 283  # R_AARCH64_CALL26
    relocs = b"".join(
        __import__("struct").pack("<QQq", off, (sym << 32) | branch, 0)
        for off, sym in ((0, 6), (4, 6), (8, 6)))  # three calls to the undefined printk
    data = build_object(Obj(module_sections(
        Sec(".plt", SHF_ALLOC, 1, 1), Sec(".init.plt", SHF_ALLOC, 1, 1),
        Sec(".rela.text", 0, len(relocs), 8, elf.SHT_RELA, relocs, link=0, info=1)),
        MODULE_SYMBOLS, machine=elf.EM_AARCH64))
    prepared = prepare(read_image(data, "a.ko"), KernelConfig("arm64"))
    plt = {i.key: i for i in prepared.sections}[".plt"]
    assert plt.size == (1 + 1) * 12 and plt.flags == SHF_ALLOC | SHF_EXECINSTR


def test_s390_reservation_sits_at_the_start_of_text_in_both_layouts():
    relocs = b"".join(
        __import__("struct").pack(">QQq", off, (sym << 32) | rtype, 0)
        for off, sym, rtype in ((0, 6, 26), (8, 6, 20), (16, 1, 20)))  # GOTENT, PLT32DBL x2
    data = build_object(Obj(module_sections(
        Sec(".rela.text", 0, len(relocs), 8, elf.SHT_RELA, relocs, info=1)),
        MODULE_SYMBOLS, big_endian=True, machine=elf.EM_S390))
    config = KernelConfig("s390x", expoline=True)
    prepared = prepare(read_image(data, "s.ko"), config)
    assert prepared.reservation.size == 1 * 8 + 2 * 22 + 22
    old, new = old_layout(prepared, config), new_layout(prepared, config, MAINLINE_V6_4)
    assert by_key(old)[ARCH_RESERVED].offset == 0 and by_key(old)[ARCH_RESERVED].perm == "text"
    assert by_key(new)[ARCH_RESERVED].region == "MOD_TEXT"
    assert by_key(new)[".text"].offset == 80  # 74 reserved bytes, then 16-aligned


def test_data_in_vmalloc_splits_text_from_the_rest():
    config = dataclasses.replace(X86, data_in_vmalloc=True)
    old = old_layout(prepare(image(), config), config)
    got = by_key(old)
    assert got[".text"].region == "core" and got[".rodata"].region == "data"
    assert got[".rodata"].offset == 0 and got[".rodata"].perm == "rodata"


def test_kallsyms_keeps_core_symbols_only():
    prepared = prepare(image(), X86)
    k = prepared.kallsyms
    # null symbol + do_work, table, state, cleanup_module (core); not init_module, not printk
    assert k.core[0].size == 5 * 24
    assert k.core[1].size == 1 + len("do_work\0table\0state\0cleanup_module\0")
    narrow = dataclasses.replace(X86, kallsyms_all=False)
    assert prepare(image(), narrow).kallsyms.core[0].size == 3 * 24  # text symbols only


def test_parse_config_reads_page_size_and_options():
    config = parse_config("CONFIG_PPC_64K_PAGES=y\nCONFIG_STRICT_MODULE_RWX=y\n"
                          "CONFIG_MODULE_UNLOAD=y\n# CONFIG_KALLSYMS_ALL is not set\n", "ppc64el")
    assert (config.page_size, config.strict_module_rwx, config.kallsyms_all) == (65536, True, False)
    assert parse_config("CONFIG_ARM64_4K_PAGES=y\n", "arm64").page_size == 4096
