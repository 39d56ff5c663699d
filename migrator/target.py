"""The target API's vocabulary: the memory types of struct module_memory.

Rules and the header generator name types by their short key (TEXT,
INIT_DATA, ...); the spelling is chosen per run, because early postings of
the upstream change used MOD_MEM_TYPE_TEXT where mainline uses MOD_TEXT.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Mapping

# Mainline's enum order; the order matters to for_class_mod_mem_type().
MEM_TYPES = ("TEXT", "DATA", "RODATA", "RO_AFTER_INIT", "INIT_TEXT", "INIT_DATA", "INIT_RODATA")
INIT_TYPES = ("INIT_TEXT", "INIT_DATA", "INIT_RODATA")
CORE_TYPES = ("TEXT", "DATA", "RODATA", "RO_AFTER_INIT")

PREFIXES = {"short": "MOD_", "long": "MOD_MEM_TYPE_"}


def type_names(style: str = "short") -> Mapping[str, str]:
    """Short key -> enum constant, e.g. TEXT -> MOD_TEXT (or MOD_MEM_TYPE_TEXT)."""
    prefix = PREFIXES[style]
    return MappingProxyType({key: prefix + key for key in MEM_TYPES})
