"""Names a rewrite introduces must exist in the API of the tree it targets.

A rewritten line may use a field, a memory type or a helper that the
original file did not.  Each such name must be declared by the tree's
include/linux/module.h (see :mod:`api`): a field of ``struct
module`` or ``struct module_memory``, an enumerator of ``enum mod_mem_type``,
a function or macro of the header (for calls, checked for the names of the
module_memory family: ``within_module*``, ``*mod_mem*``).  That catches ``mod.mod_mem[...]`` and
``mem[MOD_TEXTT]`` before a compiler does, and on architectures no compiler
here builds.
"""

from __future__ import annotations

import difflib

from tree_sitter import Node

from migrator.parse.syntax import descendants, function_name, text as node_text
from migrator.verify.findings import SourceViolation
from migrator.parse import parse_c
from migrator.verify.header import declared_field_names
from .api import Api


def changed_rows(old: bytes, new: bytes) -> list[tuple[int, int]]:
    """Row ranges ``[lo, hi)`` of ``new`` that differ from ``old``."""
    matcher = difflib.SequenceMatcher(None, old.split(b"\n"), new.split(b"\n"), autojunk=False)
    return [(j1, j2) for tag, _i1, _i2, j1, j2 in matcher.get_opcodes() if tag != "equal"]


def _names(root: Node, data: bytes) -> tuple[set[str], set[str], set[str]]:
    """Field names, identifiers and defined function names of a file."""
    fields, idents, functions = set(), set(), set()
    for n in descendants(root):
        if n.type == "field_identifier":
            fields.add(node_text(n, data))
        elif n.type == "identifier":
            idents.add(node_text(n, data))
        elif n.type == "function_definition":
            name = function_name(n, data)
            if name:
                functions.add(name)
    return fields, idents, functions


def declared_fields(data: bytes) -> set[str]:
    """Names of the struct fields a file declares."""
    return declared_field_names(parse_c(data).root_node, data)


def api_shaped(name: str) -> bool:
    """A helper name of the module_memory family (other new calls are the compiler's business)."""
    return "mod_mem" in name or name.startswith("within_module") or "module_memory" in name


def check_names(path: str, old: bytes, new: bytes, api: Api,
                declared: frozenset[str] = frozenset()) -> list[SourceViolation]:
    """Names on the changed lines of ``new`` that neither ``old`` nor the API declares.

    ``declared`` holds fields that other rewritten files declare (a loader
    struct of kernel/module/internal.h, say).
    """
    rows = changed_rows(old, new)
    if not rows:
        return []
    old_fields, old_idents, _ = _names(parse_c(old).root_node, old)
    new_root = parse_c(new).root_node
    _, _, new_functions = _names(new_root, new)
    fields_ok = old_fields | api.module_fields | api.memory_fields | declared_fields(new) | declared
    enum = set(api.enumerators)
    out: list[SourceViolation] = []
    seen: set[tuple[int, int]] = set()

    def report(node: Node, message: str) -> None:
        at = (node.start_point[0], node.start_point[1])
        if at not in seen:
            seen.add(at)
            out.append(SourceViolation(path, at[0] + 1, at[1] + 1, "api-name", message))

    stack = [new_root]
    while stack:
        n = stack.pop()
        if not any(lo <= n.start_point[0] < hi or n.start_point[0] < lo <= n.end_point[0]
                   for lo, hi in rows):
            continue
        stack.extend(n.children)
        if not any(lo <= n.start_point[0] < hi for lo, hi in rows):
            continue
        if n.type == "comment":
            stack = [c for c in stack if c.parent != n]
            continue
        if n.type == "field_identifier" and n.parent.type == "field_expression":
            name = node_text(n, new)
            if name not in fields_ok:
                report(n, f"`{name}` is a field of neither struct module nor struct "
                          f"module_memory in {api.path}")
        elif n.type == "subscript_expression":
            array = n.child_by_field_name("argument")
            index = n.child_by_field_name("index")
            if array.type == "field_expression" and \
                    node_text(array.child_by_field_name("field"), new) == "mem" and \
                    index is not None and index.type == "identifier":
                name = node_text(index, new)
                if name.isupper() and name not in enum:
                    report(index, f"`{name}` is not an enumerator of enum mod_mem_type in "
                                  f"{api.path} ({', '.join(api.memory_types)})")
        elif n.type == "identifier":
            name = node_text(n, new)
            parent = n.parent
            if parent.type == "call_expression" and parent.child_by_field_name("function") == n:
                if api_shaped(name) and name not in old_idents and \
                        name not in api.callables and name not in new_functions:
                    report(n, f"`{name}()` is defined neither in {api.path} nor in the file")
            elif name.startswith("MOD_") and name.isupper() and name not in old_idents \
                    and name not in enum and name not in api.callables:
                report(n, f"`{name}` is not an enumerator of enum mod_mem_type in {api.path} "
                          f"({', '.join(api.memory_types)})")
    return sorted(out, key=lambda v: (v.line, v.col))
