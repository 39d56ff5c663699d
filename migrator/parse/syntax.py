"""One set of questions about tree-sitter C nodes: walking, text, casts, lines, names.

Every stage asks these; they live once, here.  Text is decoded losslessly
(`surrogateescape`): a kernel file's stray Latin-1 byte survives a round
trip through str, and ASCII, which is all that names and operators are,
reads the same in every decoding.
"""

from __future__ import annotations

from typing import Callable, Iterator

from tree_sitter import Node

_WRAPPERS = ("cast_expression", "parenthesized_expression")


def descendants(node: Node, into: Callable[[Node], bool] | None = None) -> Iterator[Node]:
    """node and every node below it, in source order.

    `into(n)` false: n is yielded, the nodes below it are not.
    """
    stack = [node]
    while stack:
        n = stack.pop()
        yield n
        if into is None or into(n):
            stack.extend(reversed(n.children))


def text(node: Node | None, data: bytes | None = None) -> str:
    """A node's source text ("" for no node); `data` is the parsed bytes, when the tree has none."""
    if node is None:
        return ""
    raw = node.text if data is None else data[node.start_byte:node.end_byte]
    return raw.decode("utf-8", "surrogateescape")


def strip_casts(node: Node) -> Node:
    """The expression inside any casts and parentheses around it: `(u64)(x)` -> `x`."""
    while node.type in _WRAPPERS:
        if node.type == "cast_expression":
            inner = node.child_by_field_name("value")
        else:
            inner = next((c for c in node.named_children if c.type != "comment"), None)
        if inner is None:
            break
        node = inner
    return node


def line_span(node: Node) -> range:
    """The 0-based rows a node covers."""
    return range(node.start_point[0], node.end_point[0] + 1)


def declarator_name(declarator: Node | None) -> str | None:
    """The identifier a (possibly pointer, array, init or function) declarator declares."""
    while declarator is not None:
        if declarator.type in ("identifier", "field_identifier", "type_identifier"):
            return text(declarator)
        declarator = declarator.child_by_field_name("declarator")
    return None


def function_declarator(node: Node) -> Node | None:
    """The function_declarator of a definition or declaration (under its pointer
    declarators), holding its name and parameters; None if it declares no function."""
    d = node.child_by_field_name("declarator")
    while d is not None and d.type != "function_declarator":
        d = d.child_by_field_name("declarator")
    return d


def function_name(node: Node, data: bytes | None = None) -> str | None:
    """The name of the function a definition or declaration declares; None if it declares none."""
    d = function_declarator(node)
    if d is None:
        return None
    name = d.child_by_field_name("declarator")
    return text(name, data) if name is not None and name.type == "identifier" else None
