"""What `migrator boot` checks in the guest, and the table it makes of it.

The guest script (:func:`guest_script`) runs after every module is loaded.
It dumps the module symbols of /proc/kallsyms and the kernel page tables,
asks the probe module (``probe/migrator_probe.c``) who owns each section
start and each module symbol, unloads and reloads every module ``cycles``
times watching VmallocUsed, and runs a kmemleak scan.  :func:`evaluate`
holds the console against the modules' own ELF files, taken through the
loader's steps before layout by the caller's :data:`Prepare` (a pack's model
plug-in has it: ``migration.model("loader").prepare``), and returns one
:class:`Row` per check.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum
from typing import Callable, Protocol, Sequence

from migrator.boot.initramfs import SECTIONS
from migrator.boot.kbuild import BuiltModule, KernelBuild
from migrator.boot.qemu import BootLog
from migrator.verify import elf
from migrator.verify.image import ModuleImage, read_image
from migrator.verify.kconfig import KernelConfig


class PreparedSection(Protocol):
    """A section as the loader sees it before layout: its sysfs name, size, flags after
    the loader's own marking (SHF_RO_AFTER_INIT), and whether it is freed after init."""

    key: str
    size: int
    flags: int
    init: bool


class PreparedModule(Protocol):
    sections: Sequence[PreparedSection]


# What the loader makes of a module's sections before it lays them out.
Prepare = Callable[[ModuleImage, KernelConfig], PreparedModule]

PROBE_NAME = "migrator_probe"
# Where PTDUMP_DEBUGFS puts the kernel's page tables, per arch.
PTDUMP = {"x86_64": "/sys/kernel/debug/page_tables/kernel",
          "arm64": "/sys/kernel/debug/kernel_page_tables"}
PAGE = 4096
# arm64's BL reaches +-128 MiB: farther, a call into the kernel needs a PLT entry.
BRANCH_RANGE = {"arm64": 128 << 20}
# In-tree self-tests: module -> the dmesg line that says all cases passed (the
# module's init also returns an error when one fails).
SELF_TESTS = {
    "test_bitmap": r"test_bitmap: all \d+ tests passed",
    "test_uuid": r"test_uuid: all \d+ tests passed",
    "test_strscpy": r"test_strscpy: all \d+ tests passed",
    "test_user_copy": r"test_user_copy: tests passed",
    "test_static_keys": None,   # init's return value alone
    "test_module": r"Hello, world",
    PROBE_NAME: r"migrator_probe: all checks passed",
}
# An out-of-tree module (--modules FOLDER) says at load whether its own checks
# held, as the corpus modules do: `FOLDER: self-check PASS` (or FAIL and why).
EXTERNAL_SELF_CHECK = r"\b{folder}: self-check PASS\b"


class Check(Enum):
    """One row of the table."""

    LOADS = "loads (insmod exit 0)"
    LISTED = "in /proc/modules"
    SECTIONS = "sections in /sys/module/*/sections"
    KALLSYMS_INSIDE = "kallsyms symbols lie in its sections"
    KALLSYMS_BACK = "symbol addresses resolve back to it"
    OWNED = "section starts owned by it, text as text"
    INIT_GONE = "init memory gone after init"
    PERM_TEXT = "text pages RO+X"
    PERM_RODATA = "rodata pages RO+NX"
    PERM_RO_AFTER_INIT = "ro_after_init pages RO+NX after init"
    PERM_DATA = "data pages RW+NX"
    VMALLOC = "load/unload cycles keep VmallocUsed"
    KMEMLEAK = "kmemleak reports nothing"
    SELF_TEST = "self-tests pass"
    PLT = "out of branch range of the kernel, calls via PLT work"


@dataclass(frozen=True, slots=True)
class Row:
    """A check over the modules it applies to: how many held, and the first failures."""

    check: Check
    applicable: int
    passed: int
    failures: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return self.passed == self.applicable

    def cell(self) -> str:
        if not self.applicable:
            return "-"
        return f"ok {self.passed}/{self.applicable}" if self.ok else \
            f"FAIL {self.passed}/{self.applicable}"


