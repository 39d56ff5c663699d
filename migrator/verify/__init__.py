"""What checks any migration's rewrite, knowing no API.

The readers of real inputs: ELF objects and the facts of one ``.ko``
(:mod:`elf`, :mod:`image`, :mod:`arch`), Debian's linux-image packages
(:mod:`packages`), a kernel's .config (:mod:`kconfig`), the names a C
header declares (:mod:`header`), and the values a check reports
(:mod:`findings`).  Read with a migration's vocabulary: the kernel that
out-of-tree code builds against (:mod:`kernel`), the lines it compiles
(:mod:`branches`), and whether a rewrite uses only names its tree's API
header declares (:mod:`names`).  A migration's own model (the loaders'
layouts, plans, address meaning) is its pack's plug-in, reached through
:meth:`migrator.migration.Migration.model`.

Library code only: results are frozen dataclasses, bad input raises
:class:`migrator.errors.MigratorError`.
"""
