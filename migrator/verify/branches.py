"""Which lines of a file one given kernel compiles.

The match stage reads a file's conditionals and evaluates them for the two
sides of the change (:mod:`migrator.parse.preproc`).  The check knows more:
the real kernel it checks against (:mod:`kernel`).  So the same reader and
the same expression evaluator run here with that kernel's facts: its exact
LINUX_VERSION_CODE, the CONFIG_ options its autoconf.h sets, and the
macros its API header defines (a probe macro of the new API is defined by
a kernel with the change and not by one before it).  A condition over
anything else (a project's own probe, such as a configure test's result)
has no value: the lines under it are *unknown*, never guessed as compiled
or not.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass

from migrator.parse.preproc import (Block, Conditionals, Side, Sides, _Parser, _truth, _Unknown,
                                    read_conditionals)

from .kernel import Kernel

_CONFIG_TESTS = ("IS_ENABLED", "IS_BUILTIN", "IS_MODULE", "IS_REACHABLE")


@dataclass(frozen=True)
class Facts:
    """What the preprocessor knows about one kernel."""

    side: Side
    version_code: int
    macros: frozenset[str]  # defined by the kernel's API header
    config: frozenset[str] | None  # CONFIG_ options set; None when unknown
    # Macros whose presence a kernel decides (those of any compared kernel's API header):
    # undefined when not in macros.
    decides: frozenset[str] = frozenset()

    @classmethod
    def of(cls, kernel: Kernel, sides: Sides, others: tuple[Kernel, ...] = ()) -> "Facts":
        """The facts of ``kernel``, on its side of the change of ``sides``."""
        decides = frozenset().union(kernel.macros, *(k.macros for k in others))
        side = sides.new if kernel.has_change else sides.old
        return cls(side, kernel.version_code, kernel.macros, kernel.config, decides)


class _KernelParser(_Parser):
    """The match stage's #if evaluator, for one real kernel rather than a side."""

    def __init__(self, text: str, facts: Facts, defined: frozenset[str]):
        undefined = facts.decides - facts.macros
        super().__init__(text, facts.side, facts.macros | defined, undefined)
        self.facts = facts

    def primary(self):
        tok = self.peek()
        if tok == "LINUX_VERSION_CODE":
            self.take()
            return (self.facts.version_code,) * 2
        if tok is not None and tok.startswith("CONFIG_") and self.facts.config is not None:
            self.take()
            return (int(tok in self.facts.config),) * 2
        if tok in _CONFIG_TESTS and self.facts.config is not None:
            self.take()
            self.take("(")
            name = self.take()
            self.take(")")
            config = self.facts.config
            set_ = {"IS_BUILTIN": name in config, "IS_MODULE": f"{name}_MODULE" in config}
            value = set_.get(tok, name in config or f"{name}_MODULE" in config)
            return (int(value),) * 2
        return super().primary()

    def is_defined(self, name: str):
        if name.startswith("CONFIG_") and self.facts.config is not None:
            return (int(name in self.facts.config),) * 2
        return super().is_defined(name)


def evaluate(directive: str, condition: str, facts: Facts,
             defined: frozenset[str] = frozenset()) -> bool | None:
    """Whether a branch's own condition holds on a kernel: True, False or None (unknown)."""
    if directive == "else":
        return True
    if directive in ("ifdef", "elifdef", "ifndef", "elifndef"):
        name = condition.split()[0] if condition.split() else ""
        condition = f"{'!' if 'ndef' in directive else ''}defined({name})"
    try:
        return _truth(_KernelParser(condition, facts, defined).parse())
    except (_Unknown, ZeroDivisionError, IndexError, ValueError):
        return None


def _include_guard(block: Block, conds: Conditionals) -> str | None:
    """X of `#ifndef X` / `#define X` opening a block (true the first time a file is read)."""
    first = block.branches[0]
    if first.directive != "ifndef" or not first.condition:
        return None
    name = first.condition.split()[0]
    after = [d for d in conds.defines if d.start >= first.body_start]
    inner = [b.branches[0].start for b in conds.blocks if b.branches[0].start > first.start]
    if after and after[0].name == name and after[0].start < min(inner, default=after[0].end):
        return name
    return None


@dataclass(frozen=True)
class Branches:
    """One file as one kernel compiles it."""

    states: tuple[bool | None, ...]  # per row: compiled, not, or unknown
    decided_directives: frozenset[int]  # rows of directives of groups with a value throughout
    # Per unknown row, the innermost directive it hangs on ("#ifdef HAVE_SOME_API", a project's probe).
    unknown_because: tuple[tuple[int, str], ...] = ()

    def why_unknown(self, row: int) -> str:
        return dict(self.unknown_because).get(row, "a condition")


def read_branches(data: bytes, facts: Facts) -> Branches:
    conds = read_conditionals(data)
    guards = {b.branches[0].start for b in conds.blocks if _include_guard(b, conds)}
    # The file's own macros count as defined where nothing conditional, but an
    # include guard, surrounds them.
    defined = frozenset(d.name for d in conds.defines
                        if all(b.branches[0].start in guards for b, _ in conds.enclosing(d.start)))
    row_of = _row_index(data)
    states: list[bool | None] = [True] * (data.count(b"\n") + 1)
    decided: set[int] = set()
    because: dict[int, str] = {}
    for block in conds.blocks:  # outermost first: inner blocks narrow their outer state
        values = [True if block.branches[0].start in guards and i == 0 else
                  evaluate(br.directive, br.condition, facts, defined)
                  for i, br in enumerate(block.branches)]
        taken = _taken(values)
        for i, (br, t) in enumerate(zip(block.branches, taken)):
            # An unknown #else hangs on the first condition that had no value.
            hang = br if br.directive not in ("else",) else next(
                (b for b, v in zip(block.branches, values) if v is None), br)
            for row in range(row_of(br.body_start), row_of(br.body_end)):
                states[row] = _and(states[row], t)
                if t is None:
                    because[row] = f"#{hang.directive} {hang.condition}".strip()
        if None not in taken:
            lines = [(br.start, br.body_start) for br in block.branches]
            for start, end in lines + [(block.endif_start, block.end)]:
                decided.update(range(row_of(start), max(row_of(end), row_of(start) + 1)))
    return Branches(tuple(states), frozenset(decided), tuple(sorted(because.items())))


def _taken(values: list[bool | None]) -> list[bool | None]:
    """Per branch: is it the one compiled (its condition holds, no earlier one's does)."""
    out: list[bool | None] = []
    earlier: bool | None = False  # has an earlier branch been taken
    for v in values:
        if earlier is True:
            out.append(False)
            continue
        out.append(v if earlier is False else (False if v is False else None))
        earlier = True if v is True else (earlier if v is False else None)
    return out


def _and(a: bool | None, b: bool | None) -> bool | None:
    if a is False or b is False:
        return False
    return None if a is None or b is None else True


def _row_index(data: bytes):
    starts = [0] + [m.end() for m in re.finditer(rb"\n", data)]

    def row_of(offset: int) -> int:
        return bisect.bisect_right(starts, offset) - 1

    return row_of


def line_states(data: bytes, facts: Facts) -> tuple[bool | None, ...]:
    """Per row of data: compiled (True), not (False) or unknown (None)."""
    return read_branches(data, facts).states


def project(data: bytes, facts: Facts) -> bytes:
    """data as one kernel compiles it: lines it does not compile, and the directives it
    decides, become empty; unknown branches stay.  Rows keep their numbers."""
    found = read_branches(data, facts)
    return b"\n".join(b"" if found.states[i] is False or i in found.decided_directives else row
                      for i, row in enumerate(data.split(b"\n")))
