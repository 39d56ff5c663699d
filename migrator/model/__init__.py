"""The model: where the 6.1 and v6.4 loaders put a module's sections, and the check.

Library code only: results are frozen dataclasses, bad input raises
:class:`migrator.errors.MigratorError`.
"""

from migrator.model.check import ModuleResult, ModulesReport, Totals, check_image, check_modules
from migrator.model.invariants import INVARIANTS, Footprint, Violation
from migrator.model.kconfig import KernelConfig, parse_config
from migrator.model.table import MAINLINE_V6_4, MaskRow, PlacementTable

__all__ = [
    "INVARIANTS", "MAINLINE_V6_4", "Footprint", "KernelConfig", "MaskRow", "ModuleResult",
    "ModulesReport", "PlacementTable", "Totals", "Violation", "check_image", "check_modules",
    "parse_config",
]
