"""The modules a source check judges expressions on, and which of them apply to a file.

Real modules come from the Debian packages already in the cache (see
:mod:`packages`); nothing is downloaded here.  The synthetic
modules of :mod:`synthetic` are always added: they hold the
corner cases on purpose.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from migrator.migration import load_migration
from migrator.verify import packages as debian
from migrator.verify.kconfig import KERNEL_ARCH, parse_config
from .memmap import image_map
from .meaning import ProbeSet
from .synthetic import synthetic_sets
from .table import MAINLINE_V6_4, PlacementTable

# The 6.1 data layout (CONFIG_ARCH_WANTS_MODULES_DATA_IN_VMALLOC) is judged on
# the generic helpers, which 6.1 wrote for it; arch code is judged under the
# configurations of its own architecture.  Where the architecture's Kconfig
# selects it (the pack's vocabulary says which), the arch code's addresses are
# judged under it too: core_layout held the text alone there, so core base +
# ro_after_init_size was no start of the data.  Its address tests are not: 6.1's own
# within_module_core() counted data_layout as core under this option, as
# within_module_core() does since v6.4 (upstream made powerpc's module_32.c
# range test that call), so a test over core_layout alone is no meaning to keep.
GENERIC_ONLY = ("synthetic-data-layout",)
DATA_IN_VMALLOC = "CONFIG_ARCH_WANTS_MODULES_DATA_IN_VMALLOC"


def _selecting_arches() -> frozenset[str]:
    """The kernel arch folders whose Kconfig may select the separate data layout."""
    option = load_migration(str(Path(__file__).resolve().parents[1])).vocabulary.old.config(DATA_IN_VMALLOC)
    folders = option.selected_in if option is not None else ()
    return frozenset(f.split("/")[1] for f in folders if f.startswith("arch/") and f.count("/") >= 2)


def synthetic_probe_sets(table: PlacementTable = MAINLINE_V6_4) -> tuple[ProbeSet, ...]:
    out = []
    for label, config, images in synthetic_sets():
        maps = tuple(m for m in (image_map(i, config, label, table) for i in images) if m)
        out.append(ProbeSet(label, config, maps))
    return tuple(out)


def cached_package(arch: str) -> Path | None:
    """The newest module package of ``arch`` in the cache, or None."""
    packages = sorted(debian.module_cache(arch).glob("*.deb"))
    return packages[-1] if packages else None


def real_probe_set(arch: str, source: str | Path,
                   table: PlacementTable = MAINLINE_V6_4) -> ProbeSet:
    """Every module of one package or directory, laid out both ways."""
    path = Path(source)
    found = debian.read_directory(path) if path.is_dir() else debian.read_package(path)
    config = parse_config(found.config_text, arch)
    maps = tuple(m for m in (image_map(i, config, arch, table) for i in found.images) if m)
    return ProbeSet(arch, config, maps)


def real_probe_sets(arches=None, table: PlacementTable = MAINLINE_V6_4) -> tuple[ProbeSet, ...]:
    """A probe set per architecture whose package is in the cache."""
    out = []
    for arch in arches or sorted(debian.FLAVOURS):
        package = cached_package(arch)
        if package is not None:
            out.append(real_probe_set(arch, package, table))
    return tuple(out)


class ProbeChooser:
    """Which probe sets judge a file: those of its architecture, or all for generic code."""

    def __init__(self, sets: tuple[ProbeSet, ...]):
        self.sets = sets
        self.data_layout_arches = _selecting_arches()

    def __call__(self, path: str) -> tuple[ProbeSet, ...]:
        parts = path.split("/")
        if len(parts) > 2 and parts[0] == "arch":
            karch = parts[1]
            data_layout = karch in self.data_layout_arches
            own = tuple(s for s in self.sets if KERNEL_ARCH.get(s.label) == karch)
            generic = tuple(s for s in self.sets if s.label.startswith("synthetic")
                            and (data_layout if s.label in GENERIC_ONLY
                                 else s.label == "synthetic" or karch in s.label))
            generic = tuple(replace(s, addresses_only=True) if s.label in GENERIC_ONLY else s for s in generic)
            if own:
                return own + generic
            return tuple(replace(s, addresses_only=True) if s.label in GENERIC_ONLY else s
                         for s in self.sets if data_layout or s.label not in GENERIC_ONLY)
        return self.sets

    @property
    def modules(self) -> int:
        return sum(len(s.maps) for s in self.sets)
