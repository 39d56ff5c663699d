"""A writer of small ELF relocatable objects for the model tests, and the reader's tests.

``build_object`` lays out the given sections plus .symtab, .strtab and
.shstrtab, in either class and byte order, so a test can state exactly the
section headers the loader will see.
"""

import shutil
import struct
import subprocess
from dataclasses import dataclass, field

import pytest

from migrator.errors import MigratorError
from migrator.verify import elf
from migrator.verify.elf import (SHF_ALLOC, SHF_EXECINSTR, SHF_WRITE, SHT_NOBITS, SHT_PROGBITS,
                                SHT_RELA, read_elf, relocations, symbol_fields)


@dataclass
class Sec:
    name: str
    flags: int = SHF_ALLOC
    size: int = 16
    align: int = 8
    type: int = SHT_PROGBITS
    data: bytes | None = None
    link: int = 0
    info: int = 0
    entsize: int = 0


@dataclass
class Sym:
    name: str
    section: str | None  # None: undefined


@dataclass
class Obj:
    sections: list[Sec]
    symbols: list[Sym] = field(default_factory=list)
    bits: int = 64
    big_endian: bool = False
    machine: int = elf.EM_X86_64


def build_object(obj: Obj) -> bytes:
    """Bytes of an ET_REL file holding ``obj``'s sections, symbols and name tables."""
    order = ">" if obj.big_endian else "<"
    names = [s.name for s in obj.sections] + [".symtab", ".strtab", ".shstrtab"]
    shstr = b"\0"
    name_off = {}
    for n in names:
        name_off[n] = len(shstr)
        shstr += n.encode() + b"\0"
    strtab = b"\0"
    sym_name = {}
    for s in obj.symbols:
        sym_name[s.name] = len(strtab)
        strtab += s.name.encode() + b"\0"
    index_of = {s.name: i + 1 for i, s in enumerate(obj.sections)}
    symtab_index = len(obj.sections) + 1
    strtab_index = symtab_index + 1
    if obj.bits == 64:
        sym_fmt, sym_size = order + "IBBHQQ", 24
    else:
        sym_fmt, sym_size = order + "IIIBBH", 16
    syms = b"\0" * sym_size
    for s in obj.symbols:
        shndx = index_of[s.section] if s.section else 0
        if obj.bits == 64:
            syms += struct.pack(sym_fmt, sym_name[s.name], 0x12 if s.section else 0x10, 0,
                                shndx, 0, 0)
        else:
            syms += struct.pack(sym_fmt, sym_name[s.name], 0, 0, 0x12 if s.section else 0x10,
                                0, shndx)
    ehsize = 64 if obj.bits == 64 else 52
    body = bytearray(b"\0" * ehsize)
    headers = [(0, 0, 0, 0, 0, 0, 0, 0, 0)]
    all_secs = list(obj.sections) + [
        Sec(".symtab", 0, len(syms), 8, elf.SHT_SYMTAB, syms, strtab_index, 1, sym_size),
        Sec(".strtab", 0, len(strtab), 1, elf.SHT_STRTAB, strtab),
        Sec(".shstrtab", 0, len(shstr), 1, elf.SHT_STRTAB, shstr),
    ]
    for s in all_secs:
        while len(body) % max(s.align, 1):
            body.append(0)
        offset = len(body)
        if s.type != SHT_NOBITS:
            body += s.data if s.data is not None else b"\xaa" * s.size
        size = len(s.data) if s.data is not None else s.size
        headers.append((name_off[s.name], s.type, s.flags, offset, size, s.link, s.info,
                        s.align, s.entsize))
    while len(body) % 8:
        body.append(0)
    shoff = len(body)
    for (nm, typ, flags, off, size, link, info, align, entsize) in headers:
        if obj.bits == 64:
            body += struct.pack(order + "IIQQQQIIQQ", nm, typ, flags, 0, off, size, link, info,
                                align, entsize)
        else:
            body += struct.pack(order + "10I", nm, typ, flags, 0, off, size, link, info,
                                align, entsize)
    ident = b"\x7fELF" + bytes([2 if obj.bits == 64 else 1, 2 if obj.big_endian else 1, 1])
    ident += b"\0" * (16 - len(ident))
    shnum = len(headers)
    if obj.bits == 64:
        header = struct.pack(order + "HHIQQQIHHHHHH", elf.ET_REL, obj.machine, 1, 0, 0, shoff,
                             0, 64, 0, 0, 64, shnum, shnum - 1)
    else:
        header = struct.pack(order + "HHIIIIIHHHHHH", elf.ET_REL, obj.machine, 1, 0, 0, shoff,
                             0, 52, 0, 0, 40, shnum, shnum - 1)
    body[0:ehsize] = ident + header
    return bytes(body)


