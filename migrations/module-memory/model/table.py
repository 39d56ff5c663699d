"""The v6.4 placement table as a plain value.

``__layout_sections()`` of v6.4 walks a table of section-flag masks and maps
each row to a memory type, one map for core sections and one for init
sections.  Here that table is data, with the mainline values as the default,
so that a table read back from rewritten C code can be checked the same way.
Flags and types are kept by their C names; :meth:`PlacementTable.resolve`
turns flag names into bits for a given configuration.
"""

from __future__ import annotations

from dataclasses import dataclass

from migrator.errors import MigratorError
from migrator.verify import elf

# enum mod_mem_type -> (permission class, init?).  MOD_INVALID is no memory.
MEMORY_TYPES: dict[str, tuple[str, bool]] = {
    "MOD_TEXT": ("text", False),
    "MOD_DATA": ("data", False),
    "MOD_RODATA": ("rodata", False),
    "MOD_RO_AFTER_INIT": ("ro_after_init", False),
    "MOD_INIT_TEXT": ("text", True),
    "MOD_INIT_DATA": ("data", True),
    "MOD_INIT_RODATA": ("rodata", True),
}
MOD_INVALID = "MOD_INVALID"

FLAG_NAMES = ("SHF_WRITE", "SHF_ALLOC", "SHF_EXECINSTR", "SHF_RO_AFTER_INIT",
              "ARCH_SHF_SMALL")


@dataclass(frozen=True, slots=True)
class MaskRow:
    """One ``{required, forbidden}`` row: flags that must all be set, flags that must not."""

    required: tuple[str, ...]
    forbidden: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class PlacementTable:
    """Mask rows, the memory type of each row for core and for init sections,
    and where the loader's own additions go (kallsyms, arch reservations)."""

    masks: tuple[MaskRow, ...]
    core_types: tuple[str, ...]
    init_types: tuple[str, ...]
    kallsyms_core: str = "MOD_DATA"
    kallsyms_init: str = "MOD_INIT_DATA"
    arch_reserved: str = "MOD_TEXT"
    source: str = "v6.4 mainline"

    def validate(self) -> None:
        """Raise :class:`MigratorError` naming the first malformed field."""
        for field_name in ("core_types", "init_types"):
            types = getattr(self, field_name)
            if len(types) != len(self.masks):
                raise MigratorError(
                    f"placement table ({self.source}): {field_name} has {len(types)} entries "
                    f"for {len(self.masks)} mask rows")
            for position, name in enumerate(types):
                if name != MOD_INVALID and name not in MEMORY_TYPES:
                    raise MigratorError(f"placement table ({self.source}): {field_name}[{position}] "
                                        f"is not a memory type: {name!r}")
        for field_name in ("kallsyms_core", "kallsyms_init", "arch_reserved"):
            name = getattr(self, field_name)
            if name != MOD_INVALID and name not in MEMORY_TYPES:
                raise MigratorError(f"placement table ({self.source}): {field_name} "
                                    f"is not a memory type: {name!r}")
        for position, row in enumerate(self.masks):
            for part in ("required", "forbidden"):
                for flag in getattr(row, part):
                    if flag not in FLAG_NAMES and flag != "0":
                        raise MigratorError(f"placement table ({self.source}): masks[{position}]."
                                            f"{part} has unknown flag {flag!r}")

    def resolve(self, arch_shf_small: int) -> tuple[tuple[int, int], ...]:
        """The mask rows as ``(required bits, forbidden bits)``."""
        return resolve_masks(self.masks, arch_shf_small)


def resolve_masks(masks: tuple[MaskRow, ...], arch_shf_small: int) -> tuple[tuple[int, int], ...]:
    bits = {"SHF_WRITE": elf.SHF_WRITE, "SHF_ALLOC": elf.SHF_ALLOC,
            "SHF_EXECINSTR": elf.SHF_EXECINSTR, "SHF_RO_AFTER_INIT": elf.SHF_RO_AFTER_INIT,
            "ARCH_SHF_SMALL": arch_shf_small, "0": 0}

    def value(names: tuple[str, ...]) -> int:
        out = 0
        for name in names:
            out |= bits[name]
        return out

    return tuple((value(row.required), value(row.forbidden)) for row in masks)


# The rows of layout_sections() in 6.1, unchanged in v6.4's __layout_sections().
V6_1_MASKS = (
    MaskRow(("SHF_EXECINSTR", "SHF_ALLOC"), ("ARCH_SHF_SMALL",)),
    MaskRow(("SHF_ALLOC",), ("SHF_WRITE", "ARCH_SHF_SMALL")),
    MaskRow(("SHF_RO_AFTER_INIT", "SHF_ALLOC"), ("ARCH_SHF_SMALL",)),
    MaskRow(("SHF_WRITE", "SHF_ALLOC"), ("ARCH_SHF_SMALL",)),
    MaskRow(("ARCH_SHF_SMALL", "SHF_ALLOC"), ()),
)

MAINLINE_V6_4 = PlacementTable(
    masks=V6_1_MASKS,
    core_types=("MOD_TEXT", "MOD_RODATA", "MOD_RO_AFTER_INIT", "MOD_DATA", "MOD_DATA"),
    init_types=("MOD_INIT_TEXT", "MOD_INIT_RODATA", MOD_INVALID, "MOD_INIT_DATA",
                "MOD_INIT_DATA"),
)
