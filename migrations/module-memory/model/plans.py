"""Allocation plans: what arch code reserves in module memory, and what it addresses.

Some architectures reserve room for their own tables before the loader lays
a module out: ``module_frob_arch_sections()`` records the current size of a
memory in an offset variable and then grows that memory
(``me->arch.got_offset = me->mem[MOD_TEXT].size; me->mem[MOD_TEXT].size +=
got_size``).  Later code addresses the table as that memory's base plus the
offset (``me->mem[MOD_TEXT].base + me->arch.got_offset``).

:func:`extract_plan` reads both halves out of a file with tree-sitter, in
6.1 spelling (``core_layout``) or v6.4 spelling (``mem[MOD_*]``), and
:func:`check_plans` checks that they agree:

* ``reservation-type``: the base an offset is added to is the base of the
  memory the offset was reserved in;
* ``reservation-unknown``: an arch offset added to a base was reserved
  somewhere (when the original reserved it);
* ``reservation-offset``: the offset is read from the size of the memory the
  next growth reserves the room in;
* ``reservation-moved``: a reservation made in 6.1's ``core_layout`` (before
  any section, so at the start of its text) lands in the type the placement
  table gives loader reservations (``arch_reserved``, MOD_TEXT in mainline);
* ``reservation-permission`` and ``reservation-lifetime``: the memory has what
  the entries need when they are used (:mod:`permissions`):
  a PLT must be executable once the module runs, a GOT writable while
  relocations are applied, and nothing core code uses may sit in init memory.
"""

from __future__ import annotations

from dataclasses import dataclass

from tree_sitter import Node

from migrator.verify.findings import SourceViolation
from migrator.verify.kconfig import KernelConfig
from migrator.parse import parse_c
from migrator.parse.syntax import strip_casts, text as node_text
from .cexpr import OLD_LAYOUTS
from .permissions import entry_kind, missing
from .table import MAINLINE_V6_4, MEMORY_TYPES, PlacementTable


@dataclass(frozen=True, slots=True)
class Reservation:
    """``variable`` marks room reserved in ``memory`` (a type, or a 6.1 layout)."""

    path: str
    line: int
    col: int
    variable: str
    memory: str
    grown_by: str | None
    grown_line: int | None
    # The type whose size gave the offset, when another type was grown for it.
    offset_from: str | None = None


@dataclass(frozen=True, slots=True)
class Address:
    """An address computed as ``memory``'s base plus the arch offset ``variable``."""

    path: str
    line: int
    col: int
    variable: str
    memory: str
    text: str


@dataclass(frozen=True, slots=True)
class Plan:
    path: str
    reservations: tuple[Reservation, ...]
    addresses: tuple[Address, ...]


def _memory(node: Node, data: bytes, field: str) -> str | None:
    """The memory whose ``field`` ``node`` reads: ``MOD_TEXT`` or ``core_layout``, else None."""
    if node.type == "parenthesized_expression" and node.named_children:
        return _memory(node.named_children[0], data, field)
    if node.type != "field_expression" or node_text(node.child_by_field_name("field"), data) != field:
        return None
    arg = node.child_by_field_name("argument")
    if arg.type == "field_expression":
        name = node_text(arg.child_by_field_name("field"), data)
        return name if name in OLD_LAYOUTS else None
    if arg.type == "subscript_expression":
        array = arg.child_by_field_name("argument")
        if array.type == "field_expression" and \
                node_text(array.child_by_field_name("field"), data) == "mem":
            return node_text(arg.child_by_field_name("index"), data).strip()
    return None


def _arch_variable(node: Node, data: bytes) -> str | None:
    """``V`` of ``X->arch.V``."""
    if node.type != "field_expression":
        return None
    arg = node.child_by_field_name("argument")
    if arg.type == "field_expression" and node_text(arg.child_by_field_name("field"), data) == "arch":
        return node_text(node.child_by_field_name("field"), data)
    return None


def _sum_terms(node: Node, data: bytes) -> list[Node]:
    node = strip_casts(node)
    if node.type == "binary_expression" and node.child_by_field_name("operator").type == "+":
        return (_sum_terms(node.child_by_field_name("left"), data)
                + _sum_terms(node.child_by_field_name("right"), data))
    return [node]


def extract_plan(path: str, data: bytes, tree=None) -> Plan:
    """The reservations and the base-plus-offset addresses of one file."""
    root = (tree or parse_c(data)).root_node
    reservations: list[Reservation] = []
    addresses: list[Address] = []
    pending: dict[str, list[tuple[str, Node]]] = {}

    def visit(node: Node) -> None:
        if node.type == "function_definition":
            pending.clear()
        if node.type == "assignment_expression":
            op = node.child_by_field_name("operator").type
            left, right = node.child_by_field_name("left"), node.child_by_field_name("right")
            grown = _memory(left, data, "size")
            variable = _arch_variable(left, data)
            if grown is not None and op == "+=":
                # The first growth after an offset is recorded is the room it marks,
                # whichever memory the offset was read from.
                for recorded in [grown] + [m for m in pending if m != grown]:
                    for var, at in pending.pop(recorded, []):
                        reservations.append(Reservation(
                            path, at.start_point[0] + 1, at.start_point[1] + 1, var, grown,
                            " ".join(node_text(right, data).split()), node.start_point[0] + 1,
                            recorded if recorded != grown else None))
            elif variable is not None and op == "=":
                recorded = _memory(strip_casts(right), data, "size")
                if recorded is not None:
                    pending.setdefault(recorded, []).append((variable, node))
        if node.type == "binary_expression" and node.child_by_field_name("operator").type == "+":
            parent = node.parent
            outer = parent is not None and parent.type == "binary_expression" and \
                parent.child_by_field_name("operator").type == "+"
            if not outer:
                terms = _sum_terms(node, data)
                bases = [m for m in (_memory(t, data, "base") for t in terms) if m]
                variables = [v for v in (_arch_variable(t, data) for t in terms) if v]
                if len(bases) == 1:
                    for v in variables:
                        addresses.append(Address(
                            path, node.start_point[0] + 1, node.start_point[1] + 1, v, bases[0],
                            " ".join(node_text(node, data).split())))
        for child in node.children:
            visit(child)
        if node.type == "function_definition":
            for memory, entries in pending.items():
                for var, at in entries:
                    reservations.append(Reservation(path, at.start_point[0] + 1,
                                                    at.start_point[1] + 1, var, memory, None,
                                                    None))
            pending.clear()

    visit(root)
    return Plan(path, tuple(reservations), tuple(addresses))


