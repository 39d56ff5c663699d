"""Cut a rewrite plan into patches.

The default cut puts the preparation rewrites first, one patch per
architecture: they use helpers that exist before and after the change, so
each builds on the old API by itself.  One flag-day patch follows with the
API change (the header's regions) and every remaining use.  The atomic
cut puts everything into that one patch.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Sequence

from ..errors import MigratorError
from ..match import Rule, RuleBook
from ..match.scan import as_book
from ..match.regions import RegionStatus
from ..rewrite.plan import FileChange, RewritePlan, staged_bytes

PREPARE = "prepare"
FLAG_DAY = "flag-day"
SPLITS = ("arch", "atomic")


@dataclass(frozen=True)
class FileDiff:
    """One file's step within a patch."""

    path: str
    old: bytes
    new: bytes
    # (rule id, sites it rewrites here), by first use; a rule that only
    # rewrites comments counts no site
    rules: tuple[tuple[str, int], ...]
    regions: tuple[tuple[str, int], ...]  # (region rule id, sites inside its regions)

    @property
    def sites(self) -> int:
        return sum(n for _, n in self.rules) + sum(n for _, n in self.regions)


@dataclass(frozen=True)
class Patch:
    kind: str  # PREPARE or FLAG_DAY (the atomic cut is one FLAG_DAY patch)
    group: str  # the folder a preparation patch covers ("arch/arm64"); "" for the flag day
    files: tuple[FileDiff, ...]

    @property
    def paths(self) -> tuple[str, ...]:
        return tuple(f.path for f in self.files)

    @property
    def sites(self) -> int:
        return sum(f.sites for f in self.files)

    @property
    def rules(self) -> tuple[str, ...]:
        return _unique(r for f in self.files for r, _ in f.rules)

    @property
    def regions(self) -> tuple[str, ...]:
        return _unique(r for f in self.files for r, _ in f.regions)

    def sites_of(self, rule_id: str) -> dict[str, int]:
        """The files one rule (or region rule) rewrites here, with their sites."""
        return {f.path: n for f in self.files for r, n in f.rules + f.regions if r == rule_id}

    @property
    def arch(self) -> str | None:
        parts = self.group.split("/")
        return parts[1] if len(parts) == 2 and parts[0] == "arch" else None


def _unique(items) -> tuple[str, ...]:
    seen: list[str] = []
    for i in items:
        if i not in seen:
            seen.append(i)
    return tuple(seen)


def group_of(path: str) -> str:
    """The unit a preparation patch covers: arch/NAME, or the file's folder."""
    parts = path.split("/")
    if parts[0] == "arch" and len(parts) > 2:
        return "/".join(parts[:2])
    return "/".join(parts[:-1]) or "."


def _site_stages(plan: RewritePlan, change: FileChange, stages: dict[str, str]) -> Counter:
    """Per (stage, rule id or region rule id): how many of the file's sites it rewrites."""
    left = {(f.occurrence.path, f.occurrence.name_start) for f in plan.left()}
    owned = [(s, e, r.rule.id) for r in plan.regions if r.rule.file == change.path
             and r.status is RegionStatus.APPLIED for s, e in r.owned]
    counts: Counter = Counter()
    for f in plan.scan.findings:
        o = f.occurrence
        if o.path != change.path or not o.is_site or (o.path, o.name_start) in left:
            continue
        recipe = next((rid for s, e, rid in owned if s <= o.name_start < e), None)
        if recipe is not None:
            counts[(FLAG_DAY, recipe)] += 1
            continue
        match = next((m for m in change.rewritten if m.start <= o.name_start < m.end), None)
        rule = match.rule_id if match is not None else f.rule_id
        counts[(stages.get(rule, FLAG_DAY), rule)] += 1
    return counts


def split_plan(plan: RewritePlan, rules: Sequence[Rule] | RuleBook, split: str = "arch") -> tuple[Patch, ...]:
    """The patches of the series, in order; every file ends at its plan bytes."""
    if split not in SPLITS:
        raise MigratorError(f"--split {split!r}: expected one of {', '.join(SPLITS)}")
    book = as_book(rules)
    stages = {r.id: r.stage for r in book.all_rules()}
    prepare: dict[str, list[FileDiff]] = {}
    flag_day: list[FileDiff] = []
    for change in plan.changes:
        counts = _site_stages(plan, change, stages)
        staged = change.old if split == "atomic" else staged_bytes(change, book, PREPARE)
        if staged != change.old:
            rule_ids = _unique(m.rule_id for m in change.rewritten if stages.get(m.rule_id) == PREPARE)
            prepare.setdefault(group_of(change.path), []).append(FileDiff(
                change.path, change.old, staged, _with_sites(rule_ids, counts, PREPARE), ()))
        if staged != change.new:
            stage = None if split == "atomic" else FLAG_DAY
            rule_ids = _unique(m.rule_id for m in change.rewritten
                               if stage is None or stages.get(m.rule_id, FLAG_DAY) == stage)
            flag_day.append(FileDiff(change.path, staged, change.new,
                                     _with_sites(rule_ids, counts, stage),
                                     _with_sites(change.regions, counts, FLAG_DAY)))
    patches = [Patch(PREPARE, group, tuple(files)) for group, files in sorted(prepare.items())]
    if flag_day:
        patches.append(Patch(FLAG_DAY, "", tuple(flag_day)))
    return tuple(patches)


def _with_sites(ids: Sequence[str], counts: Counter, stage: str | None) -> tuple[tuple[str, int], ...]:
    return tuple((i, sum(c for (s, r), c in counts.items() if r == i and stage in (None, s)))
                 for i in ids)
