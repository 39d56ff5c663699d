"""Where a module's sections land: the 6.1 layouts and the v6.4 memory types.

:func:`old_layout` follows ``layout_sections()`` and ``layout_symtab()`` of
6.1: one running size per allocation (core, init, and data with
CONFIG_ARCH_WANTS_MODULES_DATA_IN_VMALLOC), class boundaries recorded after
each mask row and page-aligned with CONFIG_STRICT_MODULE_RWX.  A placement's
permission class is read back from those boundaries, as ``frob_*`` would.

:func:`new_layout` follows v6.4's ``__layout_sections()`` driven by a
:class:`~.table.PlacementTable`: one running size per memory
type, no padding between classes, each type its own page-aligned allocation.
"""

from __future__ import annotations

from dataclasses import dataclass

from migrator.verify.kconfig import KernelConfig
from .loader import Item, Prepared
from .table import MEMORY_TYPES, MOD_INVALID, V6_1_MASKS, PlacementTable, resolve_masks

CLASSES = ("text", "rodata", "ro_after_init", "data")
# The class each 6.1 mask row fills (rows 3 and 4 are both data).
_ROW_CLASS = ("text", "rodata", "ro_after_init", "data", "data")


@dataclass(frozen=True, slots=True)
class Placement:
    """One item at ``offset`` in ``region`` (an old allocation or a new memory type)."""

    key: str
    index: int
    region: str
    offset: int
    size: int
    align: int
    perm: str
    init: bool


@dataclass(frozen=True, slots=True)
class ClassSpan:
    """A permission class of an old allocation: ``[start, end)`` and the strict-RWX
    padding inside it; ``interior_pad`` when some of that padding is not at its end."""

    region: str
    perm: str
    init: bool
    start: int
    end: int
    strict_pad: int
    interior_pad: bool


@dataclass(frozen=True, slots=True)
class OldLayout:
    placements: tuple[Placement, ...]
    sizes: tuple[tuple[str, int], ...]
    spans: tuple[ClassSpan, ...]


@dataclass(frozen=True, slots=True)
class InvalidHit:
    """A section that matched a mask row whose memory type is MOD_INVALID."""

    key: str
    row: int
    init: bool


@dataclass(frozen=True, slots=True)
class NewLayout:
    placements: tuple[Placement, ...]
    sizes: tuple[tuple[str, int], ...]
    invalid: tuple[InvalidHit, ...]


