"""When each memory type gets which permissions, as the loader sets them.

The loader of 6.1 and of v6.4 works in the same order:

1. ``module_frob_arch_sections()`` may grow sizes; nothing is allocated yet.
2. The memory is allocated writable, the sections are copied in, and the
   relocations are applied (``apply_relocate_add()``, then
   ``module_finalize()``).  Every type is writable in this phase: text too.
3. ``complete_formation()`` makes text read-only and executable, rodata
   read-only, and data (and ro_after_init, still) writable and not
   executable (``module_enable_ro()``/``module_enable_nx()``, under
   CONFIG_STRICT_MODULE_RWX).  The module's init function runs.
4. After init, ro_after_init becomes read-only and the init types are freed.

Without CONFIG_STRICT_MODULE_RWX nothing is made read-only or
non-executable: every live type stays ``rwx``.
"""

from __future__ import annotations

from migrator.verify.kconfig import KernelConfig
from .table import MEMORY_TYPES

PHASES = ("relocation", "running", "after-init")

_STRICT = {
    "text": ("rw", "rx", "rx"),
    "rodata": ("rw", "r", "r"),
    "ro_after_init": ("rw", "rw", "r"),
    "data": ("rw", "rw", "rw"),
}

# What reserved entries of each kind need, by phase.
NEEDS = {
    "GOT": {"relocation": "w", "running": "r", "after-init": "r"},
    "PLT": {"relocation": "w", "running": "x", "after-init": "x"},
    "function descriptors": {"relocation": "w", "running": "r", "after-init": "r"},
    "stubs": {"relocation": "w", "running": "x", "after-init": "x"},
}


def permissions(mem_type: str, phase: str, config: KernelConfig) -> str:
    """The permissions of ``mem_type`` in ``phase``: letters of ``rwx``, "" once freed."""
    perm, init = MEMORY_TYPES[mem_type]
    if init and phase == "after-init":
        return ""
    if not config.strict_module_rwx:
        return "rwx"
    return _STRICT[perm][PHASES.index(phase)]


def entry_kind(variable: str) -> str | None:
    """The kind of entries an arch offset variable locates, read from its name."""
    name = variable.lower()
    if "plt" in name:
        return "PLT"
    if "got" in name:
        return "GOT"
    if "fdesc" in name or "opd" in name:
        return "function descriptors"
    if "stub" in name or "tramp" in name:
        return "stubs"
    return None


def missing(kind: str, mem_type: str, config: KernelConfig) -> list[tuple[str, str]]:
    """``(phase, permission)`` that entries of ``kind`` in ``mem_type`` need and lack."""
    out = []
    for phase, need in NEEDS[kind].items():
        have = permissions(mem_type, phase, config)
        for letter in need:
            if letter not in have:
                out.append((phase, letter))
    return out