# The probe calls the kernel's unexported module lookups through these
# addresses, read in the guest from /proc/kallsyms (shell, expanded by insmod's line).
PROBE_PARAMS = " ".join(
    f"{param}=0x$(awk '$3 == \"{symbol}\" {{ print $1 }}' /proc/kallsyms)"
    for param, symbol in (("module_address_fn", "__module_address"),
                          ("module_text_address_fn", "__module_text_address")))


def params(module: BuiltModule) -> str:
    """What insmod passes to ``module`` in the guest."""
    return PROBE_PARAMS if module.name == PROBE_NAME else ""


def guest_script(arch: str, modules: tuple[BuiltModule, ...], cycles: int) -> str:
    """Shell run in the guest after the loads (see the module docstring)."""
    reverse = " ".join(m.name for m in reversed(modules))
    reload = "\n".join(f"  insmod /modules/{i:04d}-{m.name}.ko {params(m)} || "
                        f"echo \"@@reinsmod-failed {m.name}\""
                        for i, m in enumerate(modules))
    # Addresses, symbols, page tables and owners are read together, before the
    # reload cycles move the modules (the report's sections block comes later;
    # BootLog.block() reads the first).
    return f"""R=/sys/kernel/debug/{PROBE_NAME}/resolve
resolve() {{ echo "$1" > $R && read -r line < $R && echo "$line"; }}
echo "@@begin kallsyms"
grep '\\[' /proc/kallsyms
echo "@@end kallsyms"
{SECTIONS}echo "@@begin kernel"
grep -w _text /proc/kallsyms
echo "@@end kernel"
echo "@@begin ptdump"
cat {PTDUMP[arch]}
echo "@@end ptdump"
echo "@@begin resolve"
for dir in /sys/module/*/sections; do
  for file in "$dir"/.* "$dir"/*; do
    # A section attribute answers only a read at offset 0: cat, not read.
    [ -f "$file" ] && resolve "$(cat "$file")"
  done
done
grep '\\[' /proc/kallsyms | while read -r addr kind name owner; do resolve "0x$addr"; done
echo "@@end resolve"
echo "@@begin cycles"
grep VmallocUsed /proc/meminfo
for i in $(seq {cycles}); do
  for m in {reverse}; do rmmod $m || echo "@@rmmod-failed $m"; done
{reload}
done
grep VmallocUsed /proc/meminfo
echo "@@end cycles"
echo "@@begin kmemleak"
echo scan > /sys/kernel/debug/kmemleak
sleep 6
echo scan > /sys/kernel/debug/kmemleak
cat /sys/kernel/debug/kmemleak
echo "@@end kmemleak"
"""


@dataclass(frozen=True, slots=True)
class _Section:
    name: str
    address: int
    size: int
    flags: int
    init: bool


def _kernel_text(log: BootLog) -> int | None:
    """The address of the kernel's _text, as the guest's kallsyms gave it."""
    return next((int(line.split()[0], 16) for line in
                 (log.block("kernel") or "").splitlines() if line.strip()), None)


def modules_within_branch_range(arch: str, log: BootLog) -> bool:
    """Whether this boot put some module's PLT within direct-branch range of the kernel.

    arm64 with RANDOMIZE_MODULE_REGION_FULL draws the module region's base
    per boot from the kernel's own RNG (get_random_u32() in kaslr_init(),
    not the kaslr-seed qemu passes), uniformly over a 2 GiB window that ends
    at the kernel's text; about one boot in 16 puts it within BL's 128 MiB.
    Calls from such a module need no PLT, so the boot cannot show that PLTs
    work: it is one to boot again, not a failure.
    """
    reach, kernel_text = BRANCH_RANGE.get(arch), _kernel_text(log)
    if not reach or kernel_text is None:
        return False
    plts = [sections[".plt"] for sections in log.sections().values() if ".plt" in sections]
    return any(abs(plt - kernel_text) <= reach for plt in plts)


def _ptdump(text: str) -> list[tuple[int, int, bool, bool]]:
    """``(start, end, writable, executable)`` of each mapped range of the dump."""
    ranges = []
    for line in text.splitlines():
        found = re.match(r"\s*0x([0-9a-f]+)-0x([0-9a-f]+)\s+(.*)", line)
        if not found:
            continue
        tokens = found.group(3).split()
        if "RW" not in tokens and "ro" not in tokens:
            continue  # not mapped
        ranges.append((int(found.group(1), 16), int(found.group(2), 16), "RW" in tokens,
                       "x" in tokens))
    return ranges


