"""The real-module check: old and new placement of every module, then the sums."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from migrator.errors import MigratorError
from migrator.verify import packages as debian
from migrator.verify.findings import ModuleViolation
from migrator.verify.image import ModuleImage
from migrator.verify.kconfig import KernelConfig, parse_config
from .invariants import Footprint, check, footprint
from .layout import new_layout, old_layout
from .loader import prepare
from .table import MAINLINE_V6_4, PlacementTable


@dataclass(frozen=True, slots=True)
class ModuleResult:
    """One module: its violations and footprint, or why the loader would refuse it."""

    name: str
    violations: tuple[ModuleViolation, ...]
    footprint: Footprint | None
    refusal: str | None = None


@dataclass(frozen=True, slots=True)
class Totals:
    modules: int
    checked: int
    refused: int
    unreadable: int
    violations: int
    pages_before: int
    pages_after: int
    allocations_before: int
    allocations_after: int


@dataclass(frozen=True, slots=True)
class ModulesReport:
    """The check of all modules of one architecture."""

    arch: str
    source: str
    config: KernelConfig
    table: str
    from_cache: bool
    totals: Totals
    violations: tuple[ModuleViolation, ...]
    refused: tuple[tuple[str, str], ...]
    unreadable: tuple[tuple[str, str], ...]

    @property
    def ok(self) -> bool:
        return not self.violations


def check_image(image: ModuleImage, config: KernelConfig,
                table: PlacementTable = MAINLINE_V6_4) -> ModuleResult:
    """Lay one module out both ways and check the invariants."""
    prepared = prepare(image, config)
    if prepared.refusal is not None:
        return ModuleResult(image.name, (), None, prepared.refusal)
    old = old_layout(prepared, config)
    new = new_layout(prepared, config, table)
    return ModuleResult(image.name, check(prepared, old, new, config),
                        footprint(old, new, config))


def check_images(images, config: KernelConfig,
                 table: PlacementTable = MAINLINE_V6_4) -> tuple[ModuleResult, ...]:
    table.validate()
    return tuple(check_image(image, config, table) for image in images)


def summarize(arch: str, source: str, config: KernelConfig, table: PlacementTable,
              results: tuple[ModuleResult, ...], unreadable: tuple[tuple[str, str], ...],
              from_cache: bool) -> ModulesReport:
    violations = tuple(v for r in results for v in r.violations)
    refused = tuple((r.name, r.refusal) for r in results if r.refusal is not None)
    prints = [r.footprint for r in results if r.footprint is not None]
    totals = Totals(
        modules=len(results) + len(unreadable),
        checked=len(prints),
        refused=len(refused),
        unreadable=len(unreadable),
        violations=len(violations),
        pages_before=sum(f.pages_before for f in prints),
        pages_after=sum(f.pages_after for f in prints),
        allocations_before=sum(f.allocations_before for f in prints),
        allocations_after=sum(f.allocations_after for f in prints),
    )
    return ModulesReport(arch, source, config, table.source, from_cache, totals, violations,
                         refused, unreadable)


def check_modules(source: str | Path | None, arch: str, *,
                  table: PlacementTable = MAINLINE_V6_4,
                  config: KernelConfig | None = None,
                  use_cache: bool = True) -> ModulesReport:
    """Check every module of ``arch``.

    ``source`` is a Debian package (.deb), a directory of module files (with a
    ``config-*`` or ``.config`` in it unless ``config`` is given), or None to
    fetch the current bookworm kernel package for ``arch``.  ``config``
    overrides the configuration read from the source.
    """
    if source is None:
        source = debian.fetch_package(arch)
    path = Path(source)
    if path.is_dir():
        found = debian.read_directory(path)
    elif path.suffix == ".deb":
        found = debian.read_package(path, use_cache=use_cache)
    else:
        raise MigratorError(f"{path}: neither a .deb nor a directory of modules")
    if config is None:
        if not found.config_text:
            raise MigratorError(f"{path}: no kernel config found (config-*, .config or "
                                "boot/config-*); pass --config FILE")
        config = parse_config(found.config_text, arch)
    results = check_images(found.images, config, table)
    return summarize(arch, found.source, config, table, results, found.unreadable,
                     found.from_cache)
