"""Small made-up modules whose shapes real packages may lack.

Real modules are the evidence; these cover the corners on purpose: a class
left empty, a text exactly one page long, no init code at all, data only,
an s390 GOT/PLT reservation, and the 6.1 data layout of
CONFIG_ARCH_WANTS_MODULES_DATA_IN_VMALLOC.  They are :class:`ModuleImage`
values built directly, so they need no ELF file and no package.
"""

from __future__ import annotations

from migrator.verify import arch, elf
from migrator.verify.image import ModuleImage, SectionFacts
from migrator.verify.kconfig import KernelConfig

AX = elf.SHF_ALLOC | elf.SHF_EXECINSTR
A = elf.SHF_ALLOC
WA = elf.SHF_ALLOC | elf.SHF_WRITE

_FLAGS = {".text": AX, ".init.text": AX, ".exit.text": AX, ".rodata": A, ".init.rodata": A,
          ".data": WA, ".init.data": WA, ".data..ro_after_init": WA, ".bss": WA,
          ".gnu.linkonce.this_module": WA, "__jump_table": WA}

# name -> sections (name, size); every shape also gets .gnu.linkonce.this_module.
SHAPES: dict[str, tuple[tuple[str, int], ...]] = {
    "every-class": ((".text", 0x1234), (".exit.text", 0x40), (".rodata", 0x321),
                    (".data..ro_after_init", 0x40), (".data", 0x88), (".bss", 0x100),
                    (".init.text", 0x99), (".init.rodata", 0x50), (".init.data", 0x30)),
    "no-rodata": ((".text", 0x800), (".data", 0x20), (".init.text", 0x30)),
    "no-init": ((".text", 0x300), (".rodata", 0x80), (".data", 0x10)),
    "init-data-only": ((".text", 0x100), (".init.data", 0x18)),
    "text-one-page": ((".text", 0x1000), (".rodata", 0x1000), (".init.text", 0x1000)),
    "empty-rodata": ((".text", 0x10), (".rodata", 0), (".data", 0x8), (".init.rodata", 0x8)),
    "data-only": ((".data", 0x40), (".rodata", 0x4)),
    "ro-after-init-only": ((".text", 0x20), (".data..ro_after_init", 0x10),
                           ("__jump_table", 0x30)),
}


def _image(name: str, sections: tuple[tuple[str, int], ...], machine: int,
           counts: tuple = ()) -> ModuleImage:
    facts = [SectionFacts(0, "", elf.SHT_NULL, 0, 0, 0)]
    for sec_name, size in sections + ((".gnu.linkonce.this_module", 0x380),):
        kind = elf.SHT_NOBITS if sec_name == ".bss" else elf.SHT_PROGBITS
        facts.append(SectionFacts(len(facts), sec_name, kind, _FLAGS[sec_name], size,
                                  64 if sec_name == ".gnu.linkonce.this_module" else 8))
    symtab = len(facts)
    facts.append(SectionFacts(symtab, ".symtab", elf.SHT_SYMTAB, 0, 24 * 6, 8))
    facts.append(SectionFacts(symtab + 1, ".strtab", elf.SHT_STRTAB, 0, 64, 1))
    hist = tuple((i, 1, 8) for i in range(1, symtab))
    return ModuleImage(name, 64, machine, len(facts), tuple(facts), symtab, symtab + 1, 6, 1,
                       hist, False, counts)


def synthetic_images(machine: int = elf.EM_X86_64) -> tuple[ModuleImage, ...]:
    return tuple(_image(f"synthetic/{name}", sections, machine)
                 for name, sections in SHAPES.items())


def synthetic_sets() -> tuple[tuple[str, KernelConfig, tuple[ModuleImage, ...]], ...]:
    """``(label, config, images)``: generic shapes under a 4 KiB strict-RWX config, the
    same with a separate 6.1 data layout, and s390 shapes with a GOT and PLT reserved."""
    s390 = tuple(_image(f"synthetic/s390-{name}", sections, elf.EM_S390,
                        ((arch.GOT_SYMS, 0, 3), (arch.PLT_SYMS, 0, 2)))
                 for name, sections in SHAPES.items())
    return (
        ("synthetic", KernelConfig("amd64"), synthetic_images()),
        ("synthetic-data-layout", KernelConfig("amd64", data_in_vmalloc=True),
         synthetic_images()),
        ("synthetic-s390", KernelConfig("s390x"), s390),
    )
