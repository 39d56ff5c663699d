"""The module-memory pack's model: where the 6.1 and v6.4 loaders put a module's sections.

The engine reaches it through ``load_migration("module-memory").model()``
(imported as ``migrator_packs.module_memory.model``), never by name:

* :func:`check_modules` checks real modules against the model's invariants;
* :mod:`source` (``source.check_tree``) checks a rewritten tree against its
  original (names, allocation plans, and the meaning of address tests on real
  modules), :mod:`out_of_tree` does it for code outside the tree, per kernel;
* :mod:`loader_table` reads the placement table from a real loader's source,
  :data:`DEFAULT_TABLE` is the one used when no such source is cached;
* :mod:`probes` gives the modules expressions are judged on;
* :mod:`oracle` (``check --against-loader``) holds the model against the real
  loader of Debian's kernels booted in qemu; it is imported only when asked
  for (``model("oracle")``), as it brings in the engine's qemu harness.

The generic parts it builds on are the engine's: a kernel's headers
(:mod:`migrator.verify.kernel`), the branches a kernel compiles
(:mod:`migrator.verify.branches`) and the names a rewrite may use
(:mod:`migrator.verify.names`), all read with this pack's vocabulary
(:mod:`pack`).

It imports only the engine's public and generic modules (``migrator.verify``,
``migrator.parse``, ``migrator.migration``, ``migrator.errors``, and the
harness ``migrator.boot`` in :mod:`oracle`); library code:
results are frozen dataclasses, bad input raises
:class:`migrator.errors.MigratorError`.
"""

from migrator.verify.findings import ModuleViolation, Note, SourceViolation
from migrator.verify.kconfig import KernelConfig, parse_config

from . import loader_table, out_of_tree, probes, source
from .check import ModuleResult, ModulesReport, Totals, check_image, check_modules
from .invariants import INVARIANTS, Footprint
from .source import SOURCE_INVARIANTS, check_tree
from .table import MAINLINE_V6_4, MaskRow, PlacementTable

# The placement table when no real loader's source is at hand: mainline v6.4's,
# held against Debian's linux-source-6.12 loader by tests/test_loader_table.py.
DEFAULT_TABLE = MAINLINE_V6_4

__all__ = [
    "DEFAULT_TABLE", "INVARIANTS", "MAINLINE_V6_4", "SOURCE_INVARIANTS", "Footprint", "KernelConfig",
    "MaskRow", "ModuleResult", "ModuleViolation", "ModulesReport", "Note", "PlacementTable",
    "SourceViolation", "Totals", "check_image", "check_modules", "check_tree", "loader_table",
    "out_of_tree", "parse_config", "probes", "source",
]