def _align(value: int, align: int) -> int:
    return -(-value // align) * align


def _matches(item: Item, row: tuple[int, int]) -> bool:
    return item.flags & row[0] == row[0] and not item.flags & row[1]


def old_layout(prepared: Prepared, config: KernelConfig) -> OldLayout:
    """The 6.1 placement of ``prepared`` under ``config``."""
    page = config.page_size
    strict = config.strict_module_rwx
    data = "data" if config.data_in_vmalloc else "core"
    size = {"core": 0, "init": 0, data: 0}
    pads: list[tuple[str, int, int]] = []
    bounds: dict[str, dict[str, int]] = {"core": {}, "init": {}, data: {}}
    raw: list[tuple[Item, str, int, str]] = []

    def put(item: Item, region: str, intended: str) -> None:
        offset = _align(size[region], item.align)
        size[region] = offset + item.size
        raw.append((item, region, offset, intended))

    def strict_align(region: str) -> None:
        before = size[region]
        if strict:
            size[region] = _align(before, page)
            if size[region] != before:
                pads.append((region, before, size[region]))

    if prepared.reservation is not None:
        put(prepared.reservation, "core", "text")
    rows = resolve_masks(V6_1_MASKS, config.arch_shf_small)
    for is_init in (False, True):
        placed: set[int] = set()
        for m, row in enumerate(rows):
            for position, item in enumerate(prepared.sections):
                if item.init != is_init or position in placed or not _matches(item, row):
                    continue
                placed.add(position)
                put(item, "init" if is_init else ("core" if m == 0 else data), _ROW_CLASS[m])
            region = "init" if is_init else ("core" if m == 0 else data)
            if m == 0:
                strict_align(region)
                bounds[region]["text"] = size[region]
            elif m == 1:
                strict_align(region)
                bounds[region]["ro"] = size[region]
            elif m == 2:
                if is_init:
                    bounds[region]["rai"] = bounds[region]["ro"]
                else:
                    strict_align(region)
                    bounds[region]["rai"] = size[region]
            elif m == 4:
                strict_align(region)
    kallsyms = prepared.kallsyms
    if kallsyms is not None:
        put(kallsyms.symtab, "init", "data")
        for item in kallsyms.core:
            put(item, data, "data")
        strict_align(data)
        put(kallsyms.strtab, "init", "data")
        for item in kallsyms.init_tail:
            put(item, "init", "data")
        strict_align("init")

    spans = []
    for region in size:
        b = bounds[region]
        if region == "core" and data == "data":
            edges = [("text", 0, b["text"])]
        elif region == "data":
            edges = [("rodata", 0, b["ro"]), ("ro_after_init", b["ro"], b["rai"]),
                     ("data", b["rai"], size[region])]
        else:
            edges = [("text", 0, b["text"]), ("rodata", b["text"], b["ro"]),
                     ("ro_after_init", b["ro"], b["rai"]), ("data", b["rai"], size[region])]
        for perm, start, end in edges:
            inside = [(lo, hi) for r, lo, hi in pads if r == region and start <= lo and hi <= end
                      and hi > start]
            spans.append(ClassSpan(region, perm, region == "init", start, end,
                                   sum(hi - lo for lo, hi in inside),
                                   any(hi != end for _lo, hi in inside)))

    placements = []
    for item, region, offset, intended in raw:
        perm = _class_at(spans, region, offset, item.size, intended)
        placements.append(Placement(item.key, item.index, region, offset, item.size, item.align, perm,
                                    region == "init"))
    return OldLayout(tuple(placements), tuple(size.items()), tuple(spans))


def _class_at(spans: list[ClassSpan], region: str, offset: int, size: int,
              intended: str) -> str:
    """The class whose span holds ``[offset, offset + size)``.

    An empty item occupies no byte, so it keeps the class of the row that
    placed it as long as its offset lies on that class's span (ends included).
    """
    candidates = [s for s in spans if s.region == region]
    if size:
        for s in candidates:
            if s.start <= offset and offset + size <= s.end:
                return s.perm
        return "straddles"
    for s in candidates:
        if s.perm == intended and s.start <= offset <= s.end:
            return s.perm
    return "outside"


def new_layout(prepared: Prepared, config: KernelConfig, table: PlacementTable) -> NewLayout:
    """The v6.4 placement of ``prepared`` driven by ``table``."""
    table.validate()
    size = {name: 0 for name in MEMORY_TYPES}
    placements: list[Placement] = []
    invalid: list[InvalidHit] = []

    def put(item: Item, mem_type: str) -> None:
        if mem_type not in size:
            invalid.append(InvalidHit(item.key, -1, item.init))
            return
        offset = _align(size[mem_type], item.align)
        size[mem_type] = offset + item.size
        perm, init = MEMORY_TYPES[mem_type]
        placements.append(Placement(item.key, item.index, mem_type, offset, item.size, item.align, perm, init))

    if prepared.reservation is not None:
        put(prepared.reservation, table.arch_reserved)
    rows = table.resolve(config.arch_shf_small)
    for is_init in (False, True):
        types = table.init_types if is_init else table.core_types
        placed: set[int] = set()
        for m, row in enumerate(rows):
            mem_type = types[m]
            for position, item in enumerate(prepared.sections):
                if item.init != is_init or position in placed or not _matches(item, row):
                    continue
                if mem_type == MOD_INVALID:
                    # v6.4 warns once and leaves the section for a later row.
                    invalid.append(InvalidHit(item.key, m, is_init))
                    continue
                placed.add(position)
                put(item, mem_type)
    kallsyms = prepared.kallsyms
    if kallsyms is not None:
        put(kallsyms.symtab, table.kallsyms_init)
        for item in kallsyms.core:
            put(item, table.kallsyms_core)
        put(kallsyms.strtab, table.kallsyms_init)
        for item in kallsyms.init_tail:
            put(item, table.kallsyms_init)
    return NewLayout(tuple(placements), tuple(size.items()), tuple(invalid))
