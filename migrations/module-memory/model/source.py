"""The source check: a rewritten tree against its original, file by file.

For every file that differs from the original (among those the original
held an old layout in, plus include/linux/module.h), four checks run:

* names (:mod:`migrator.verify.names`): what the rewrite introduces
  exists in the tree's module.h;
* allocation plans (:mod:`plans`): reservations and the
  addresses computed from them agree in type and permissions;
* meaning (:mod:`meaning`): rewritten address tests and
  addresses agree with the original on every section of every module of the
  probe sets;
* arithmetic (:mod:`arithmetic`): no size or offset mixes two
  memory types the way 6.1's cumulative offsets allowed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from migrator.errors import MigratorError
from migrator.parse import candidate_paths, is_c_path
from migrator.verify.findings import Note, SourceViolation
from migrator.verify.kconfig import KernelConfig
from migrator.verify.kernel import read_file
from migrator.verify.names import check_names, declared_fields, read_api
from .arithmetic import check_arithmetic
from .cexpr import Scope
from .meaning import ProbeSet, Stats, judge, pair_changes
from .pack import VOCABULARY
from .plans import check_plans, extract_plan
from .probes import ProbeChooser
from .table import MAINLINE_V6_4, PlacementTable

# The header that defines the target API.
API_HEADER = VOCABULARY.new.api_header


# The invariants of the source check, by id.
SOURCE_INVARIANTS = {
    "api-name": "every name the rewrite introduces exists in the tree's module.h",
    "kernel-name": "every module API name on the lines a kernel compiles exists in that "
                   "kernel's headers (out-of-tree code, --kernel)",
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


@dataclass(frozen=True)
class TreeCheck:
    """The result of checking one rewritten tree."""

    root: str
    original: str
    files: tuple[str, ...]
    violations: tuple[SourceViolation, ...]
    notes: tuple[Note, ...]
    pairs: int
    judged: int
    probes: int
    probe_sets: tuple[tuple[str, int], ...]
    reservations: int
    addresses: int
    by_plans: int = 0

    @property
    def ok(self) -> bool:
        return not self.violations


def _same_file(a: str, b: str) -> bool:
    try:
        sa, sb = os.stat(a), os.stat(b)
    except OSError:
        return False
    return (sa.st_dev, sa.st_ino) == (sb.st_dev, sb.st_ino)


def changed_files(root: str, original: str, paths=None) -> list[tuple[str, bytes, bytes]]:
    """``(path, original bytes, rewritten bytes)`` of the files that differ.

    ``paths`` defaults to the files of the original that mention an old
    layout, plus include/linux/module.h.
    """
    if paths is None:
        old = VOCABULARY.old
        found = candidate_paths(original, old.prefilter, old.needle)
        paths = sorted({p for p, error in found if error is None} | {API_HEADER})
    out = []
    for path in paths:
        if _same_file(os.path.join(root, path), os.path.join(original, path)):
            continue
        old, new = read_file(original, path), read_file(root, path)
        if old is None or new is None or old == new:
            continue
        out.append((path, old, new))
    return out


def _c_only(changes):
    return [c for c in changes if is_c_path(c[0])]


def check_sources(changes: list[tuple[str, bytes, bytes]], api_header: bytes,
                  old_header: bytes | None, probe_sets: tuple[ProbeSet, ...],
                  table: PlacementTable = MAINLINE_V6_4, root: str = "",
                  original: str = "") -> TreeCheck:
    """Check rewritten files given as bytes; ``api_header`` is the rewritten module.h."""
    api = read_api(api_header, VOCABULARY.new)
    violations: list[SourceViolation] = []
    notes: list[Note] = []
    old_plans, new_plans = [], []
    old_scopes: dict[str, Scope] = {}
    new_scopes: dict[str, Scope] = {}
    pairs = []
    config = KernelConfig("generic")
    declared = frozenset().union(*(declared_fields(new) for _p, _o, new in changes))
    for path, old, new in changes:
        violations.extend(check_names(path, old, new, api, declared))
        violations.extend(check_arithmetic(path, new, table))
        old_plans.append(extract_plan(path, old))
        new_plans.append(extract_plan(path, new))
        old_scope, new_scope = Scope(), Scope()
        if old_header is not None:
            old_scope.add_source(old_header)
        old_scope.add_source(old)
        new_scope.add_source(api_header)
        new_scope.add_source(new)
        old_scopes[path], new_scopes[path] = old_scope, new_scope
        found, file_notes = pair_changes(path, old, new, old_scope, new_scope, config)
        pairs.extend(found)
        notes.extend(file_notes)
    violations.extend(check_plans(new_plans, old_plans, config, table))
    stats = Stats()
    chooser = ProbeChooser(probe_sets)
    judged, judge_notes = judge(pairs, old_scopes, new_scopes, chooser, stats)
    violations.extend(judged)
    # A base plus an arch offset is judged by the allocation plan, not here.
    planned = {(a.path, a.line) for plan in new_plans for a in plan.addresses}
    kept = [n for n in judge_notes if (n.path, n.line) not in planned]
    notes.extend(kept)
    violations.sort(key=lambda v: (v.path, v.line, v.col, v.invariant))
    notes.sort(key=lambda n: (n.path, n.line))
    return TreeCheck(root, original, tuple(p for p, _o, _n in changes), tuple(violations),
                     tuple(notes), stats.pairs, stats.judged, stats.probes,
                     tuple((s.label, len(s.maps)) for s in probe_sets),
                     sum(len(p.reservations) for p in new_plans),
                     sum(len(p.addresses) for p in new_plans), len(judge_notes) - len(kept))


def check_tree(root: str, original: str, probe_sets,
               table: PlacementTable = MAINLINE_V6_4, paths=None) -> TreeCheck:
    """Check the rewritten tree at ``root`` against the ``original`` it was rewritten from.

    ``probe_sets`` is a tuple of :class:`ProbeSet` or a function returning one,
    called only once the input is known to be good.
    """
    for label, where in (("tree", root), ("original", original)):
        if not os.path.isdir(where):
            raise MigratorError(f"{where}: the {label} is not a directory")
    if os.path.realpath(root) == os.path.realpath(original):
        raise MigratorError(f"{root}: the tree and its original are the same directory")
    header = read_file(root, API_HEADER)
    if header is None:
        raise MigratorError(f"{os.path.join(root, API_HEADER)}: no such file: not a kernel tree; "
                            f"check out-of-tree code with --kernel KDIR for each side")
    read_api(header, VOCABULARY.new)  # bad input fails before any module is read
    changes = _c_only(changed_files(root, original, paths))
    if callable(probe_sets):
        probe_sets = probe_sets()
    return check_sources(changes, header, read_file(original, API_HEADER), probe_sets, table,
                         root, original)
