"""What kind of code a run migrates, and how its rewrites are emitted.

A kernel source tree moves to the new API in place: the tree is the kernel.
Code outside the kernel (a module, a tracer's runtime, a DKMS package) must
keep building on the kernels its users run, before and after the change, so
each rewrite is emitted behind a guard that picks the new code on 6.4+ and
keeps the old code byte for byte on older kernels.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from enum import Enum

from .errors import MigratorError
from .target import API_HEADER


class Mode(Enum):
    KERNEL = "kernel"
    OUT_OF_TREE = "out-of-tree"


VERSION_GUARD = "LINUX_VERSION_CODE >= KERNEL_VERSION(6, 4, 0)"
# mod_mem_type_is_init() is a macro of 6.4's module.h: it also catches vendor
# kernels with the change backported, and a tree this tool rewrote.
PROBE_GUARD = "defined(mod_mem_type_is_init)"
GUARDS = {
    "version": VERSION_GUARD,
    "probe": PROBE_GUARD,
    "both": f"{VERSION_GUARD} || {PROBE_GUARD}",
}
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


def kernel_tree_reason(root: str) -> str | None:
    """None for a kernel source tree; otherwise what it lacks.

    A kernel source tree has a top Makefile setting VERSION and PATCHLEVEL,
    and include/linux/module.h.
    """
    try:
        with open(os.path.join(root, "Makefile"), "rb") as f:
            head = f.read(4096)
    except OSError:
        return "no top Makefile"
    if len({m.group(1) for m in _VERSION_LINE_RE.finditer(head)}) < 2:
        return "its Makefile sets no VERSION and PATCHLEVEL"
    if not os.path.isfile(os.path.join(root, API_HEADER)):
        return f"no {API_HEADER}"
    return None


def detect_mode(root: str) -> tuple[Mode, str]:
    """The mode a tree calls for, and why."""
    reason = kernel_tree_reason(root)
    if reason is None:
        return Mode.KERNEL, "a kernel source tree"
    return Mode.OUT_OF_TREE, f"not a kernel source tree: {reason}"


def guard_expression(choice: str) -> str:
    """The #if expression of --guard: version, probe, both, or an expression of its own."""
    if choice in GUARDS:
        return GUARDS[choice]
    expr = " ".join(choice.split())
    if not expr or expr.count("(") != expr.count(")") or "\n" in choice.strip():
        raise MigratorError(f"--guard {choice!r}: not version, probe, both or a one-line #if expression")
    return expr
