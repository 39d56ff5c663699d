"""The one exception the library raises for bad input.

Its message is a single line naming the cause; the CLI prints it and exits
non-zero.  Anything else escaping the library is a bug in migrator.
"""


class MigratorError(Exception):
    """Bad input or a refusal, described in one line."""