def _group(path: str) -> str:
    """Reservations and their uses live in one architecture's folder."""
    parts = path.split("/")
    return "/".join(parts[:2]) if parts[0] == "arch" and len(parts) > 2 else path


def check_plans(new_plans: list[Plan], old_plans: list[Plan], config: KernelConfig,
                table: PlacementTable = MAINLINE_V6_4) -> list[SourceViolation]:
    """The broken plan invariants of the rewritten files ``new_plans``."""
    out: list[SourceViolation] = []
    old_by: dict[str, dict[str, Reservation]] = {}
    for plan in old_plans:
        for r in plan.reservations:
            old_by.setdefault(_group(plan.path), {}).setdefault(r.variable, r)
    new_by: dict[str, dict[str, list[Reservation]]] = {}
    for plan in new_plans:
        for r in plan.reservations:
            new_by.setdefault(_group(plan.path), {}).setdefault(r.variable, []).append(r)

    for plan in new_plans:
        group = _group(plan.path)
        for r in plan.reservations:
            out.extend(_check_reservation(r, old_by.get(group, {}).get(r.variable), config,
                                          table))
        for a in plan.addresses:
            reserved = new_by.get(group, {}).get(a.variable, [])
            if not reserved:
                if a.variable in old_by.get(group, {}):
                    old = old_by[group][a.variable]
                    out.append(SourceViolation(
                        a.path, a.line, a.col, "reservation-unknown",
                        f"`{a.text}` adds {a.variable} to the base of {a.memory}, but no "
                        f"reservation records {a.variable} any more (the original did at "
                        f"{old.path}:{old.line})"))
                continue
            types = sorted({r.memory for r in reserved})
            if a.memory not in types:
                r = reserved[0]
                out.append(SourceViolation(
                    a.path, a.line, a.col, "reservation-type",
                    f"`{a.text}` adds {a.variable} to the base of {a.memory}, but "
                    f"{a.variable} is an offset into {' and '.join(types)}, reserved at "
                    f"{r.path}:{r.line}"))
    return out


_LETTERS = {"r": "readable", "w": "writable", "x": "executable"}
_WHEN = {"relocation": "while relocations are applied", "running": "while the module runs",
         "after-init": "after init"}


def _check_reservation(r: Reservation, old: Reservation | None, config: KernelConfig,
                       table: PlacementTable) -> list[SourceViolation]:
    out = []
    if r.offset_from is not None:
        out.append(SourceViolation(
            r.path, r.line, r.col, "reservation-offset",
            f"{r.variable} is taken from the size of {r.offset_from}, but the room is "
            f"reserved by growing {r.memory} (line {r.grown_line}): the offset points "
            f"into neither"))
    if r.memory in OLD_LAYOUTS:
        return out
    if r.memory not in MEMORY_TYPES:
        return out  # a name the tree lacks: the api-name check reports it
    if old is not None and old.memory == "core_layout" and r.memory != table.arch_reserved:
        out.append(SourceViolation(
            r.path, r.line, r.col, "reservation-moved",
            f"{r.variable} is reserved in {r.memory}; 6.1 reserved it in core_layout before "
            f"any section was placed (the start of its text), which is {table.arch_reserved} "
            f"in v6.4"))
    kind = entry_kind(r.variable)
    if kind is None:
        return out
    lacking = missing(kind, r.memory, config)
    if not lacking:
        return out
    freed = MEMORY_TYPES[r.memory][1] and any(p == "after-init" for p, _l in lacking)
    needs: dict[str, list[str]] = {}
    for phase, letter in lacking:
        if not (freed and phase == "after-init"):
            needs.setdefault(_LETTERS[letter], []).append(_WHEN[phase])
    what = "; ".join(f"{adjective} {' and '.join(when)}" for adjective, when in needs.items())
    if freed:
        out.append(SourceViolation(
            r.path, r.line, r.col, "reservation-lifetime",
            f"{r.variable} reserves {kind} in {r.memory}, which is freed after init while "
            f"core code still uses them"))
    if what:
        out.append(SourceViolation(
            r.path, r.line, r.col, "reservation-permission",
            f"{r.variable} reserves {kind} in {r.memory}: {kind} must be {what}, "
            f"and {r.memory} is not"))
    return out
