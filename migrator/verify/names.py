"""Names a rewrite introduces must exist in the API of the tree it targets.

The names a rewrite may use are those the tree's API header declares (which
header, and which of its structs and enum, are the migration's:
:class:`migrator.vocabulary.NewApi`).  Reading them from the tree, not from
a list written by hand, is what catches a rewrite that spells a name the
kernel it targets does not have.

A rewritten line may use a field, a type constant or a helper that the
original file did not.  Each such name must be declared by the header: a
field of one of the API's structs, an enumerator of its enum (for an index
of the indexed member, and for a new upper-case name with the API's
prefix), a function or macro of the header (for calls of the API's helpers).
That catches a misspelt member or type before a compiler does, and on
architectures no compiler here builds.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from tree_sitter import Node

from migrator.errors import MigratorError
from migrator.parse import parse_c
from migrator.parse.syntax import descendants, function_name, text as node_text
from migrator.vocabulary import NewApi

from .findings import SourceViolation
from .header import declared_callables, declared_field_names, enum_members, struct_fields

API_NAME = "api-name"  # the invariant a name the API lacks breaks


@dataclass(frozen=True)
class Api:
    """The new API as one tree's header declares it."""

    path: str
    new: NewApi  # what the migration says the API is
    enumerators: tuple[str, ...]  # of new.enum, in order
    fields: frozenset[str]  # of every struct of new.field_structs
    callables: frozenset[str]  # functions and macros of the header

    @property
    def types(self) -> tuple[str, ...]:
        """The enumerators that name a type (not the count, not the invalid marker)."""
        return tuple(e for e in self.enumerators if self.new.is_type(e))


def read_api(data: bytes, new: NewApi, path: str | None = None) -> Api:
    """The API a tree's header (``data``) declares; MigratorError if it lacks the enum or a struct."""
    path = path or new.api_header or "the API header"
    root = parse_c(data).root_node
    enumerators = enum_members(root, data, new.enum) if new.enum is not None else ()
    if new.enum is not None and not enumerators:
        raise MigratorError(f"{path}: no enum {new.enum}: not a tree with the "
                            f"{new.struct or new.enum} API")
    fields: set[str] = set()
    for name in new.field_structs:
        found = struct_fields(root, data, name)
        if found is None:
            raise MigratorError(f"{path}: no struct {name}")
        fields |= found
    return Api(path, new, enumerators or (), frozenset(fields), declared_callables(root, data))


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


def _no_field_of(structs: tuple[str, ...]) -> str:
    """"is a field of neither struct a nor struct b" (or "is not a field of struct a")."""
    spelt = [f"struct {n}" for n in structs]
    return f"is a field of neither {' nor '.join(spelt)}" if len(spelt) > 1 else \
        f"is not a field of {''.join(spelt)}"


def check_names(path: str, old: bytes, new: bytes, api: Api,
                declared: frozenset[str] = frozenset()) -> list[SourceViolation]:
    """Names on the changed lines of ``new`` that neither ``old`` nor the API declares.

    ``declared`` holds fields that other rewritten files declare (a struct of
    a subsystem's internal header, say).
    """
    rows = changed_rows(old, new)
    if not rows:
        return []
    old_fields, old_idents, _ = _names(parse_c(old).root_node, old)
    new_root = parse_c(new).root_node
    _, _, new_functions = _names(new_root, new)
    fields_ok = old_fields | api.fields | declared_fields(new) | declared
    enum = set(api.enumerators)
    rules = api.new
    not_an_enumerator = f"is not an enumerator of enum {rules.enum} in {api.path} ({', '.join(api.types)})"
    out: list[SourceViolation] = []
    seen: set[tuple[int, int]] = set()

    def report(node: Node, message: str) -> None:
        at = (node.start_point[0], node.start_point[1])
        if at not in seen:
            seen.add(at)
            out.append(SourceViolation(path, at[0] + 1, at[1] + 1, API_NAME, message))

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
        if n.type == "field_identifier" and n.parent.type == "field_expression" and rules.field_structs:
            name = node_text(n, new)
            if name not in fields_ok:
                report(n, f"`{name}` {_no_field_of(rules.field_structs)} in {api.path}")
        elif n.type == "subscript_expression":
            array = n.child_by_field_name("argument")
            index = n.child_by_field_name("index")
            if rules.indexed_member is not None and array.type == "field_expression" and \
                    node_text(array.child_by_field_name("field"), new) == rules.indexed_member and \
                    index is not None and index.type == "identifier":
                name = node_text(index, new)
                if name.isupper() and name not in enum:
                    report(index, f"`{name}` {not_an_enumerator}")
        elif n.type == "identifier":
            name = node_text(n, new)
            parent = n.parent
            if parent.type == "call_expression" and parent.child_by_field_name("function") == n:
                if rules.is_helper(name) and name not in old_idents and \
                        name not in api.callables and name not in new_functions:
                    report(n, f"`{name}()` is defined neither in {api.path} nor in the file")
            elif rules.index_prefix is not None and name.startswith(rules.index_prefix) and \
                    name.isupper() and name not in old_idents and name not in enum and \
                    name not in api.callables:
                report(n, f"`{name}` {not_an_enumerator}")
    return sorted(out, key=lambda v: (v.line, v.col))
