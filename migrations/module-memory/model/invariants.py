"""The invariants that the v6.4 placement of a module must keep from 6.1.

Each violation names its invariant (kebab-case id) so that a report, a test
or a reviewer can tell which promise broke:

``placed-once``       every item the 6.1 loader placed is placed exactly once
``invalid-type``      no section reaches a mask row mapped to MOD_INVALID
``permission-class``  text / rodata / ro_after_init / data is unchanged
``init-ness``         init items stay init, core items stay core
``type-size``         a type's size is the old class span less its strict-RWX
                      padding: exactly, when the class starts page-aligned and
                      all its padding is at its end; otherwise within the
                      class's largest alignment
``alignment``         every item sits at a multiple of its alignment, and no
                      alignment exceeds the page (a type's base is page-aligned)
``overlap``           no two items of a type share a byte
"""

from __future__ import annotations

from dataclasses import dataclass

from migrator.verify.findings import ModuleViolation
from migrator.verify.kconfig import KernelConfig
from .layout import NewLayout, OldLayout, Placement
from .loader import Prepared
from .table import MEMORY_TYPES

INVARIANTS = ("placed-once", "invalid-type", "permission-class", "init-ness", "type-size",
              "alignment", "overlap")


@dataclass(frozen=True, slots=True)
class Footprint:
    """Pages and allocations a module takes before (6.1) and after (v6.4)."""

    pages_before: int
    pages_after: int
    allocations_before: int
    allocations_after: int


def footprint(old: OldLayout, new: NewLayout, config: KernelConfig) -> Footprint:
    page = config.page_size

    def count(sizes: tuple[tuple[str, int], ...]) -> tuple[int, int]:
        used = [size for _name, size in sizes if size]
        return sum(-(-size // page) for size in used), len(used)

    before, after = count(old.sizes), count(new.sizes)
    return Footprint(before[0], after[0], before[1], after[1])


def _items(prepared: Prepared) -> list[tuple[str, int]]:
    out = [(item.key, item.index) for item in prepared.sections]
    if prepared.reservation is not None:
        out.append((prepared.reservation.key, prepared.reservation.index))
    if prepared.kallsyms is not None:
        k = prepared.kallsyms
        for item in (k.symtab, *k.core, k.strtab, *k.init_tail):
            out.append((item.key, item.index))
    return out


def check(prepared: Prepared, old: OldLayout, new: NewLayout,
          config: KernelConfig) -> tuple[ModuleViolation, ...]:
    """All invariant violations of ``new`` against ``old`` for one module."""
    name = prepared.name
    out: list[ModuleViolation] = []

    def fail(invariant: str, subject: str, message: str) -> None:
        out.append(ModuleViolation(invariant, name, subject, message))

    # Items are told apart by (key, section index): names may repeat.
    old_at: dict[tuple[str, int], list[Placement]] = {}
    new_at: dict[tuple[str, int], list[Placement]] = {}
    for layout, table in ((old, old_at), (new, new_at)):
        for p in layout.placements:
            table.setdefault((p.key, p.index), []).append(p)
    order = _items(prepared)

    for hit in new.invalid:
        where = "init" if hit.init else "core"
        row = f"mask row {hit.row}" if hit.row >= 0 else "a loader addition"
        fail("invalid-type", hit.key, f"{where} section matches {row}, which maps to MOD_INVALID")

    for ident in order:
        key = ident[0]
        olds, news = old_at.get(ident, []), new_at.get(ident, [])
        if len(olds) != 1:
            fail("placed-once", key, f"placed {len(olds)} times by the 6.1 model")
        if len(news) != 1:
            fail("placed-once", key, f"placed {len(news)} times in v6.4 (6.1: once)")
        if len(olds) != 1 or len(news) != 1:
            continue
        o, n = olds[0], news[0]
        if o.perm != n.perm:
            fail("permission-class", key, f"{o.perm} in 6.1, {n.perm} in {n.region}")
        if o.init != n.init:
            fail("init-ness", key, f"{'init' if o.init else 'core'} in 6.1, "
                                   f"{'init' if n.init else 'core'} in {n.region}")
    extra = set(new_at) - set(order)
    for key, _index in sorted(extra):
        fail("placed-once", key, "placed in v6.4 but not by the 6.1 loader")

    _check_sizes(old, new, config, fail)
    _check_geometry(new, config, fail)
    return tuple(out)


def _check_sizes(old: OldLayout, new: NewLayout, config: KernelConfig, fail) -> None:
    new_size = dict(new.sizes)
    largest: dict[str, int] = {}
    for p in new.placements:
        largest[p.region] = max(largest.get(p.region, 1), p.align)
    for p in old.placements:
        for mem_type, (perm, init) in MEMORY_TYPES.items():
            if perm == p.perm and init == p.init:
                largest[mem_type] = max(largest.get(mem_type, 1), p.align)
    for mem_type, (perm, init) in MEMORY_TYPES.items():
        spans = [s for s in old.spans if s.perm == perm and s.init == init]
        span_size = sum(s.end - s.start for s in spans)
        strict_pad = sum(s.strict_pad for s in spans)
        expected = span_size - strict_pad
        got = new_size.get(mem_type, 0)
        exact = config.strict_module_rwx and not any(s.interior_pad for s in spans)
        if exact and got != expected:
            fail("type-size", mem_type,
                 f"{got} bytes, expected {expected} (6.1 {perm} span {span_size} less "
                 f"{strict_pad} bytes of strict-RWX padding)")
        elif not exact and abs(got - expected) >= largest.get(mem_type, 1):
            fail("type-size", mem_type,
                 f"{got} bytes, 6.1 {perm} span less padding is {expected}: differs by "
                 f"{got - expected}, not below the class's largest alignment "
                 f"{largest.get(mem_type, 1)}")


def _check_geometry(new: NewLayout, config: KernelConfig, fail) -> None:
    by_type: dict[str, list[Placement]] = {}
    for p in new.placements:
        by_type.setdefault(p.region, []).append(p)
        if p.align > config.page_size:
            fail("alignment", p.key, f"alignment {p.align} exceeds the {config.page_size}-byte "
                                     f"page that {p.region} is aligned to")
        elif p.offset % p.align:
            fail("alignment", p.key, f"offset {p.offset:#x} in {p.region} is not a multiple "
                                     f"of {p.align}")
    sizes = dict(new.sizes)
    for mem_type, items in by_type.items():
        items = sorted((p for p in items if p.size), key=lambda p: p.offset)
        for a, b in zip(items, items[1:]):
            if a.offset + a.size > b.offset:
                fail("overlap", f"{a.key}/{b.key}",
                     f"{a.key} [{a.offset:#x}, {a.offset + a.size:#x}) overlaps {b.key} at "
                     f"{b.offset:#x} in {mem_type}")
        if items and items[-1].offset + items[-1].size > sizes.get(mem_type, 0):
            fail("overlap", items[-1].key, f"ends past the size of {mem_type}")
