"""Questions about where a node sits: its guards, its function, its receiver's type.

The plain syntax helpers (walking, names) are parse.syntax's, re-exported here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tree_sitter import Node

from ..parse.source import parent
from ..parse.syntax import declarator_name, descendants, function_declarator, function_name, text

_CONDITIONALS = ("preproc_if", "preproc_elif", "preproc_ifdef", "preproc_elifdef")


def ancestors(node: Node):
    node = parent(node)
    while node is not None:
        yield node
        node = parent(node)


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


# What a pointer may point at for `p += n` to move it n bytes (GNU C steps void * by bytes).
_BYTE_TYPE_RE = re.compile(rb"^(?:void|(?:unsigned |signed )?char|(?:__)?[us]8|u?int8_t)$")


@dataclass(frozen=True)
class Declaration:
    type: bytes  # the type specifier, e.g. b"const struct module"
    is_pointer: bool
    pointers: int = 0  # how many levels of pointer (or array)
    local: bool = False  # declared in the function (a parameter or a local), not at file scope

    @property
    def is_integer(self) -> bool:
        return bool(_INTEGER_TYPE_RE.match(self._bare_type))

    @property
    def steps_in_bytes(self) -> bool:
        """Whether adding n to it adds n bytes: an integer, or a pointer to bytes or void."""
        if self.pointers == 0:
            return self.is_integer
        return self.pointers == 1 and bool(_BYTE_TYPE_RE.match(self._bare_type))

    @property
    def _bare_type(self) -> bytes:
        return b" ".join(self.type.replace(b"const", b"").replace(b"volatile", b"").split())


def _pointers(declarator: Node) -> int:
    n = 0
    while declarator is not None:
        if declarator.type in ("pointer_declarator", "abstract_pointer_declarator", "array_declarator"):
            n += 1
        declarator = declarator.child_by_field_name("declarator")
    return n


def _declared_in(scope: Node, name: str, before: int, local: bool = False) -> Declaration | None:
    """The declaration of `name` directly in scope, before offset."""
    for child in scope.named_children:
        if child.start_byte >= before:
            break
        if child.type not in ("declaration", "parameter_declaration"):
            continue
        for decl in child.children_by_field_name("declarator"):
            if declarator_name(decl) == name:
                target = decl.child_by_field_name("declarator") if decl.type == "init_declarator" else decl
                pointers = _pointers(target)
                return Declaration(child.child_by_field_name("type").text, pointers > 0, pointers, local)
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
            found = _declared_in(a, name, at, local=a.type == "compound_statement")
        elif a.type == "function_definition":
            decl = function_declarator(a)
            params = decl.child_by_field_name("parameters") if decl is not None else None
            found = _declared_in(params, name, at, local=True) if params is not None else None
        else:
            continue
        if found is not None:
            return found
    return None


def _lvalue_name(node: Node) -> str | None:
    """The variable an lvalue writes into: `x` of x, x.f, x->f, x[i], *x, (x)."""
    while node is not None and node.type != "identifier":
        if node.type in ("field_expression", "subscript_expression"):
            node = node.child_by_field_name("argument")
        elif node.type == "pointer_expression":
            node = node.child_by_field_name("argument")
        elif node.type == "parenthesized_expression":
            node = node.named_children[0] if node.named_children else None
        else:
            return None
    return text(node) if node is not None else None


def _written(statement: Node) -> set[str] | None:
    """The variables a statement may write (assigned, stepped, or their address
    taken), or None when control may enter the block in the middle of it (a label)."""
    written: set[str] = set()
    for n in descendants(statement):
        if n.type in ("labeled_statement", "case_statement"):
            return None
        if n.type == "assignment_expression":
            target = n.child_by_field_name("left")
        elif n.type == "update_expression":
            target = n.child_by_field_name("argument")
        elif n.type == "pointer_expression" and n.children and n.children[0].type == "&":
            target = n.child_by_field_name("argument")
        else:
            continue
        name = _lvalue_name(target)
        written.add(name if name is not None else "")
    return written


def _assigned_value(statement: Node, name: str) -> Node | None:
    """The value `name = VALUE;` or a declaration `T name = VALUE;` gives it, or None."""
    if statement.type == "expression_statement" and statement.named_children:
        e = statement.named_children[0]
        left = e.child_by_field_name("left") if e.type == "assignment_expression" else None
        if left is not None and left.type == "identifier" and text(left) == name \
                and e.child_by_field_name("operator").type == "=":
            return e.child_by_field_name("right")
    if statement.type == "declaration":
        for d in statement.children_by_field_name("declarator"):
            if d.type == "init_declarator" and declarator_name(d) == name:
                return d.child_by_field_name("value")
    return None


def held_value(variable: Node, statement: Node) -> Node | None:
    """The value a local variable holds when `statement` starts, where the code says so plainly.

    That is the value of the last `variable = VALUE;` (or its initialised
    declaration) before the statement in the same block, when nothing in
    between writes the variable or anything VALUE reads, takes an address, or
    is a label another path could jump to.  Otherwise None: the value is not
    known here.
    """
    block = statement.parent
    if block is None or block.type != "compound_statement" or variable.type != "identifier":
        return None
    decl = declaration_of(variable)
    if decl is None or not decl.local:
        return None  # a global may change under any call
    written: set[str] = set()
    sibling = statement.prev_named_sibling
    while sibling is not None:
        value = _assigned_value(sibling, text(variable))
        if value is not None:
            reads = {text(n) for n in descendants(value) if n.type == "identifier"}
            return value if not (reads & written) else None
        more = _written(sibling)
        if more is None or text(variable) in more or "" in more:
            return None
        written |= more
        sibling = sibling.prev_named_sibling
    return None


def is_type(type_text: bytes, wanted: str) -> bool:
    """Whether a declared type is `wanted` (e.g. "struct foo"), qualifiers aside."""
    return type_text.replace(b"const", b"").split() == wanted.encode().split()


__all__ = ["ancestors", "declaration_of", "declared_type", "declarator_name", "descendants", "enclosing",
           "function_name", "held_value", "is_type", "is_version_guarded", "Declaration"]
