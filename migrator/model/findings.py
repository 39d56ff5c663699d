"""What the source check reports: broken invariants at a place, and what it did not judge."""

from __future__ import annotations

from dataclasses import dataclass

# The invariants of the source check, by id.
SOURCE_INVARIANTS = {
    "api-name": "every name the rewrite introduces exists in the tree's module.h",
    "reservation-type": "an address from a type's base plus a reserved offset uses the type "
                        "the offset was reserved in",
    "reservation-unknown": "an address from a type's base plus an arch offset has a reservation "
                           "of that offset",
    "reservation-offset": "an offset recorded from a type's size is reserved by growing that "
                          "same type",
    "size-from-other-type": "a memory type's size is never assigned from another type's size "
                            "or base",
    "size-difference": "no value is the difference of two types' sizes (6.1's cumulative "
                       "offsets have no v6.4 counterpart)",
    "offset-other-type": "an offset added to a type's base is not another type's size",
    "gp-small-data": "ia64's gp is placed from the type the placement table gives small data",
    "reservation-moved": "a reservation lands in the memory type the model gives the 6.1 one",
    "reservation-permission": "reserved memory has the permissions its use needs when it is used",
    "reservation-lifetime": "memory reserved for core code outlives init",
    "predicate-agrees": "a rewritten address test classifies every section address of every "
                        "module as 6.1's test did",
    "address-agrees": "a rewritten address points at what 6.1's address pointed at",
}


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
