"""Arithmetic over memory types that has no meaning once each type is its own allocation.

In 6.1 ``text_size``, ``ro_size`` and ``ro_after_init_size`` were cumulative
offsets into one allocation, so ``ro_size - text_size`` was the size of the
rodata and ``base + text_size`` where it began.  Since v6.4 every type has
its own base and size.  A rewrite that carries the old arithmetic over
compiles and is wrong; :func:`check_arithmetic` finds it in a rewritten file:

* ``size-from-other-type``: a type's size assigned from another type's size
  or base (``mem[MOD_RODATA].size = mem[MOD_TEXT].size``);
* ``size-difference``: the difference of two types' sizes;
* ``offset-other-type``: a type's base plus another type's size;
* ``gp-small-data``: ia64's gp computed from a type other than the one the
  placement table gives small data (``ARCH_SHF_SMALL``): the gp must lie
  within reach of the small-data sections, which the loader puts there.

Only constant types (``MOD_TEXT``...) are compared; an index held in a
variable (``mem[type]``) is some loop's business and is not judged.
"""

from __future__ import annotations

from tree_sitter import Node

from migrator.parse.syntax import descendants, strip_casts, text as node_text
from migrator.verify.findings import SourceViolation
from migrator.parse import parse_c
from .plans import _arch_variable, _memory
from .table import MEMORY_TYPES, PlacementTable


def _reads(node: Node, data: bytes, field: str) -> list[tuple[str, Node]]:
    """The constant memory types whose ``field`` (size or base) ``node`` reads anywhere."""
    def memory(n: Node) -> str | None:
        return _memory(n, data, field) if n.type == "field_expression" else None

    # A read is one node: what lies below it is not read again.
    return [(memory(n), n) for n in descendants(node, into=lambda n: memory(n) not in MEMORY_TYPES)
            if memory(n) in MEMORY_TYPES]


def small_data_type(table: PlacementTable) -> str | None:
    """The core type of the mask row that takes ARCH_SHF_SMALL sections."""
    for row, memory in zip(table.masks, table.core_types):
        if "ARCH_SHF_SMALL" in row.required:
            return memory
    return None


def check_arithmetic(path: str, data: bytes, table: PlacementTable) -> list[SourceViolation]:
    """The arithmetic invariants broken in the rewritten file ``path``."""
    root = parse_c(data).root_node
    out: list[SourceViolation] = []
    small = small_data_type(table)

    def violation(node: Node, invariant: str, message: str) -> None:
        out.append(SourceViolation(path, node.start_point[0] + 1, node.start_point[1] + 1,
                                   invariant, message))

    def visit(node: Node) -> None:
        if node.type == "assignment_expression":
            left, right = node.child_by_field_name("left"), node.child_by_field_name("right")
            target = _memory(strip_casts(left), data, "size")
            if target in MEMORY_TYPES:
                others = sorted({m for field in ("size", "base")
                                 for m, _n in _reads(right, data, field) if m != target})
                if others:
                    violation(node, "size-from-other-type",
                              f"`{' '.join(node_text(node, data).split())}` sets {target}'s size "
                              f"from {' and '.join(others)}: each type is its own allocation, "
                              f"its size only grows by what is placed in it")
        if node.type == "binary_expression":
            op = node.child_by_field_name("operator").type
            left, right = node.child_by_field_name("left"), node.child_by_field_name("right")
            if op == "-":
                before = {m for m, _n in _reads(left, data, "size")}
                after = {m for m, _n in _reads(right, data, "size")}
                if before and after and before != after:
                    violation(node, "size-difference",
                              f"`{' '.join(node_text(node, data).split())}` subtracts "
                              f"{' and '.join(sorted(after))}'s size from "
                              f"{' and '.join(sorted(before))}'s: 6.1's sizes were cumulative "
                              f"offsets, v6.4's are each the size of one allocation")
            elif op == "+" and not _inside_sum(node):
                bases = {m for m, _n in _reads(node, data, "base")}
                sizes = {m for m, _n in _reads(node, data, "size")}
                if len(bases) == 1 and sizes and sizes != bases:
                    base = next(iter(bases))
                    violation(node, "offset-other-type",
                              f"`{' '.join(node_text(node, data).split())}` offsets {base}'s base "
                              f"by {' and '.join(sorted(sizes - bases))}'s size: that offset "
                              f"points into {base} only in 6.1's single allocation")
        for child in node.children:
            visit(child)

    visit(root)
    if small is not None:
        _gp(root, data, small, violation)
    return out


def _inside_sum(node: Node) -> bool:
    parent = node.parent
    while parent is not None and parent.type in ("parenthesized_expression", "cast_expression"):
        parent = parent.parent
    return parent is not None and parent.type == "binary_expression" and \
        parent.child_by_field_name("operator").type == "+"


def _gp(root: Node, data: bytes, small: str, violation) -> None:
    """Statements computing ``arch.gp`` (and the local it is built in) read only ``small``."""
    for function in (n for n in descendants(root) if n.type == "function_definition"):
        assigns = [n for n in descendants(function) if n.type == "assignment_expression"]
        gp_sets = [a for a in assigns
                   if _arch_variable(strip_casts(a.child_by_field_name("left")), data) == "gp"]
        if not gp_sets:
            continue
        locals_ = {node_text(strip_casts(a.child_by_field_name("right")), data) for a in gp_sets
                   if strip_casts(a.child_by_field_name("right")).type == "identifier"}
        for a in assigns:
            left = strip_casts(a.child_by_field_name("left"))
            if a not in gp_sets and not (left.type == "identifier" and node_text(left, data) in locals_):
                continue
            for field in ("size", "base"):
                for memory, node in _reads(a.child_by_field_name("right"), data, field):
                    if memory != small:
                        violation(node, "gp-small-data",
                                  f"the gp is placed from {memory}'s {field}, but the loader "
                                  f"puts small data (ARCH_SHF_SMALL) in {small}: gp-relative "
                                  f"accesses would miss it")
        # Conditions that choose the gp's offset read sizes too.
        for cond in (n for n in descendants(function) if n.type == "if_statement"):
            body = cond.child_by_field_name("consequence")
            if body is None or not any(a in gp_sets or _assigns_local(a, data, locals_)
                                       for a in descendants(body) if a.type == "assignment_expression"):
                continue
            for memory, node in _reads(cond.child_by_field_name("condition"), data, "size"):
                if memory != small:
                    violation(node, "gp-small-data",
                              f"the gp's offset is chosen from {memory}'s size, but the "
                              f"loader puts small data (ARCH_SHF_SMALL) in {small}")


def _assigns_local(node: Node, data: bytes, names: set[str]) -> bool:
    left = strip_casts(node.child_by_field_name("left"))
    return left.type == "identifier" and node_text(left, data) in names
