"""What a rule's template can use: the captures, the type names, and filters."""

from __future__ import annotations

import re
from typing import Mapping

import jinja2
from tree_sitter import Node

from ..parse.syntax import strip_casts, text as node_text
from .context import declaration_of


class Capture:
    """A captured node; renders as its source text."""

    def __init__(self, node: Node):
        self.node = node

    def __str__(self) -> str:
        return node_text(self.node)

    @property
    def type(self) -> str:
        return self.node.type

    def __eq__(self, other) -> bool:
        return str(self) == str(other)

    def __hash__(self) -> int:
        return hash(str(self))




def as_address(c: Capture) -> str:
    """An expression as the `unsigned long addr` that within_module*() take.

    Casts the old code used to compare addresses are dropped; an identifier
    declared with an integer type converts by itself; a pointer, or anything
    whose type is unknown here, gets a cast.
    """
    node = strip_casts(c.node)
    text = node_text(node)
    if node.type == "identifier":
        decl = declaration_of(node)
        if decl is not None and not decl.is_pointer and decl.is_integer:
            return text
    if node.type not in ("identifier", "field_expression", "call_expression",
                         "subscript_expression", "parenthesized_expression"):
        text = f"({text})"
    return f"(unsigned long){text}"


def bare(c: Capture) -> str:
    """An expression without the casts around it."""
    return node_text(strip_casts(c.node))


def re_sub(text, pattern: str, replacement: str) -> str:
    """re.sub over a capture's text, for comments and other free text."""
    return re.sub(pattern, replacement, str(text))


def upto(outer: Capture, inner: Capture) -> str:
    """The text of `outer` that stands before `inner`: a cast prefix, kept as written."""
    o, i = outer.node, inner.node
    return o.text[: i.start_byte - o.start_byte].decode("utf-8", "surrogateescape")


FILTERS = {"address": as_address, "bare": bare, "re_sub": re_sub, "upto": upto}


def template_globals(names: Mapping[str, str]) -> dict:
    return {"T": names}


# One environment for every template: a typo in a variable name is an error, not "".
TEMPLATES = jinja2.Environment(
    undefined=jinja2.StrictUndefined, keep_trailing_newline=True, autoescape=False
)
TEMPLATES.filters.update(FILTERS)
