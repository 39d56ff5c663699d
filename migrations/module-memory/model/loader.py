"""What the loader does to a module's sections before it lays them out.

These steps are the same in 6.1 and v6.4 (``setup_load_info``,
``rewrite_section_headers``, ``module_frob_arch_sections``,
``module_enforce_rwx_sections``, the per-cpu and ro_after_init marking, and
the sizing half of ``layout_symtab``), so both layouts start from the one
:class:`Prepared` value this module returns.
"""

from __future__ import annotations

from dataclasses import dataclass

from migrator.verify import arch, elf
from migrator.verify.image import ModuleImage
from migrator.verify.kconfig import KernelConfig

ARCH_RESERVED = "<arch-reserved>"
CORE_SYMTAB = "<core-symtab>"
CORE_STRTAB = "<core-strtab>"
CORE_TYPETAB = "<core-typetab>"
MOD_KALLSYMS = "<mod_kallsyms>"
INIT_TYPETAB = "<init-typetab>"


@dataclass(frozen=True, slots=True)
class Item:
    """Something that gets a place: a section or a loader-made block (``<...>``)."""

    key: str
    index: int
    flags: int
    size: int
    align: int
    init: bool


@dataclass(frozen=True, slots=True)
class Kallsyms:
    """The blocks ``layout_symtab()`` appends, in the order it appends them."""

    symtab: Item            # the full symbol table, init
    core: tuple[Item, ...]  # core symtab, strtab and type table, core data
    strtab: Item            # the full string table, init
    init_tail: tuple[Item, ...]  # struct mod_kallsyms and the init type table


@dataclass(frozen=True, slots=True)
class Prepared:
    """The loader's view of a module just before layout."""

    name: str
    sections: tuple[Item, ...]
    reservation: Item | None
    kallsyms: Kallsyms | None
    refusal: str | None = None


def _align(value: int, align: int) -> int:
    return (value + align - 1) // align * align


def prepare(image: ModuleImage, config: KernelConfig) -> Prepared:
    """Apply the pre-layout steps of the loader to ``image`` under ``config``."""
    rule = arch.init_rule(image.machine)
    unload = config.module_unload
    by_name: dict[str, list] = {}
    for s in image.sections:
        by_name.setdefault(s.name, []).append(s)

    def find_alloc(name: str):
        """find_sec(): the first section of that name that still has SHF_ALLOC."""
        for s in by_name.get(name, ()):
            if s.flags & elf.SHF_ALLOC:
                return s.index
        return 0

    if not image.symtab_index:
        return Prepared(image.name, (), None, None, "no symbol table (stripped?)")
    if not find_alloc(".gnu.linkonce.this_module"):
        return Prepared(image.name, (), None, None, "no .gnu.linkonce.this_module section")

    flags = {s.index: s.flags for s in image.sections}
    size = {s.index: s.size for s in image.sections}
    align = {s.index: s.addralign for s in image.sections}
    names = {s.index: s.name for s in image.sections}

    # rewrite_section_headers(): .modinfo and __versions are tracked, not kept.
    for name in (".modinfo", "__versions"):
        index = find_alloc(name)
        if index:
            flags[index] &= ~elf.SHF_ALLOC

    refusal = _frob(image, config, rule, by_name, flags, size, align)
    if refusal:
        return Prepared(image.name, (), None, None, refusal)
    reserved = _reservation(image, config)
    reservation = (Item(ARCH_RESERVED, -1, elf.SHF_ALLOC | elf.SHF_EXECINSTR, reserved, 4, False)
                   if reserved else None)

    if config.strict_module_rwx:
        for s in image.sections:
            if flags[s.index] & (elf.SHF_WRITE | elf.SHF_EXECINSTR) == elf.SHF_WRITE | elf.SHF_EXECINSTR:
                return Prepared(image.name, (), None, None,
                                f"section {s.name} is both writable and executable")

    pcpu = find_alloc(".data..percpu") if config.smp else 0
    if pcpu:
        flags[pcpu] &= ~elf.SHF_ALLOC
    for name in (".data..ro_after_init", "__jump_table"):
        index = find_alloc(name)
        if index:
            flags[index] |= elf.SHF_RO_AFTER_INIT

    sections = tuple(
        Item(names[i], i, flags[i], size[i], max(align[i], 1), rule.is_init(names[i], unload))
        for i in sorted(flags) if flags[i] & elf.SHF_ALLOC and i != image.symtab_index
        and i != image.strtab_index)
    kallsyms = _kallsyms(image, config, sections, pcpu) if config.kallsyms else None
    return Prepared(image.name, sections, reservation, kallsyms)


