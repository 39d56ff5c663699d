"""The names a C header declares: struct fields, enumerators, functions and macros.

A check that a rewrite uses only names its target kernel has reads them from
the kernel's own header (which header is the pack's: ``new.api_header``),
never from a list written by hand.
"""

from __future__ import annotations

from tree_sitter import Node

from migrator.parse.syntax import descendants, function_name, text as node_text


def declared_field_names(node: Node, data: bytes) -> set[str]:
    """The struct field names declared anywhere below node (not those merely used)."""
    return {node_text(n, data) for n in descendants(node)
            if n.type == "field_identifier" and n.parent is not None and n.parent.type != "field_expression"}


def _definition(root: Node, data: bytes, kind: str, name: str) -> Node | None:
    """The body of the first `kind` (struct_specifier, enum_specifier) named `name` that has one."""
    return next((n.child_by_field_name("body") for n in descendants(root)
                 if n.type == kind and n.child_by_field_name("body") is not None
                 and node_text(n.child_by_field_name("name"), data) == name), None)


def struct_fields(root: Node, data: bytes, name: str) -> frozenset[str] | None:
    """The fields of struct `name` (None if the header does not define it)."""
    body = _definition(root, data, "struct_specifier", name)
    return None if body is None else frozenset(declared_field_names(body, data))


def enum_members(root: Node, data: bytes, name: str) -> tuple[str, ...] | None:
    """The enumerators of enum `name`, in order (None if the header does not define it)."""
    body = _definition(root, data, "enum_specifier", name)
    if body is None:
        return None
    return tuple(node_text(e.child_by_field_name("name"), data) for e in body.named_children
                 if e.type == "enumerator")


# Definitions and declarations name their callable; nothing inside them does.
_CALLABLE_DEFINITIONS = ("function_definition", "declaration", "preproc_function_def", "preproc_def")


def declared_callables(root: Node, data: bytes) -> frozenset[str]:
    """The functions the header defines or declares, and its macros."""
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
