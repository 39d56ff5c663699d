"""A module's memory as concrete addresses, before (6.1) and after (v6.4).

The source check evaluates C expressions such as ``loc - mod->init_layout.base
< mod->init_layout.size`` against real modules.  For that every allocation
gets a base address: the three 6.1 layouts and the seven v6.4 memory types
each sit in their own 128 MiB window, far apart, below 2**31 (so 32-bit casts
keep them).  Allocations are independent, so which one lies higher is no
promise of either loader: a second placement of the same module
(:meth:`MemoryMap.the_other_way`) puts the windows in the opposite order.
A :class:`MemoryMap` holds those bases, the fields the C code can
read (``size``, ``text_size``, ``ro_size``, ``ro_after_init_size``; ``base``
and ``size`` of ``mem[type]``), and every item placed by both loaders with its
old and new address.
"""

from __future__ import annotations

import copy
from bisect import bisect_left, bisect_right
from dataclasses import dataclass

from migrator.verify.kconfig import KernelConfig
from migrator.verify.image import ModuleImage
from .layout import NewLayout, OldLayout, new_layout, old_layout
from .loader import Prepared, prepare
from .table import MAINLINE_V6_4, MEMORY_TYPES, PlacementTable

WINDOW = 0x0800_0000
OLD_REGIONS = ("core", "init", "data")
OLD_BASES = {"core": 0x1000_0000, "init": 0x1800_0000, "data": 0x2000_0000}
# enum mod_mem_type order of mainline: the index of each type in mem[].
TYPE_ORDER = ("MOD_TEXT", "MOD_DATA", "MOD_RODATA", "MOD_RO_AFTER_INIT", "MOD_INIT_TEXT",
              "MOD_INIT_DATA", "MOD_INIT_RODATA")
NEW_BASES = tuple(0x4000_0000 + i * WINDOW for i in range(len(TYPE_ORDER)))


@dataclass(frozen=True, slots=True)
class Placed:
    """One item (a section or a loader-made block) with its 6.1 and v6.4 place."""

    key: str
    index: int
    size: int
    old_region: str
    old_offset: int
    new_type: str
    new_offset: int

    @property
    def label(self) -> str:
        return self.key


class MemoryMap:
    """The attributes compiled C code reads.  Old fields are ``<region>_<field>``;
    new ones are the lists ``mem_base`` and ``mem_size`` indexed like ``mem[]``."""

    __slots__ = ("name", "arch", "items", "old_items", "new_items", "other_way",
                 "core_base", "core_size", "core_text_size", "core_ro_size",
                 "core_ro_after_init_size",
                 "init_base", "init_size", "init_text_size", "init_ro_size",
                 "init_ro_after_init_size",
                 "data_base", "data_size", "data_text_size", "data_ro_size",
                 "data_ro_after_init_size",
                 "mem_base", "mem_size")

    def __init__(self, name: str, arch: str, items: tuple[Placed, ...],
                 old_fields: dict[str, dict[str, int]], new_sizes: dict[str, int],
                 data_alias: bool = True):
        self.name = name
        self.arch = arch
        self.items = items
        for region in OLD_REGIONS:
            fields = old_fields[region]
            base = OLD_BASES["core" if region == "data" and data_alias else region]
            setattr(self, f"{region}_base", base)
            for field in ("size", "text_size", "ro_size", "ro_after_init_size"):
                setattr(self, f"{region}_{field}", fields[field])
        self.mem_base = list(NEW_BASES)
        self.mem_size = [new_sizes.get(t, 0) for t in TYPE_ORDER]
        # Per allocation: (starts, items) sorted by offset, non-empty items only.
        self.old_items = _by_allocation(((p.old_region, p.old_offset, p) for p in items))
        self.new_items = _by_allocation(((p.new_type, p.new_offset, p) for p in items))
        self.other_way: MemoryMap | None = None

    def old_base(self, region: str) -> int:
        return getattr(self, f"{region}_base")

    def old_address(self, p: Placed) -> int:
        return self.old_base(p.old_region) + p.old_offset

    def new_address(self, p: Placed) -> int:
        return self.mem_base[TYPE_ORDER.index(p.new_type)] + p.new_offset

    def the_other_way(self) -> "MemoryMap":
        """The same module with its allocations in the opposite order, both before and after.

        A test whose answer differs between the two placements asks which
        allocation lies higher, which no loader promises.
        """
        if self.other_way is None:
            other = copy.copy(self)
            old_windows = dict(zip(OLD_REGIONS, reversed([OLD_BASES[r] for r in OLD_REGIONS])))
            for region in OLD_REGIONS:
                same = region == "data" and self.data_base == self.core_base  # data_layout is core_layout
                setattr(other, f"{region}_base", old_windows["core" if same else region])
            other.mem_base = list(reversed(NEW_BASES))
            other.other_way = self
            self.other_way = other
        return self.other_way

    def old_size(self, region: str) -> int:
        return getattr(self, f"{region}_size")

    def new_size(self, mem_type: str) -> int:
        return self.mem_size[TYPE_ORDER.index(mem_type)]


