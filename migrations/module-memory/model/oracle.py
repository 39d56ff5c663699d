"""The real loader as the model's oracle: Debian's kernels place their own modules.

:func:`compare_with_loader` boots one of Debian's cloud-amd64 kernels
(``kernels.toml`` of the engine's qemu harness, ``migrator.boot``), loads
``count`` of its own modules in dependency order, reads every section's
address from /sys/module/*/sections, and holds them against the model's
layout of the same .ko files:

- before the change (6.1, ``struct module_layout``): each section's offset
  from the base of its layout equals the model's offset.  The core base is
  the address /proc/modules gives; the init base, gone by then, is taken
  from one init section and must fit all the others.
- after it (6.12, ``mem[]``, placed by the table read from the real loader
  source): sections the model puts in one memory type lie in one
  allocation, at the predicted offsets from each other; each type's
  allocation is disjoint from every other type's, and MOD_TEXT starts at the
  /proc/modules address.

Every difference is a :class:`Disagreement` value; nothing here raises for
what the guest does.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from migrator.boot.debian import DebianKernel, fetch_kernel, module_name
from migrator.boot.initramfs import GuestModule, build_initramfs
from migrator.boot.qemu import BootLog, boot
from migrator.verify.image import read_image
from migrator.verify.kconfig import parse_config
from migrator.verify.packages import decompress_module
from .layout import new_layout, old_layout
from .loader import prepare
from .table import PlacementTable

KERNELS = ("debian-6.1-cloud-amd64", "debian-6.12-cloud-amd64")
# Modules that only register things (filesystems, protocols, ciphers,
# libraries) load without hardware; drivers come in only as dependencies.
CANDIDATE_DIRS = ("kernel/fs/", "kernel/net/", "kernel/crypto/", "kernel/lib/",
                  "kernel/arch/x86/crypto/")
BOOT_TIMEOUT = 1500.0


@dataclass(frozen=True, slots=True)
class Disagreement:
    """A section the real loader put somewhere else than the model."""

    module: str
    section: str
    region: str
    predicted: int | None
    observed: int | None
    why: str

    def __str__(self) -> str:
        predicted = "-" if self.predicted is None else f"{self.predicted:#x}"
        observed = "-" if self.observed is None else f"{self.observed:#x}"
        return (f"{self.module} {self.section} ({self.region}): model {predicted}, "
                f"loader {observed}: {self.why}")


@dataclass(frozen=True, slots=True)
class LoaderComparison:
    """One kernel: what was loaded, compared, and where the model and the loader differ."""

    kernel: str
    release: str
    new_api: bool
    requested: int
    loaded: int
    failed: tuple[tuple[str, str], ...]   # (module, insmod's message)
    modules_compared: int
    sections_compared: int
    disagreements: tuple[Disagreement, ...]
    boot_seconds: float
    ending: str

    @property
    def ok(self) -> bool:
        return self.ending == "completed" and not self.disagreements and self.modules_compared > 0

    @property
    def api_label(self) -> str:
        """Which side of the change the kernel is on, as its report names it."""
        return "mem[] types" if self.new_api else "module_layout"


def candidates(kernel: DebianKernel, count: int) -> tuple[str, ...]:
    """``count`` module names spread evenly over the candidate folders, sorted by path."""
    paths = sorted(rel for rel in kernel.dependencies() if rel.startswith(CANDIDATE_DIRS))
    if count >= len(paths):
        chosen = paths
    else:
        step = len(paths) / count
        chosen = [paths[int(i * step)] for i in range(count)]
    return tuple(module_name(rel) for rel in chosen)


def compare_with_loader(key: str, table: PlacementTable, count: int = 300,
                        timeout: float = BOOT_TIMEOUT) -> LoaderComparison:
    """Boot the Debian kernel ``key`` with ``count`` of its modules and compare placements."""
    kernel = fetch_kernel(key)
    files = kernel.load_order(candidates(kernel, count))
    with tempfile.TemporaryDirectory(prefix="migrator-oracle-") as work:
        initrd = build_initramfs(Path(work) / "initrd.cpio", "x86_64",
                                 tuple(GuestModule(f) for f in files))
        log = boot("x86_64", kernel.vmlinuz, initrd, memory="2G", timeout=timeout)
    return compare_log(kernel, files, log, table)


def compare_log(kernel: DebianKernel, files: tuple[Path, ...], log: BootLog,
                table: PlacementTable) -> LoaderComparison:
    """Hold the section addresses of ``log`` against the model's layouts of ``files``."""
    config = parse_config(kernel.config.read_text(), "amd64")
    new_api = _has_mem_types(kernel)
    insmod = log.insmod_results()
    sysfs = log.sections()
    bases = _proc_modules_bases(log)
    disagreements: list[Disagreement] = []
    modules = sections = 0
    for path in files:
        name = module_name(path)
        if insmod.get(name) != 0 or name not in sysfs:
            continue
        image = read_image(decompress_module(path.name, path.read_bytes()), path.name)
        prepared = prepare(image, config)
        placements = (new_layout(prepared, config, table).placements if new_api
                      else old_layout(prepared, config).placements)
        found, compared = _compare(name, placements, sysfs[name], bases.get(name), new_api)
        disagreements += found
        sections += compared
        modules += 1
    errors = log.insmod_errors()
    failed = tuple((n, errors.get(n, f"exit {rc}")) for n, rc in insmod.items() if rc != 0)
    return LoaderComparison(kernel.key, kernel.release, new_api, len(files),
                            sum(rc == 0 for rc in insmod.values()), failed, modules, sections,
                            tuple(disagreements), round(log.seconds, 1), log.ending.value)


