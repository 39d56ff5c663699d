"""The model: where the 6.1 and v6.4 loaders put a module's sections, and the checks.

:func:`check_modules` checks real modules against the model's invariants;
:func:`check_tree` checks a rewritten tree against its original (names,
allocation plans, and the meaning of address tests on real modules).

Library code only: results are frozen dataclasses, bad input raises
:class:`migrator.errors.MigratorError`.
"""

from migrator.model.check import ModuleResult, ModulesReport, Totals, check_image, check_modules
from migrator.model.findings import SOURCE_INVARIANTS, Note, SourceViolation
from migrator.model.invariants import INVARIANTS, Footprint, Violation
from migrator.model.kconfig import KernelConfig, parse_config
from migrator.model.table import MAINLINE_V6_4, MaskRow, PlacementTable


def check_tree(*args, **kwargs):
    """The source check of a rewritten tree; see :func:`migrator.model.source.check_tree`."""
    from migrator.model.source import check_tree as run

    return run(*args, **kwargs)

__all__ = [
    "INVARIANTS", "MAINLINE_V6_4", "SOURCE_INVARIANTS", "Footprint", "KernelConfig", "MaskRow",
    "ModuleResult", "ModulesReport", "Note", "PlacementTable", "SourceViolation", "Totals",
    "Violation", "check_image", "check_modules", "check_tree", "parse_config",
]