def _page_perms(ranges, start: int, size: int) -> set[tuple[bool, bool] | None]:
    """The (writable, executable) of every page of ``[start, start + size)``; None: unmapped."""
    perms: set[tuple[bool, bool] | None] = set()
    page = start // PAGE * PAGE
    while page < start + size:
        hit = next(((w, x) for lo, hi, w, x in ranges if lo <= page < hi), None)
        perms.add(hit)
        page += PAGE
    return perms


def _sections(prepared: PreparedModule, addresses: dict[str, int]) -> list[_Section]:
    """The module's sections the loader placed, with the addresses sysfs gave them."""
    counts: dict[str, int] = {}
    for item in prepared.sections:
        counts[item.key] = counts.get(item.key, 0) + 1
    return [_Section(item.key, addresses[item.key], item.size, item.flags, item.init)
            for item in prepared.sections
            if item.size and counts[item.key] == 1 and item.key in addresses]


def evaluate(build: KernelBuild, log: BootLog, config: KernelConfig,
             prepare: Prepare) -> tuple[Row, ...]:
    """One row per :class:`Check`, from the console of a completed boot."""
    modules = build.load_order()
    insmod = log.insmod_results()
    listed = set(log.loaded_modules())
    sysfs = log.sections()
    dmesg = log.block("dmesg") or ""
    ranges = _ptdump(log.block("ptdump") or "")
    owners: dict[int, tuple[str, bool, str]] = {}
    for line in (log.block("resolve") or "").splitlines():
        parts = line.split(maxsplit=3)
        if len(parts) == 4 and parts[0].startswith("0x"):
            owners[int(parts[0], 16)] = (parts[1], parts[2] == "1", parts[3])
    symbols: dict[str, list[tuple[int, str]]] = {}
    for line in (log.block("kallsyms") or "").splitlines():
        parts = line.split()
        if len(parts) == 4 and parts[3].startswith("["):
            symbols.setdefault(parts[3].strip("[]"), []).append((int(parts[0], 16), parts[2]))

    results: dict[Check, list[tuple[str, bool, str]]] = {check: [] for check in Check}

    def record(check: Check, name: str, ok: bool, why: str = "") -> None:
        results[check].append((name, ok, why))

    kernel_text = _kernel_text(log)
    for module in modules:
        name = module.name
        record(Check.LOADS, name, insmod.get(name) == 0, f"insmod exit {insmod.get(name)}")
        record(Check.LISTED, name, name in listed)
        prepared = prepare(read_image(module.path.read_bytes(), module.path.name), config)
        placed = _sections(prepared, sysfs.get(name, {}))
        expected = {item.key for item in prepared.sections if item.size}
        missing = sorted(expected - set(sysfs.get(name, {})))
        record(Check.SECTIONS, name, bool(sysfs.get(name)) and not missing,
               f"missing {', '.join(missing[:3])}" if missing else "none listed")
        if name not in listed:
            continue
        core = [s for s in placed if not s.init]
        inside = [(a, s) for a, s in symbols.get(name, [])
                  if not any(c.address <= a <= c.address + c.size for c in core)]
        record(Check.KALLSYMS_INSIDE, name, bool(symbols.get(name)) and not inside,
               f"{inside[0][1]} at {inside[0][0]:#x} outside" if inside else "no symbols")
        wrong = [s for a, s in symbols.get(name, [])
                 if owners.get(a, ("?",))[0] != name or f"[{name}]" not in owners.get(a, ("", 0, ""))[2]]
        record(Check.KALLSYMS_BACK, name, bool(symbols.get(name)) and not wrong,
               f"{wrong[0]} resolves to {owners.get(next(a for a, s in symbols[name] if s == wrong[0]))}"
               if wrong else "no symbols")
        bad = [s.name for s in core
               if owners.get(s.address, ("?", False))[:2] != (name, bool(s.flags & elf.SHF_EXECINSTR))]
        record(Check.OWNED, name, not bad, f"{', '.join(bad[:3])} not owned as expected")
        init = [s for s in placed if s.init]
        if init:
            kept = [s.name for s in init if owners.get(s.address, ("?",))[0] == name]
            record(Check.INIT_GONE, name, not kept, f"{', '.join(kept[:3])} still owned")
        for check, want, select in (
                (Check.PERM_TEXT, {(False, True)}, lambda s: s.flags & elf.SHF_EXECINSTR),
                (Check.PERM_RO_AFTER_INIT, {(False, False)},
                 lambda s: s.flags & elf.SHF_RO_AFTER_INIT),
                (Check.PERM_RODATA, {(False, False)},
                 lambda s: not s.flags & (elf.SHF_EXECINSTR | elf.SHF_WRITE | elf.SHF_RO_AFTER_INIT)),
                (Check.PERM_DATA, {(True, False)},
                 lambda s: s.flags & elf.SHF_WRITE and not s.flags & (elf.SHF_RO_AFTER_INIT | elf.SHF_EXECINSTR))):
            chosen = [s for s in core if select(s)]
            if not chosen:
                continue
            wrong_perm = [(s.name, _page_perms(ranges, s.address, s.size)) for s in chosen
                          if _page_perms(ranges, s.address, s.size) != want]
            record(check, name, not wrong_perm,
                   f"{wrong_perm[0][0]} pages {_describe(wrong_perm[0][1])}" if wrong_perm else "")
        reach = BRANCH_RANGE.get(build.arch)
        if reach and kernel_text is not None:
            # The PLT sits in the module's core text; every module has one here.
            plt = sysfs.get(name, {}).get(".plt")
            far = plt is not None and abs(plt - kernel_text) > reach
            record(Check.PLT, name, far and insmod.get(name) == 0,
                   "no .plt" if plt is None else f".plt {plt - kernel_text:+#x} from the kernel's text")
        tested, pattern = _self_test(module)
        if tested:
            passed = insmod.get(name) == 0 and (pattern is None or re.search(pattern, dmesg))
            record(Check.SELF_TEST, name, bool(passed), _self_test_line(module, dmesg)
                   if insmod.get(name) == 0 else f"insmod exit {insmod.get(name)}")

    cycles = log.block("cycles") or ""
    used = re.findall(r"VmallocUsed:\s+(\d+) kB", cycles)
    failed = re.findall(r"@@(?:rmmod|reinsmod)-failed (\S+)", cycles)
    record(Check.VMALLOC, "all", len(used) == 2 and used[0] == used[1] and not failed,
           f"VmallocUsed {' -> '.join(used)} kB" + (f"; failed: {' '.join(failed[:3])}" if failed else ""))
    leaks = re.findall(r"^unreferenced object .*$", log.block("kmemleak") or "", re.M)
    record(Check.KMEMLEAK, "all", log.block("kmemleak") is not None and not leaks,
           f"{len(leaks)} unreferenced objects" if leaks else "no kmemleak output")

    rows = []
    for check in Check:
        entries = results[check]
        rows.append(Row(check, len(entries), sum(ok for _n, ok, _w in entries),
                        tuple(f"{n}: {w}" for n, ok, w in entries if not ok)))
    return tuple(rows)


def _self_test(module: BuiltModule) -> tuple[bool, str | None]:
    """Whether a module tests itself, and the dmesg line that says it passed
    (None: its init's return value alone)."""
    if module.name in SELF_TESTS:
        return True, SELF_TESTS[module.name]
    if module.folder:
        return True, EXTERNAL_SELF_CHECK.format(folder=re.escape(module.folder))
    return False, None


def _self_test_line(module: BuiltModule, dmesg: str) -> str:
    """Why a self-test that loaded did not pass: its own FAIL line, if it printed one."""
    if module.folder:
        said = re.search(rf"\b{re.escape(module.folder)}: self-check (?!PASS).*", dmesg)
        if said:
            return said.group(0).strip()
    return "no pass line"


def _describe(perms) -> str:
    names = []
    for perm in sorted(perms, key=str):
        names.append("unmapped" if perm is None else
                     f"{'RW' if perm[0] else 'RO'}+{'X' if perm[1] else 'NX'}")
    return "/".join(names)