def _has_mem_types(kernel: DebianKernel) -> bool:
    major, minor = (int(x) for x in kernel.release.split(".")[:2])
    return (major, minor) >= (6, 4)


def _proc_modules_bases(log: BootLog) -> dict[str, int]:
    bases = {}
    for line in (log.block("modules") or "").splitlines():
        parts = line.split()
        if len(parts) >= 6 and parts[-1].startswith("0x"):
            bases[parts[0]] = int(parts[-1], 16)
    return bases


def _compare(name: str, placements, addresses: dict[str, int], text_base: int | None,
             new_api: bool) -> tuple[list[Disagreement], int]:
    """Disagreements of one module, and how many sections were compared."""
    by_name: dict[str, list] = {}
    for p in placements:
        by_name.setdefault(p.key, []).append(p)
    # Only sections sysfs can name unambiguously, and that it lists (non-empty).
    placed = {key: ps[0] for key, ps in by_name.items()
              if len(ps) == 1 and key in addresses and ps[0].size}
    found: list[Disagreement] = []
    regions: dict[str, list] = {}
    for key, p in placed.items():
        regions.setdefault(p.region, []).append(p)
    unplaced = sorted(set(addresses) - set(by_name))
    for key in unplaced:
        found.append(Disagreement(name, key, "?", None, addresses[key],
                                  "the loader placed a section the model does not"))
    spans = []
    for region, members in sorted(regions.items()):
        members.sort(key=lambda p: p.offset)
        anchor = members[0]
        base = addresses[anchor.key] - anchor.offset
        first_region = "MOD_TEXT" if new_api else "core"
        if region == first_region and text_base is not None and base != text_base:
            found.append(Disagreement(name, anchor.key, region, text_base + anchor.offset,
                                      addresses[anchor.key],
                                      "base differs from the /proc/modules address"))
            base = text_base
        for p in members:
            observed = addresses[p.key] - base
            if observed != p.offset:
                found.append(Disagreement(name, p.key, region, p.offset, observed,
                                          "offset from the allocation's base differs"))
        end = max(p.offset + p.size for p in members)
        spans.append((region, base, base + end))
    if new_api:
        for i, (region, lo, hi) in enumerate(spans):
            for other, lo2, hi2 in spans[i + 1:]:
                if lo < hi2 and lo2 < hi:
                    found.append(Disagreement(name, "*", f"{region}/{other}", None, None,
                                              "two memory types share an allocation"))
    return found, len(placed)
