"""Architecture hooks of the 6.1 loader that change what gets laid out.

Two kinds, both read from arch/*/kernel/module*.c of the 6.1 tree:

* which section names count as init (``module_init_section`` and
  ``module_exit_section``; ppc64 keeps everything in core);
* ``module_frob_arch_sections``, which runs before layout and either resizes
  sections the module's linker script left empty (arm/arm64 ``.plt`` and
  ``.init.plt``, arm64 ``.text.ftrace_trampoline``, ppc64 ``.stubs``) or grows
  the core allocation before any section is placed (s390 GOT and PLT), which
  puts that space at the start of the text.

The sizes come from counting relocations, as the kernel does.  The counting
needs the relocation bytes, so it runs once when a module is read
(:func:`reloc_counts`) and only the counts are kept.
"""

from __future__ import annotations

from dataclasses import dataclass

from migrator.verify import elf
from migrator.verify.elf import ElfFile

# What the counts in a module's facts are keyed by.
PLT = "plt"            # arm/arm64: PLT entries needed by branches in section `index`
STUBS = "stubs"        # ppc64: distinct REL24 targets in relocation section `index`
GOT_SYMS = "got"       # s390: symbols needing a GOT slot
PLT_SYMS = "pltsyms"   # s390: symbols needing a PLT slot

_S390_GOT = frozenset({6, 7, 15, 24, 26, 29, 30, 31, 32, 33, 58, 59})
_S390_PLT = frozenset({8, 18, 20, 25, 34, 35, 36})
_ARM_BRANCH = frozenset({1, 10, 28, 29, 30})
_ARM_THUMB = frozenset({10, 30})
_AARCH64_BRANCH = frozenset({282, 283})
_R_PPC_REL24 = 10


@dataclass(frozen=True, slots=True)
class InitRule:
    """Section-name prefixes that ``module_init_section``/``module_exit_section`` accept."""

    init_prefixes: tuple[str, ...]
    exit_prefixes: tuple[str, ...]

    def is_init(self, name: str, module_unload: bool) -> bool:
        """The loader's init-section test: exit code is init when it can never run."""
        if not module_unload and name.startswith(self.exit_prefixes):
            return True
        return name.startswith(self.init_prefixes)


GENERIC_INIT = InitRule((".init",), (".exit",))
ARM_INIT = InitRule((".init", ".ARM.extab.init", ".ARM.exidx.init"),
                    (".exit", ".ARM.extab.exit", ".ARM.exidx.exit"))
PPC64_INIT = InitRule((), (".exit",))

_INIT_RULES = {elf.EM_ARM: ARM_INIT, elf.EM_PPC64: PPC64_INIT}


def init_rule(machine: int) -> InitRule:
    """The init-section rule of the architecture with ELF machine ``machine``."""
    return _INIT_RULES.get(machine, GENERIC_INIT)


def reloc_counts(obj: ElfFile) -> tuple[tuple[str, int, int], ...]:
    """``(kind, section index, count)`` facts that the arch frob hook derives from relocations."""
    if obj.machine == elf.EM_S390:
        return _s390_counts(obj)
    if obj.machine == elf.EM_AARCH64:
        return _plt_counts(obj, _aarch64_needs)
    if obj.machine == elf.EM_ARM:
        return _plt_counts(obj, _arm_needs)
    if obj.machine == elf.EM_PPC64:
        return _ppc64_counts(obj)
    return ()


def _symtab(obj: ElfFile):
    for section in obj.sections:
        if section.type == elf.SHT_SYMTAB:
            return section
    return None


def _s390_counts(obj: ElfFile) -> tuple[tuple[str, int, int], ...]:
    got: set[int] = set()
    plt: set[int] = set()
    for section in obj.sections:
        if section.type != elf.SHT_RELA:
            continue
        for _off, sym, rtype, _add in elf.relocations(obj, section):
            if rtype in _S390_GOT:
                got.add(sym)
            elif rtype in _S390_PLT:
                plt.add(sym)
    return ((GOT_SYMS, 0, len(got)), (PLT_SYMS, 0, len(plt)))


def _plt_counts(obj: ElfFile, needs) -> tuple[tuple[str, int, int], ...]:
    symtab = _symtab(obj)
    if symtab is None:
        return ()
    shndx = [s for _n, s in elf.symbol_fields(obj, symtab)]
    rel_type = elf.SHT_RELA if obj.machine == elf.EM_AARCH64 else elf.SHT_REL
    counts: dict[int, int] = {}
    for section in obj.sections:
        if section.type != rel_type or section.info >= len(obj.sections):
            continue
        target = obj.sections[section.info]
        if not target.flags & elf.SHF_EXECINSTR:
            continue
        n = needs(obj, target, elf.relocations(obj, section), shndx)
        counts[target.index] = counts.get(target.index, 0) + n
    return tuple((PLT, index, n) for index, n in sorted(counts.items()))


def _aarch64_needs(obj, target, relocs, shndx) -> int:
    """count_plts() with CONFIG_RANDOMIZE_BASE: branches out of the section.

    After sorting by (type, symbol, addend), a zero-addend entry equal to its
    predecessor is not counted, so every non-zero addend counts and each
    (type, symbol) with a zero addend counts once.  The erratum 843419 veneers
    depend on the CPU at load time and are not modelled.
    """
    nonzero = 0
    zero: set[tuple[int, int]] = set()
    for _off, sym, rtype, addend in relocs:
        if rtype in _AARCH64_BRANCH and sym < len(shndx) and shndx[sym] != target.index:
            if addend:
                nonzero += 1
            else:
                zero.add((rtype, sym))
    return nonzero + len(zero)


def _arm_needs(obj, target, relocs, shndx) -> int:
    """count_plts() of arch/arm: branches out of the section, zero addends deduplicated.

    The addend sits in the instruction.  The kernel sorts by (type, symbol)
    only, so among equal keys the order is unspecified; this counts the
    minimum (all zero-addend entries of a key adjacent): one per key with a
    zero addend plus every non-zero one.
    """
    code = obj.contents(target)
    little = not obj.big_endian
    nonzero = 0
    zero: set[tuple[int, int]] = set()
    for off, sym, rtype, _add in relocs:
        if rtype not in _ARM_BRANCH or sym >= len(shndx) or shndx[sym] == target.index:
            continue
        word = code[off:off + 4]
        if len(word) < 4:
            nonzero += 1
            continue
        if rtype in _ARM_THUMB:
            upper = int.from_bytes(word[0:2], "little" if little else "big")
            lower = int.from_bytes(word[2:4], "little" if little else "big")
            is_zero = (upper & 0x7FF) == 0x7FF and (lower & 0x2FFF) == 0x2FFE
        else:
            is_zero = (int.from_bytes(word, "little" if little else "big") & 0xFFFFFF) == 0xFFFFFE
        if is_zero:
            zero.add((rtype, sym))
        else:
            nonzero += 1
    return nonzero + len(zero)


def _ppc64_counts(obj: ElfFile) -> tuple[tuple[str, int, int], ...]:
    """count_relocs() per SHT_RELA section: distinct (symbol, addend) of R_PPC_REL24."""
    out = []
    for section in obj.sections:
        if section.type != elf.SHT_RELA:
            continue
        distinct = {(sym, add & 0xFFFFFFFF) for _o, sym, rtype, add in elf.relocations(obj, section)
                    if rtype == _R_PPC_REL24 and (sym or add)}
        if distinct:
            out.append((STUBS, section.index, len(distinct)))
    return tuple(out)
