"""Read the placement table back from a rewritten loader.

The model checks where a loader puts each section of a real module.  To
check the rewritten loader and not a restatement of it, the table is read
from its C code: the `masks` rows and the two row-to-type arrays of the
function that lays out sections (__layout_sections() or its equivalent),
and the types kallsyms' layout_symtab() grows for the symbol tables.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

import tree_sitter
from tree_sitter import Node

from migrator.errors import MigratorError
from migrator.parse.syntax import descendants, function_name
from migrator.parse.source import c_language, parse_c
from .pack import VOCABULARY
from .table import MOD_INVALID, MaskRow, PlacementTable

_NEW = VOCABULARY.new
MEM_TYPES = _NEW.types

_ARRAYS = tree_sitter.Query(c_language(), """
(declaration
  declarator: (init_declarator
    declarator: [(array_declarator declarator: (identifier) @name)
                 (array_declarator declarator: (array_declarator declarator: (identifier) @name))]
    value: (initializer_list) @values)) @array
""")
_TYPED_CALL = tree_sitter.Query(c_language(), """
(call_expression
  function: (identifier) @fn (#eq? @fn "module_get_offset_and_type")
  arguments: (argument_list (_) (identifier) @type)) @call
""")
_MEM_SIZE = tree_sitter.Query(c_language(), """
(assignment_expression
  left: (field_expression field: (field_identifier) @field (#eq? @field "symoffs"))
  right: (call_expression arguments: (argument_list
    (field_expression argument: (subscript_expression index: (_) @type))))) @assign
""")


def _canonical(names: Mapping[str, str]) -> dict[str, str]:
    """Enumerator as spelled in the tree -> the model's mainline name."""
    out = {names[k]: "MOD_" + k for k in MEM_TYPES}
    out[names["INVALID"]] = MOD_INVALID
    return out


def _flags(node: Node) -> tuple[str, ...]:
    if node.type == "number_literal" and node.text == b"0":
        return ()
    if node.type == "identifier":
        return (node.text.decode(),)
    if node.type == "binary_expression" and node.child_by_field_name("operator").type == "|":
        return _flags(node.child_by_field_name("left")) + _flags(node.child_by_field_name("right"))
    if node.type == "parenthesized_expression":
        return _flags(node.named_children[0])
    raise MigratorError(f"line {node.start_point[0] + 1}: cannot read the flags {node.text.decode()!r}")


def _values(initializer: Node) -> list[Node]:
    """The entries of an initializer list; the real loader comments inside its tables."""
    return [n for n in initializer.named_children if n.type != "comment"]


def _arrays_of(fn: Node) -> dict[str, Node]:
    found = {}
    for _, caps in tree_sitter.QueryCursor(_ARRAYS).matches(fn):
        found[caps["name"][0].text.decode()] = caps["values"][0]
    return found


def placement_table(main_c: bytes, kallsyms_c: bytes | None = None,
                    module_h: bytes | None = None, source: str = "rewritten loader") -> PlacementTable:
    """The placement table of a rewritten kernel/module/main.c (and kallsyms.c)."""
    names = (_NEW.names_defined_in(module_h) if module_h else None) or _NEW.type_names()
    canonical = _canonical(names)
    root = parse_c(main_c).root_node
    layout = None
    for n in descendants(root):
        if n.type == "function_definition":
            arrays = _arrays_of(n)
            if "masks" in arrays and any(k.endswith("to_mem_type") for k in arrays):
                layout = (function_name(n), arrays)
                break
    if layout is None:
        raise MigratorError(f"{source}: no function lays out sections with a masks table and type arrays")
    fn, arrays = layout
    core = next((v for k, v in arrays.items() if k.startswith("core") and k.endswith("to_mem_type")), None)
    init = next((v for k, v in arrays.items() if k.startswith("init") and k.endswith("to_mem_type")), None)
    if core is None or init is None:
        raise MigratorError(f"{source}: {fn}() has no core and init type arrays")

    masks = []
    for row in _values(arrays["masks"]):
        parts = row.named_children
        if row.type != "initializer_list" or len(parts) != 2:
            raise MigratorError(f"{source}: {fn}(): masks row {row.text.decode()!r} is not {{required, forbidden}}")
        masks.append(MaskRow(_flags(parts[0]), _flags(parts[1])))

    def types(values: Node, what: str) -> tuple[str, ...]:
        out = []
        for v in _values(values):
            name = v.text.decode()
            if name not in canonical:
                raise MigratorError(f"{source}: {fn}(): {what} names {name!r}, which is no enum mod_mem_type")
            out.append(canonical[name])
        return tuple(out)

    kallsyms = {}
    if kallsyms_c is not None:
        kroot = parse_c(kallsyms_c).root_node
        init_types = {caps["type"][0].text.decode() for _, caps in tree_sitter.QueryCursor(_TYPED_CALL).matches(kroot)}
        core_types = {caps["type"][0].text.decode() for _, caps in tree_sitter.QueryCursor(_MEM_SIZE).matches(kroot)}
        if len(init_types) == 1:
            kallsyms["kallsyms_init"] = canonical.get(init_types.pop(), MOD_INVALID)
        if len(core_types) == 1:
            kallsyms["kallsyms_core"] = canonical.get(core_types.pop(), MOD_INVALID)

    table = PlacementTable(masks=tuple(masks), core_types=types(core, "core types"),
                           init_types=types(init, "init types"), source=f"{source}: {fn}()", **kallsyms)
    table.validate()
    return table


def tree_table(root: Path, source: str | None = None) -> PlacementTable:
    """The placement table of the loader in the kernel tree ``root`` (main.c, kallsyms.c, module.h).

    On Debian's linux-source-6.12 this is the real v6.x loader: the oracle the
    rewritten loader and the model's layouts are held against.
    """
    paths = [root / "kernel/module/main.c", root / "kernel/module/kallsyms.c",
             root / "include/linux/module.h"]
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        raise MigratorError(f"{missing[0]} does not exist: not a kernel tree with a module loader")
    main_c, kallsyms_c, module_h = (p.read_bytes() for p in paths)
    return placement_table(main_c, kallsyms_c, module_h, source or str(root))
