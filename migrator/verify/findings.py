"""What a check of a rewrite reports: broken invariants at a place, and what it did not judge.

The invariants themselves, and their ids, are a migration's (its model plug-in's).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SourceViolation:
    """One broken invariant at one place of the checked tree."""

    path: str
    line: int
    col: int
    invariant: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.col}: {self.invariant}: {self.message}"


@dataclass(frozen=True, slots=True)
class Note:
    """Something the check saw but did not judge, and why."""

    path: str
    line: int
    what: str
    reason: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.what}: not judged: {self.reason}"
