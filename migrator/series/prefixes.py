"""Subject prefixes: how each subsystem names its patches.

A kernel subject begins with the prefix of the code it changes
(`arm64: module:`, `s390/module:`).  The tree's own history knows them best:
the most common prefix among the last commits to the same files.  A tree
without that history (committed in one piece) uses the table of the pack's
kernel profile (profiles/NAME/prefixes.toml), or, where it has none, the
generic fallbacks alone.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Mapping, Sequence

import git

from ..errors import MigratorError
from ..tomlfile import load_toml

if TYPE_CHECKING:
    from ..migration import Migration

# The file of a kernel profile's subject prefixes, in its folder beside its areas.
PREFIXES_FILE = "prefixes.toml"
SOURCES = ("history", "table")
# How many commits of a patch's files are asked for their subjects.
HISTORY_DEPTH = 200

# A run of "word: " tokens at the start of a subject: "arm64: module: ",
# "s390/module: ", "ARM: 9140/1: module: ".
_LEAD_RE = re.compile(r"^((?:[\w.,/+-]+: )+)")
_TRACKER_RE = re.compile(r"^\d+/\d+$")  # ARM's patch-tracker numbers


@dataclass(frozen=True)
class PrefixTable:
    paths: Mapping[str, str]
    arch: str = "{arch}: module:"
    other: str = "{dir}:"

    def lookup(self, path: str) -> str:
        best = max((p for p in self.paths if path.startswith(p)), key=len, default=None)
        if best is not None:
            return self.paths[best]
        parts = path.split("/")
        if parts[0] == "arch" and len(parts) > 2:
            return self.arch.format(arch=parts[1])
        return self.other.format(dir=parts[0] if len(parts) > 1 else "treewide")

    def prefix_for(self, paths: Sequence[str]) -> str:
        """One prefix for a patch's files: theirs, or their shared folder's."""
        found = {self.lookup(p) for p in paths}
        if len(found) == 1:
            return found.pop()
        common = os.path.commonpath(list(paths)) + "/" if paths else ""
        return self.lookup(common)


def profile_table(migration: Migration, profile: str | None = None) -> PrefixTable:
    """The prefix table of a pack's profile; a profile without one gives the fallbacks alone."""
    path = migration.profile_file(PREFIXES_FILE, profile)
    return load_table(path) if path is not None else PrefixTable({})


def load_table(path: str | os.PathLike) -> PrefixTable:
    data = load_toml(path)
    for key in data:
        if key not in ("prefixes", "fallback"):
            raise MigratorError(f"{path}: unknown table '{key}'")
    paths = data.get("prefixes", {})
    fallback = data.get("fallback", {})
    for key, value in list(paths.items()) + list(fallback.items()):
        if not isinstance(value, str) or not value.rstrip().endswith(":"):
            raise MigratorError(f"{path}: '{key}' must be a prefix ending in ':'")
    unknown = set(fallback) - {"arch", "other"}
    if unknown:
        raise MigratorError(f"{path}: fallback: unknown field '{sorted(unknown)[0]}'")
    return PrefixTable(dict(paths), fallback.get("arch", PrefixTable.arch),
                       fallback.get("other", PrefixTable.other))


def subject_lead(subject: str) -> str | None:
    """The prefix a subject begins with ('arm64: module:'), or None."""
    if subject.startswith(("Revert ", "Merge ")):
        return None
    m = _LEAD_RE.match(subject)
    if m is None:
        return None
    tokens = [t.strip() for t in m.group(1).split(":")]
    tokens = [t for t in tokens if t and not _TRACKER_RE.match(t)]
    return ": ".join(tokens) + ":" if tokens else None


# Out-of-tree projects tag subjects with mail tags and bug numbers ("[PATCH] ",
# "PR30123: "): neither names the code a patch changes.
_TAG_RE = re.compile(r"^(?:\[[^\]]*\]\s*)+")
_BUG_ID_RE = re.compile(r"^(?:PR\s*\d+|#\d+|[A-Z][A-Z0-9]*-\d+|bug\s*\d+)$", re.I)


def project_lead(subject: str) -> str | None:
    """A project's prefix of a subject ('runtime:'), without mail tags or bug numbers."""
    lead = subject_lead(_TAG_RE.sub("", subject))
    if lead is None:
        return None
    tokens = [t.strip() for t in lead.split(":") if t.strip() and not _BUG_ID_RE.match(t.strip())]
    return ": ".join(tokens) + ":" if tokens else None


def history_prefix(repo: git.Repo, rev: str, paths: Sequence[str], arch: str | None,
                   lead_of=subject_lead) -> str | None:
    """The most common prefix of the recent commits to paths (the latest wins a tie).

    For an architecture's files only prefixes naming that architecture count
    ('ARM:' for arch/arm, 's390/module:' for arch/s390), so a treewide
    commit that happened to touch them does not decide.
    """
    try:
        out = repo.git.log("--no-merges", "--format=%s", f"-n{HISTORY_DEPTH}", rev, "--", *paths)
    except git.GitCommandError as e:
        raise MigratorError(f"git log failed: {(e.stderr or str(e)).strip().splitlines()[-1]}") from None
    counts: Counter[str] = Counter()
    first: dict[str, int] = {}
    for i, subject in enumerate(out.splitlines()):
        lead = lead_of(subject)
        if lead is None:
            continue
        if arch is not None and re.split(r"[/:]", lead, maxsplit=1)[0].lower() != arch.lower():
            continue
        counts[lead] += 1
        first.setdefault(lead, i)
    if not counts:
        return None
    return min(counts, key=lambda p: (-counts[p], first[p]))


@dataclass(frozen=True)
class Prefixer:
    """Picks each preparation patch's prefix, from history or the table."""

    table: PrefixTable
    repo: git.Repo | None = None
    rev: str | None = None
    repo_prefix: str = ""  # where the kernel tree sits in the repository

    def prefix(self, paths: Sequence[str]) -> tuple[str, str]:
        """(prefix, where it came from: 'history' or 'table')."""
        if self.repo is not None:
            parts = paths[0].split("/") if paths else []
            arch = parts[1] if len(parts) > 2 and parts[0] == "arch" else None
            found = history_prefix(self.repo, self.rev or "HEAD",
                                   [self.repo_prefix + p for p in paths], arch)
            if found is not None:
                return found, "history"
        return self.table.prefix_for(paths), "table"
