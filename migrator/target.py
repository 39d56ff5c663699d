"""The target API's vocabulary: the memory types of struct module_memory.

Rules and the header generator name types by their short key (TEXT,
INIT_DATA, ...); the spelling is chosen per run, because early postings of
the upstream change used MOD_MEM_TYPE_TEXT where mainline uses MOD_TEXT,
and a tree that already defines enum mod_mem_type brings its own names.
"""

from __future__ import annotations

import re
from types import MappingProxyType
from typing import Mapping

# Mainline's enum order; the order matters to for_class_mod_mem_type().
MEM_TYPES = ("TEXT", "DATA", "RODATA", "RO_AFTER_INIT", "INIT_TEXT", "INIT_DATA", "INIT_RODATA")
INIT_TYPES = ("INIT_TEXT", "INIT_DATA", "INIT_RODATA")
CORE_TYPES = ("TEXT", "DATA", "RODATA", "RO_AFTER_INIT")

PREFIXES = {"short": "MOD_", "long": "MOD_MEM_TYPE_"}

# The header that defines the target API in a kernel tree.
API_HEADER = "include/linux/module.h"

# The new API's iterator macros, used like statements (`for_each_mod_mem_type(t) {`),
# which a C parser that does not expand macros cannot read.
STATEMENT_MACROS = ("for_each_mod_mem_type", "for_class_mod_mem_type")

# The count and the "no type" value, which are not memory types themselves.
NUM = "MEM_NUM_TYPES"
INVALID = "INVALID"


def type_names(style: str = "short") -> Mapping[str, str]:
    """Key -> enum constant, e.g. TEXT -> MOD_TEXT (or MOD_MEM_TYPE_TEXT).

    Besides the seven types, NUM names the count (MOD_MEM_NUM_TYPES) and
    INVALID the marker for "no type".
    """
    prefix = PREFIXES[style]
    names = {key: prefix + key for key in MEM_TYPES}
    names["NUM"] = "MOD_" + NUM
    names["INVALID"] = prefix + INVALID
    return MappingProxyType(names)


_ENUM_RE = re.compile(rb"enum\s+mod_mem_type\s*\{(?P<body>[^}]*)\}", re.S)
_ENUMERATOR_RE = re.compile(rb"^\s*([A-Z_][A-Z0-9_]*)", re.M)


def names_defined_in(header: bytes) -> Mapping[str, str] | None:
    """The names a header's own `enum mod_mem_type` uses, or None if it has none.

    The enumerators are matched to the types by their endings: the longest
    ending wins, so MOD_INIT_TEXT is INIT_TEXT and not TEXT.
    """
    m = _ENUM_RE.search(header)
    if m is None:
        return None
    body = re.sub(rb"/\*.*?\*/", b"", m.group("body"), flags=re.S)
    enumerators = [e.decode() for e in _ENUMERATOR_RE.findall(body.replace(b",", b"\n"))]
    names: dict[str, str] = {}
    for key in sorted(MEM_TYPES + (NUM, INVALID), key=len, reverse=True):
        for e in enumerators:
            if e.endswith("_" + key) and e not in names.values():
                names[key if key in MEM_TYPES else ("NUM" if key == NUM else "INVALID")] = e
                break
    if not all(k in names for k in MEM_TYPES):
        return None
    names.setdefault("NUM", "MOD_" + NUM)
    names.setdefault("INVALID", "MOD_" + INVALID)
    return MappingProxyType(names)
