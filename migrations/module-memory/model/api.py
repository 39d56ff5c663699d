"""The target API as a tree defines it: read from its include/linux/module.h.

The names a rewrite may use are those the tree declares: the enumerators of
``enum mod_mem_type``, the fields of ``struct module`` and of ``struct
module_memory``, and the functions and macros the header defines.  Reading
them from the tree (not from a list in migrator) is what catches a rewrite
that spells a name the kernel it targets does not have.
"""

from __future__ import annotations

from dataclasses import dataclass

from migrator.errors import MigratorError
from migrator.parse import parse_c
from migrator.verify.header import declared_callables, enum_members, struct_fields
from migrator.migration import DEFAULT_MIGRATION, load_migration
from .cexpr import Scope

# The header that defines the target API (the model is still the default pack's).
API_HEADER = load_migration(DEFAULT_MIGRATION).vocabulary.new.api_header


@dataclass(frozen=True)
class Api:
    """The vocabulary of one tree's module.h."""

    path: str
    enumerators: tuple[str, ...]
    module_fields: frozenset[str]
    memory_fields: frozenset[str]
    callables: frozenset[str]
    scope: Scope

    @property
    def memory_types(self) -> tuple[str, ...]:
        """The enumerators that name memory (not the count, not the invalid marker)."""
        return tuple(e for e in self.enumerators
                     if not e.endswith("NUM_TYPES") and not e.endswith("INVALID"))


def read_api(data: bytes, path: str = API_HEADER) -> Api:
    """The vocabulary of a rewritten module.h; MigratorError if it has no module_memory API."""
    tree = parse_c(data)
    root = tree.root_node
    enumerators = enum_members(root, data, "mod_mem_type")
    if not enumerators:
        raise MigratorError(f"{path}: no enum mod_mem_type: not a tree with the module_memory API")
    memory = struct_fields(root, data, "module_memory")
    if memory is None:
        raise MigratorError(f"{path}: no struct module_memory")
    module = struct_fields(root, data, "module")
    if module is None:
        raise MigratorError(f"{path}: no struct module")
    scope = Scope()
    scope.add_source(data, tree)
    return Api(path, enumerators, module, memory, declared_callables(root, data), scope)


def header_scope(data: bytes | None) -> Scope:
    """The functions, macros and constants of a header (an empty scope for None)."""
    scope = Scope()
    if data is not None:
        scope.add_source(data)
    return scope