def _by_allocation(rows) -> dict[str, tuple[list[int], list[Placed]]]:
    out: dict[str, list[tuple[int, Placed]]] = {}
    for region, offset, p in rows:
        if p.size:
            out.setdefault(region, []).append((offset, p))
    return {r: ([o for o, _ in sorted(v, key=lambda x: x[0])],
                [p for _, p in sorted(v, key=lambda x: x[0])]) for r, v in out.items()}


def old_fields(old: OldLayout, config: KernelConfig) -> dict[str, dict[str, int]]:
    """``size``, ``text_size``, ``ro_size`` and ``ro_after_init_size`` of each 6.1 layout.

    Without CONFIG_ARCH_WANTS_MODULES_DATA_IN_VMALLOC ``data_layout`` is a macro
    for ``core_layout``, so both read the same fields.  With it, 6.1's
    layout_sections() set core_layout's text_size and size only (the core
    held the text alone), so its ro_size and ro_after_init_size stayed 0, as
    struct module came from the .ko.
    """
    sizes = dict(old.sizes)
    out: dict[str, dict[str, int]] = {}
    for region in ("core", "init", "data"):
        spans = {s.perm: s for s in old.spans if s.region == region}
        size = sizes.get(region, 0)
        text = spans["text"].end if "text" in spans else 0
        ro = spans["rodata"].end if "rodata" in spans else text
        rai = spans["ro_after_init"].end if "ro_after_init" in spans else ro
        out[region] = {"size": size, "text_size": text, "ro_size": ro, "ro_after_init_size": rai}
    if not config.data_in_vmalloc:
        out["data"] = dict(out["core"])
    else:
        out["core"].update(ro_size=0, ro_after_init_size=0)
    return out


def memory_map(prepared: Prepared, config: KernelConfig, arch: str,
               table: PlacementTable = MAINLINE_V6_4) -> MemoryMap | None:
    """The concrete map of one prepared module, or None if the loader refuses it."""
    if prepared.refusal is not None:
        return None
    old = old_layout(prepared, config)
    new = new_layout(prepared, config, table)
    return map_from_layouts(prepared.name, arch, old, new, config)


def map_from_layouts(name: str, arch: str, old: OldLayout, new: NewLayout,
                     config: KernelConfig) -> MemoryMap:
    new_at = {(p.key, p.index): p for p in new.placements}
    items = []
    for p in old.placements:
        n = new_at.get((p.key, p.index))
        if n is None or n.region not in MEMORY_TYPES:
            continue
        region = p.region if config.data_in_vmalloc or p.region != "data" else "core"
        items.append(Placed(p.key, p.index, p.size, region, p.offset, n.region, n.offset))
    return MemoryMap(name, arch, tuple(items), old_fields(old, config), dict(new.sizes),
                     data_alias=not config.data_in_vmalloc)


def image_map(image: ModuleImage, config: KernelConfig, arch: str,
              table: PlacementTable = MAINLINE_V6_4) -> MemoryMap | None:
    return memory_map(prepare(image, config), config, arch, table)


# ----------------------------------------------------------------- points

END = "<end>"


def point(items: dict[str, tuple[list[int], list[Placed]]], bases: dict[str, int],
          sizes: dict[str, int], address: int, end: bool = False) -> tuple | None:
    """What an address points at: ``(item key, index, offset into it)``.

    An address between items points at the next item, past the last item at
    ``<end>`` of its allocation.  For the end of a range (``end``) an address
    is the end of the last item that starts below it.  None when it lies in an empty allocation, which holds no
    byte to point at; ``("<outside>",)`` when it is in no allocation.
    """
    for region, base in bases.items():
        size = sizes.get(region, 0)
        if not base <= address <= base + size:
            continue
        starts, placed = items.get(region, ([], []))
        if not placed:
            return None
        offset = address - base
        if end:
            # The last item starting below the address; past its end, its end.
            at = bisect_left(starts, offset) - 1
            if at < 0:
                return ("<start>",)
            p = placed[at]
            return (p.key, p.index, min(offset - starts[at], p.size))
        at = bisect_right(starts, offset) - 1
        if at >= 0 and offset < starts[at] + placed[at].size:
            p = placed[at]
            return (p.key, p.index, offset - starts[at])
        if at + 1 < len(placed):
            p = placed[at + 1]
            return (p.key, p.index, 0)
        return (END,)
    return ("<outside>",)


def old_point(m: MemoryMap, address: int, end: bool = False) -> tuple | None:
    regions = OLD_REGIONS if any(p.old_region == "data" for p in m.items) else ("core", "init")
    return point(m.old_items, {r: m.old_base(r) for r in regions},
                 {r: m.old_size(r) for r in regions}, address, end)


def new_point(m: MemoryMap, address: int, end: bool = False) -> tuple | None:
    return point(m.new_items, dict(zip(TYPE_ORDER, m.mem_base)),
                 dict(zip(TYPE_ORDER, m.mem_size)), address, end)
