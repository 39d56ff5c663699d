"""The target API as a tree defines it: read from its include/linux/module.h.

The names a rewrite may use are those the tree declares: the enumerators of
``enum mod_mem_type``, the fields of ``struct module`` and of ``struct
module_memory``, and the functions and macros the header defines.  Reading
them from the tree (not from a list in migrator) is what catches a rewrite
that spells a name the kernel it targets does not have.
"""

from __future__ import annotations

from dataclasses import dataclass

from tree_sitter import Node

from migrator.errors import MigratorError
from migrator.model.cexpr import Scope
from migrator.parse.syntax import descendants, function_name, text as node_text
from migrator.parse import parse_c
from migrator.migration import DEFAULT_MIGRATION, load_migration

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


def declared_field_names(node: Node, data: bytes) -> set[str]:
    """The struct field names declared anywhere below node (not those merely used)."""
    return {node_text(n, data) for n in descendants(node)
            if n.type == "field_identifier" and n.parent is not None and n.parent.type != "field_expression"}


def _definition(root: Node, data: bytes, kind: str, name: str) -> Node | None:
    """The body of the first `kind` (struct_specifier, enum_specifier) named `name` that has one."""
    return next((n.child_by_field_name("body") for n in descendants(root)
                 if n.type == kind and n.child_by_field_name("body") is not None
                 and node_text(n.child_by_field_name("name"), data) == name), None)


def _struct_fields(root: Node, data: bytes, name: str) -> frozenset[str] | None:
    body = _definition(root, data, "struct_specifier", name)
    return None if body is None else frozenset(declared_field_names(body, data))


def _enumerators(root: Node, data: bytes, name: str) -> tuple[str, ...] | None:
    body = _definition(root, data, "enum_specifier", name)
    if body is None:
        return None
    return tuple(node_text(e.child_by_field_name("name"), data) for e in body.named_children
                 if e.type == "enumerator")


# Definitions and declarations name their callable; nothing inside them does.
_CALLABLE_DEFINITIONS = ("function_definition", "declaration", "preproc_function_def", "preproc_def")


def _callables(root: Node, data: bytes) -> frozenset[str]:
    out = set()
    for node in descendants(root, into=lambda n: n.type not in _CALLABLE_DEFINITIONS):
        if node.type == "function_definition":
            name = function_name(node, data)
            if name:
                out.add(name)
            continue
        if node.type == "declaration":
            d = node.child_by_field_name("declarator")
            while d is not None and d.type in ("pointer_declarator", "function_declarator"):
                if d.type == "function_declarator":
                    name = d.child_by_field_name("declarator")
                    if name is not None and name.type == "identifier":
                        out.add(node_text(name, data))
                    break
                d = d.child_by_field_name("declarator")
            continue
        if node.type in ("preproc_function_def", "preproc_def"):
            out.add(node_text(node.child_by_field_name("name"), data))
    return frozenset(out)


def read_api(data: bytes, path: str = API_HEADER) -> Api:
    """The vocabulary of a rewritten module.h; MigratorError if it has no module_memory API."""
    tree = parse_c(data)
    root = tree.root_node
    enumerators = _enumerators(root, data, "mod_mem_type")
    if not enumerators:
        raise MigratorError(f"{path}: no enum mod_mem_type: not a tree with the module_memory API")
    memory = _struct_fields(root, data, "module_memory")
    if memory is None:
        raise MigratorError(f"{path}: no struct module_memory")
    module = _struct_fields(root, data, "module")
    if module is None:
        raise MigratorError(f"{path}: no struct module")
    scope = Scope()
    scope.add_source(data, tree)
    return Api(path, enumerators, module, memory, _callables(root, data), scope)


def header_scope(data: bytes | None) -> Scope:
    """The functions, macros and constants of a header (an empty scope for None)."""
    scope = Scope()
    if data is not None:
        scope.add_source(data)
    return scope
