"""What kind of code a run migrates, and how its rewrites are emitted.

A kernel source tree moves to the new API in place: the tree is the kernel.
Code outside the kernel (a module, a tracer's runtime, a DKMS package) must
keep building on the kernels its users run, before and after the change, so
each rewrite is emitted behind a guard that picks the new code on kernels
with the change (the pack's landed_in, or its probe) and keeps the old code
byte for byte on older kernels.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from enum import Enum

from .errors import MigratorError
from .migration import DEFAULT_MIGRATION, Migration, load_migration


class Mode(Enum):
    KERNEL = "kernel"
    OUT_OF_TREE = "out-of-tree"


def guards(migration: Migration) -> dict[str, str]:
    """--guard's named choices for a pack: version (from landed_in), probe
    (the vocabulary's, where the pack has one) and both (the two, or the
    version alone)."""
    a, b, c = migration.landed_version
    version = f"LINUX_VERSION_CODE >= KERNEL_VERSION({a}, {b}, {c})"
    probe = migration.vocabulary.new.probe
    if probe is None:
        return {"version": version, "both": version}
    return {"version": version, "probe": probe, "both": f"{version} || {probe}"}


GUARDS = guards(load_migration(DEFAULT_MIGRATION))
DEFAULT_GUARD = GUARDS["both"]


@dataclass(frozen=True)
class Profile:
    mode: Mode = Mode.KERNEL
    guard: str = DEFAULT_GUARD  # the #if expression that is true on kernels with the new API

    @property
    def out_of_tree(self) -> bool:
        return self.mode is Mode.OUT_OF_TREE

    @property
    def guard_needs_version_h(self) -> bool:
        return "LINUX_VERSION_CODE" in self.guard or "KERNEL_VERSION" in self.guard


KERNEL = Profile()
OUT_OF_TREE = Profile(Mode.OUT_OF_TREE)

_VERSION_LINE_RE = re.compile(rb"^\s*(VERSION|PATCHLEVEL)\s*=", re.M)


def kernel_tree_reason(root: str, migration: Migration | None = None) -> str | None:
    """None for a kernel source tree; otherwise what it lacks.

    A kernel source tree has a top Makefile setting VERSION and PATCHLEVEL,
    and the header that defines the migration's API.
    """
    api_header = (migration or load_migration(DEFAULT_MIGRATION)).vocabulary.new.api_header
    try:
        with open(os.path.join(root, "Makefile"), "rb") as f:
            head = f.read(4096)
    except OSError:
        return "no top Makefile"
    if len({m.group(1) for m in _VERSION_LINE_RE.finditer(head)}) < 2:
        return "its Makefile sets no VERSION and PATCHLEVEL"
    if api_header and not os.path.isfile(os.path.join(root, api_header)):
        return f"no {api_header}"
    return None


def detect_mode(root: str, migration: Migration | None = None) -> tuple[Mode, str]:
    """The mode a tree calls for, and why."""
    reason = kernel_tree_reason(root, migration)
    if reason is None:
        return Mode.KERNEL, "a kernel source tree"
    return Mode.OUT_OF_TREE, f"not a kernel source tree: {reason}"


def profile_for(root: str, migration: Migration | None = None, mode: str | None = None,
                guard: str = "both") -> tuple[Profile, str]:
    """The profile of a run on the tree at root (`mode` None: detected), and why that mode.

    A mode the pack does not support is a MigratorError.
    """
    detected, why = detect_mode(root, migration)
    chosen = Mode(mode) if mode else detected
    why = "chosen with --mode" if mode else why
    if migration is not None and chosen.value not in migration.modes:
        raise MigratorError(f"{root}: {chosen.value} mode ({why}): the {migration.id} pack supports only "
                            f"{', '.join(migration.modes)} (pack.toml modes)")
    return Profile(chosen, guard_expression(guard, migration)), why


def guard_expression(choice: str, migration: Migration | None = None) -> str:
    """The #if expression of --guard: version, probe, both, or an expression of its own."""
    named = guards(migration) if migration is not None else GUARDS
    if choice in named:
        return named[choice]
    if choice == "probe":
        raise MigratorError(f"--guard probe: the {migration.id} pack knows no probe for its API; "
                            f"use version or an expression of your own")
    expr = " ".join(choice.split())
    if not expr or expr.count("(") != expr.count(")") or "\n" in choice.strip():
        raise MigratorError(f"--guard {choice!r}: not version, probe, both or a one-line #if expression")
    return expr
