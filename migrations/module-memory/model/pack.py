"""The migration this plug-in belongs to: the pack whose folder holds it.

The plug-in reads its header, its old API's prefilter and its new API's
names from this pack's vocabulary, never from whichever pack is the default.
"""

from pathlib import Path

from migrator.migration import load_migration

MIGRATION = load_migration(str(Path(__file__).resolve().parent.parent))
VOCABULARY = MIGRATION.vocabulary