def _frob(image, config, rule, by_name, flags, size, align) -> str | None:
    """module_frob_arch_sections() of arm, arm64 and ppc64: resize named sections."""
    machine = image.machine
    counts = image.reloc_counts
    if machine in (elf.EM_AARCH64, elf.EM_ARM) and config.module_plts:
        core_plt = by_name.get(".plt")
        init_plt = by_name.get(".init.plt")
        if not core_plt or not init_plt:
            return "module PLT section(s) missing"
        names = {s.index: s.name for s in image.sections}
        core = init = 0
        for kind, index, n in counts:
            if kind != arch.PLT:
                continue
            target_init = rule.is_init(names.get(index, ""), config.module_unload)
            if target_init:
                init += n
            else:
                core += n
        if machine == elf.EM_AARCH64:
            if not config.randomize_base:
                core = init = 0
            plt_sizes = ((core + 1) * 12, (init + 1) * 12)
            plt_align = 64
        else:
            fixed = 2 if config.dynamic_ftrace else 0
            block = 2 * config.l1_cache_bytes  # struct plt_entries: ldr[] and lit[]
            plt_sizes = (_align((core + fixed) * 8, block), _align((init + fixed) * 8, block))
            plt_align = config.l1_cache_bytes
        for section, plt_size in ((core_plt[-1], plt_sizes[0]), (init_plt[-1], plt_sizes[1])):
            flags[section.index] = elf.SHF_EXECINSTR | elf.SHF_ALLOC
            size[section.index] = plt_size
            align[section.index] = plt_align
        if machine == elf.EM_AARCH64:
            for tramp in by_name.get(".text.ftrace_trampoline", ()):
                flags[tramp.index] = elf.SHF_EXECINSTR | elf.SHF_ALLOC
                size[tramp.index] = 2 * 12
                align[tramp.index] = 4
    elif machine == elf.EM_PPC64:
        stubs = by_name.get(".stubs")
        if not stubs:
            return "no .stubs section"
        for toc in by_name.get(".toc", ()):
            align[toc.index] = max(align[toc.index], 8)
        relocs = 1 + sum(n for kind, _i, n in counts if kind == arch.STUBS)
        if config.dynamic_ftrace:
            relocs += 1 + (1 if config.dynamic_ftrace_with_regs else 0)
        size[stubs[-1].index] = relocs * 40  # struct ppc64_stub_entry on ELFv2
    return None


def _reservation(image: ModuleImage, config: KernelConfig) -> int:
    """s390: GOT and PLT grow the core allocation before layout (start of text)."""
    if image.machine != elf.EM_S390:
        return 0
    got = sum(n for kind, _i, n in image.reloc_counts if kind == arch.GOT_SYMS)
    plt = sum(n for kind, _i, n in image.reloc_counts if kind == arch.PLT_SYMS)
    plt_size = plt * 22
    if plt_size and config.expoline:
        plt_size += 22
    return got * 8 + plt_size


def _kallsyms(image: ModuleImage, config: KernelConfig, sections: tuple[Item, ...],
              pcpu: int) -> Kallsyms:
    """The sizing half of layout_symtab(): which symbols the core keeps, and the blocks."""
    facts = {s.index: s for s in image.sections}
    symtab = facts[image.symtab_index]
    strtab = facts.get(image.strtab_index)
    placed = {item.index: item for item in sections}
    ndst, names = 1, image.sym0_name_bytes
    livepatch = config.livepatch and image.livepatch
    for index, count, name_bytes in image.symbols_by_section:
        item = placed.get(index)
        keep = livepatch or (config.kallsyms_all and index == pcpu and pcpu != 0) or (
            item is not None and not item.init
            and (config.kallsyms_all or item.flags & elf.SHF_EXECINSTR))
        if keep:
            ndst += count
            names += name_bytes
    sym_size = 24 if image.bits == 64 else 16
    pointer = 8 if image.bits == 64 else 4
    symtab_align = max(symtab.addralign, 1)
    return Kallsyms(
        symtab=Item(symtab.name, symtab.index, elf.SHF_ALLOC, symtab.size, symtab_align, True),
        core=(Item(CORE_SYMTAB, -1, elf.SHF_ALLOC, ndst * sym_size, symtab_align, False),
              Item(CORE_STRTAB, -1, elf.SHF_ALLOC, names, 1, False),
              Item(CORE_TYPETAB, -1, elf.SHF_ALLOC, ndst, 1, False)),
        strtab=Item(strtab.name if strtab else ".strtab", image.strtab_index, elf.SHF_ALLOC,
                    strtab.size if strtab else 0,
                    max(strtab.addralign, 1) if strtab else 1, True),
        init_tail=(Item(MOD_KALLSYMS, -1, elf.SHF_ALLOC, 4 * pointer, pointer, True),
                   Item(INIT_TYPETAB, -1, elf.SHF_ALLOC, image.nsyms, 1, True)),
    )