def module_sections(*extra: Sec) -> list[Sec]:
    """The sections every loadable module has, plus ``extra``."""
    return [
        Sec(".text", SHF_ALLOC | SHF_EXECINSTR, 100, 16),
        Sec(".init.text", SHF_ALLOC | SHF_EXECINSTR, 40, 16),
        Sec(".exit.text", SHF_ALLOC | SHF_EXECINSTR, 20, 16),
        Sec(".rodata", SHF_ALLOC, 50, 32),
        Sec(".modinfo", SHF_ALLOC, 0, 1, data=b"license=GPL\0"),
        Sec("__versions", SHF_ALLOC, 64, 8),
        Sec(".data", SHF_ALLOC | SHF_WRITE, 30, 8),
        Sec(".data..ro_after_init", SHF_ALLOC | SHF_WRITE, 24, 8),
        Sec("__jump_table", SHF_ALLOC | SHF_WRITE, 48, 8),
        Sec(".init.data", SHF_ALLOC | SHF_WRITE, 12, 4),
        Sec(".data..percpu", SHF_ALLOC | SHF_WRITE, 8, 8),
        Sec(".gnu.linkonce.this_module", SHF_ALLOC | SHF_WRITE, 1280, 64),
        Sec(".bss", SHF_ALLOC | SHF_WRITE, 200, 32, SHT_NOBITS),
        *extra,
    ]


MODULE_SYMBOLS = [Sym("do_work", ".text"), Sym("init_module", ".init.text"),
                  Sym("cleanup_module", ".exit.text"), Sym("table", ".rodata"),
                  Sym("state", ".data"), Sym("printk", None)]


@pytest.mark.parametrize("bits", [32, 64])
@pytest.mark.parametrize("big_endian", [False, True])
def test_reader_round_trips_headers_in_every_class_and_byte_order(bits, big_endian):
    data = build_object(Obj(module_sections(), MODULE_SYMBOLS, bits, big_endian))
    obj = read_elf(data, "t.ko")
    assert (obj.bits, obj.big_endian, obj.type) == (bits, big_endian, elf.ET_REL)
    by_name = {s.name: s for s in obj.sections}
    assert by_name[".text"].flags == SHF_ALLOC | SHF_EXECINSTR
    assert (by_name[".bss"].type, by_name[".bss"].size, by_name[".bss"].addralign) == \
        (SHT_NOBITS, 200, 32)
    assert obj.contents(by_name[".modinfo"]) == b"license=GPL\0"
    fields = symbol_fields(obj, by_name[".symtab"])
    assert len(fields) == 1 + len(MODULE_SYMBOLS)
    assert fields[1][1] == by_name[".text"].index and fields[-1][1] == 0


@pytest.mark.parametrize("bits", [32, 64])
def test_relocations_split_symbol_and_type(bits):
    order = "<"
    if bits == 64:
        raw = struct.pack(order + "QQq", 8, (3 << 32) | 283, -4)
    else:
        raw = struct.pack(order + "IIi", 8, (3 << 8) | 28, -4)
    obj = read_elf(build_object(Obj([Sec(".text", SHF_ALLOC | SHF_EXECINSTR),
                                     Sec(".rela.text", 0, 0, 8, SHT_RELA, raw, info=1)],
                                    bits=bits)))
    rela = next(s for s in obj.sections if s.name == ".rela.text")
    assert relocations(obj, rela) == [(8, 3, 283 if bits == 64 else 28, -4)]


@pytest.mark.parametrize("data, message", [
    (b"not an elf at all, but long enough to be looked at properly....", "not an ELF file"),
    (b"\x7fELF\x03\x01" + b"\0" * 60, "unsupported ELF class"),
])
def test_reader_rejects_garbage_with_one_line(data, message):
    with pytest.raises(MigratorError, match=message) as info:
        read_elf(data, "bad.ko")
    assert "\n" not in str(info.value)


def test_reader_rejects_headers_past_the_end():
    data = build_object(Obj(module_sections()))
    with pytest.raises(MigratorError, match="past the end"):
        read_elf(data[:-100], "cut.ko")


@pytest.mark.skipif(not shutil.which("gcc"), reason="needs gcc to compile a C file")
def test_reader_reads_what_gcc_emits(tmp_path):
    source = tmp_path / "m.c"
    source.write_text(
        '__attribute__((section(".init.text"))) int setup(void) { return 1; }\n'
        '__attribute__((section(".data..ro_after_init"))) int frozen = 3;\n'
        'const char banner[] = "hello";\n'
        'int counter = 1;\n'
        'int work(void) { return setup() + frozen + counter + banner[0]; }\n')
    subprocess.run(["gcc", "-O1", "-c", str(source), "-o", str(tmp_path / "m.o")], check=True)
    obj = read_elf((tmp_path / "m.o").read_bytes(), "m.o")
    flags = {s.name: s.flags for s in obj.sections}
    assert flags[".init.text"] & (SHF_ALLOC | SHF_EXECINSTR) == SHF_ALLOC | SHF_EXECINSTR
    assert flags[".data..ro_after_init"] & SHF_WRITE
    assert flags[".text"] & SHF_EXECINSTR
    assert any(s.type == SHT_RELA and s.name == ".rela.text" for s in obj.sections)
