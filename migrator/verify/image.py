"""The facts of one ``.ko`` that layout needs, small enough to cache.

A :class:`ModuleImage` keeps the section headers the loader can place (plus
the symbol table, its string table and the arch-named sections), a histogram
of the symbols kallsyms may keep, and the arch relocation counts.  None of it
depends on the kernel configuration, so one cached image serves every config.
"""

from __future__ import annotations

from dataclasses import dataclass

from migrator.verify import arch, elf

# Sections whose headers an arch hook rewrites, kept even when not SHF_ALLOC.
ARCH_SECTIONS = frozenset({".plt", ".init.plt", ".text.ftrace_trampoline", ".stubs", ".toc"})
# Writable and executable at once: module_enforce_rwx_sections() refuses these
# whether or not they are allocated.
_WX = elf.SHF_WRITE | elf.SHF_EXECINSTR
# Sections the loader looks up by name before layout.
NAMED_SECTIONS = frozenset({".modinfo", "__versions", ".data..percpu",
                            ".data..ro_after_init", "__jump_table",
                            ".gnu.linkonce.this_module"})


@dataclass(frozen=True, slots=True)
class SectionFacts:
    """A section header, reduced to what placement reads."""

    index: int
    name: str
    type: int
    flags: int
    size: int
    addralign: int


@dataclass(frozen=True, slots=True)
class ModuleImage:
    """What placement needs to know about one module file."""

    name: str
    bits: int
    machine: int
    shnum: int
    sections: tuple[SectionFacts, ...]
    symtab_index: int
    strtab_index: int
    nsyms: int
    sym0_name_bytes: int
    # (section index, named symbols defined there, their name bytes incl. NUL)
    symbols_by_section: tuple[tuple[int, int, int], ...]
    livepatch: bool
    reloc_counts: tuple[tuple[str, int, int], ...]

    def to_tuple(self) -> tuple:
        """A plain-tuple form for ``marshal`` (the cache)."""
        return (self.name, self.bits, self.machine, self.shnum,
                tuple((s.index, s.name, s.type, s.flags, s.size, s.addralign)
                      for s in self.sections),
                self.symtab_index, self.strtab_index, self.nsyms, self.sym0_name_bytes,
                self.symbols_by_section, self.livepatch, self.reloc_counts)

    @classmethod
    def from_tuple(cls, row: tuple) -> "ModuleImage":
        (name, bits, machine, shnum, sections, symtab, strtab, nsyms, sym0,
         hist, livepatch, counts) = row
        return cls(name, bits, machine, shnum,
                   tuple(SectionFacts(*s) for s in sections),
                   symtab, strtab, nsyms, sym0, tuple(map(tuple, hist)), livepatch,
                   tuple(map(tuple, counts)))


def image_from_elf(obj: elf.ElfFile, name: str) -> ModuleImage:
    """Reduce a parsed module to its :class:`ModuleImage`."""
    symtab = next((s for s in obj.sections if s.type == elf.SHT_SYMTAB), None)
    strtab_index = symtab.link if symtab is not None and symtab.link < len(obj.sections) else 0
    keep = []
    for s in obj.sections:
        if (s.flags & elf.SHF_ALLOC or s.name in ARCH_SECTIONS or s.name in NAMED_SECTIONS
                or s.flags & _WX == _WX
                or (symtab is not None and s.index in (symtab.index, strtab_index))):
            keep.append(SectionFacts(s.index, s.name, s.type, s.flags, s.size, s.addralign))
    nsyms = sym0 = 0
    hist: dict[int, list[int]] = {}
    if symtab is not None and strtab_index:
        strings = obj.contents(obj.sections[strtab_index])
        fields = elf.symbol_fields(obj, symtab)
        nsyms = len(fields)
        shnum = len(obj.sections)
        find = strings.find
        for position, (st_name, shndx) in enumerate(fields):
            end = find(b"\0", st_name)
            length = (end - st_name if end >= 0 else len(strings) - st_name) + 1
            if position == 0:
                sym0 = length
                continue
            if st_name == 0 or shndx == elf.SHN_UNDEF or shndx >= shnum:
                continue
            entry = hist.get(shndx)
            if entry is None:
                hist[shndx] = [1, length]
            else:
                entry[0] += 1
                entry[1] += length
    modinfo = next((s for s in obj.sections if s.name == ".modinfo"), None)
    livepatch = modinfo is not None and b"livepatch=Y\0" in obj.contents(modinfo)
    return ModuleImage(name, obj.bits, obj.machine, len(obj.sections), tuple(keep),
                       symtab.index if symtab is not None else 0, strtab_index, nsyms, sym0,
                       tuple((i, c, b) for i, (c, b) in sorted(hist.items())),
                       livepatch, arch.reloc_counts(obj))


def read_image(data: bytes, name: str) -> ModuleImage:
    """Parse the bytes of a ``.ko`` (already decompressed) into a :class:`ModuleImage`."""
    return image_from_elf(elf.read_elf(data, name), name)
