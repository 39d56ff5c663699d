"""Questions about where a node sits: its guards, its function, its receiver's type.

The plain syntax helpers (walking, names) are parse.syntax's, re-exported here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tree_sitter import Node

from ..parse.syntax import declarator_name, descendants, function_name, text

_CONDITIONALS = ("preproc_if", "preproc_elif", "preproc_ifdef", "preproc_elifdef")


def ancestors(node: Node):
    node = node.parent
    while node is not None:
        yield node
        node = node.parent


def is_version_guarded(node: Node) -> bool:
    """True inside either branch of an `#if ... LINUX_VERSION_CODE ...`.

    Such code already chooses between the old and the new API by kernel
    version (out-of-tree modules do this); rewriting it would break the
    older branch.
    """
    for a in ancestors(node):
        if a.type in _CONDITIONALS:
            cond = a.child_by_field_name("condition")
            if cond is not None and b"LINUX_VERSION_CODE" in cond.text:
                return True
    return False


def enclosing(node: Node, kind: str) -> Node | None:
    for a in ancestors(node):
        if a.type == kind:
            return a
    return None


# Integer types an address may be held in: C's own words and the kernel's typedefs.
_INTEGER_TYPE_RE = re.compile(
    rb"^(?:(?:unsigned|signed|long|int|short|char)(?:\s+(?:unsigned|signed|long|int|short|char))*"
    rb"|(?:__)?[us](?:8|16|32|64)|u?int(?:8|16|32|64|ptr)_t|size_t|ulong"
    rb"|Elf(?:32|64)?_(?:Addr|Off|Word|Xword|Sxword|Half))$"
)


@dataclass(frozen=True)
class Declaration:
    type: bytes  # the type specifier, e.g. b"const struct module"
    is_pointer: bool

    @property
    def is_integer(self) -> bool:
        return bool(_INTEGER_TYPE_RE.match(b" ".join(self.type.replace(b"const", b"").split())))


def _is_pointer(declarator: Node) -> bool:
    while declarator is not None:
        if declarator.type in ("pointer_declarator", "abstract_pointer_declarator", "array_declarator"):
            return True
        declarator = declarator.child_by_field_name("declarator")
    return False


def _declared_in(scope: Node, name: str, before: int) -> Declaration | None:
    """The declaration of `name` directly in scope, before offset."""
    for child in scope.named_children:
        if child.start_byte >= before:
            break
        if child.type not in ("declaration", "parameter_declaration"):
            continue
        for decl in child.children_by_field_name("declarator"):
            if declarator_name(decl) == name:
                target = decl.child_by_field_name("declarator") if decl.type == "init_declarator" else decl
                return Declaration(child.child_by_field_name("type").text, _is_pointer(target))
    return None


def declared_type(identifier: Node) -> bytes | None:
    """The declared type of an identifier, or None where it is not known here."""
    decl = declaration_of(identifier)
    return decl.type if decl is not None else None


def declaration_of(identifier: Node) -> Declaration | None:
    """The declaration of an identifier, looked up through the enclosing scopes.

    Only plain declarations are understood; None means unknown (a macro such
    as THIS_MODULE, a global from another file), which callers must treat as
    "could be anything".
    """
    name, at = text(identifier), identifier.start_byte
    for a in ancestors(identifier):
        if a.type == "compound_statement" or a.type == "translation_unit":
            found = _declared_in(a, name, at)
        elif a.type == "function_definition":
            decl = a.child_by_field_name("declarator")
            while decl is not None and decl.type != "function_declarator":
                decl = decl.child_by_field_name("declarator")
            params = decl.child_by_field_name("parameters") if decl is not None else None
            found = _declared_in(params, name, at) if params is not None else None
        else:
            continue
        if found is not None:
            return found
    return None


def is_type(type_text: bytes, wanted: str) -> bool:
    """Whether a declared type is `wanted` (e.g. "struct foo"), qualifiers aside."""
    return type_text.replace(b"const", b"").split() == wanted.encode().split()


__all__ = ["ancestors", "declaration_of", "declared_type", "declarator_name", "descendants", "enclosing",
           "function_name", "is_type", "is_version_guarded", "Declaration"]
