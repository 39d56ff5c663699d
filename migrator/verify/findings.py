"""What a check reports: broken invariants at a place of a tree or in a real
module, and what it did not judge.

The invariants themselves, and their ids, are a migration's (its model plug-in's);
the command line prints these values.
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


@dataclass(frozen=True, slots=True)
class ModuleViolation:
    """One broken invariant in one real module (a .ko file laid out by a model)."""

    invariant: str
    module: str
    subject: str  # what in the module: a section, a memory type
    message: str

    def __str__(self) -> str:
        return f"{self.module}: {self.invariant}: {self.subject}: {self.message}"
