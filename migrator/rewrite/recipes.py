"""Recipes: templates for whole regions whose structure changes.

Site rules rewrite expressions; some code must be replaced as a whole (a
struct definition, a function whose body becomes a loop over types).  A
recipe names the file, finds each region by its shape, and replaces the
region's whole lines with a jinja2 template.  It says what it requires of
each region; when the target tree has another shape it refuses with the
reason and changes nothing, so a tree it was not written for is reported,
never corrupted.  The bytes a recipe replaces belong to it: site rules do
not touch them.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Mapping

import jinja2
import tree_sitter
from tree_sitter import Node

from ..errors import MigratorError
from ..match.context import descendants, function_name
from ..match.template_env import TEMPLATES
from ..migration import DEFAULT_MIGRATION, load_migration
from ..parse.source import SourceFile
from ..tomlfile import load_toml
from .edits import Edit, whole_lines

DEFAULT_RECIPES_DIR = load_migration(DEFAULT_MIGRATION).regions_dir
REGION_KINDS = ("struct", "members", "function", "functions", "define", "declaration",
                "insert_before", "text")


@dataclass(frozen=True)
class Region:
    kind: str
    template: str
    name: str | None = None
    struct: str | None = None
    type: str | None = None
    requires: tuple[str, ...] = ()
    last: str | None = None  # functions: the last function of the run named by `name`
    comment: bool = False  # take the comment blocks right above the region along
    pattern: str | None = None  # text: a regex (multi-line) matching the region exactly once


@dataclass(frozen=True)
class Recipe:
    id: str
    path: str
    file: str
    description: str
    regions: tuple[Region, ...]
    renames: tuple[tuple[str, str], ...] = ()
    done_if: str | None = None

    @property
    def summary(self) -> str:
        return self.description.strip().splitlines()[0]


@dataclass(frozen=True)
class RecipeResult:
    recipe: Recipe
    status: str  # "applied", "refused" or "done" (the file already has the new shape)
    reason: str = ""
    edits: tuple[Edit, ...] = ()
    owned: tuple[tuple[int, int], ...] = ()


# ---------------------------------------------------------------- loading

def _bad(path: str, message: str) -> MigratorError:
    return MigratorError(f"{path}: {message}")


def load_recipe(path: str | os.PathLike) -> Recipe:
    path = str(path)
    data = load_toml(path)
    allowed = {"id", "file", "description", "done_if", "region", "rename"}
    for key in data:
        if key not in allowed:
            raise _bad(path, f"unknown field '{key}'")
    for key in ("id", "file", "description", "region"):
        if key not in data:
            raise _bad(path, f"missing field '{key}'")
    if os.path.basename(path) != f"{data['id']}.toml":
        raise _bad(path, f"field 'id': '{data['id']}' differs from the file name")
    regions = []
    for i, r in enumerate(data["region"]):
        where = f"region[{i}]"
        unknown = set(r) - {"kind", "template", "name", "struct", "type", "requires", "last",
                            "comment", "pattern"}
        if unknown:
            raise _bad(path, f"{where}: unknown field '{sorted(unknown)[0]}'")
        if r.get("kind") not in REGION_KINDS:
            raise _bad(path, f"{where}: field 'kind' must be one of {', '.join(REGION_KINDS)}")
        needed = {"struct": ("name",), "function": ("name",), "members": ("struct", "type"),
                  "functions": ("name", "last"), "define": ("name",), "declaration": ("name",),
                  "insert_before": ("name",), "text": ("pattern",)}[r["kind"]]
        for key in ("template",) + needed:
            if key not in r:
                raise _bad(path, f"{where}: missing field '{key}'")
        template = os.path.join(os.path.dirname(path), r["template"])
        if not os.path.isfile(template):
            raise _bad(path, f"{where}: field 'template': no file {r['template']}")
        if r["kind"] == "text":
            try:
                re.compile(r["pattern"], re.M)
            except re.error as e:
                raise _bad(path, f"{where}: field 'pattern': {e}") from None
        regions.append(Region(r["kind"], template, r.get("name"), r.get("struct"), r.get("type"),
                              tuple(r.get("requires", ())), r.get("last"), bool(r.get("comment", False)),
                              r.get("pattern")))
    renames = tuple((r["from"], r["to"]) for r in data.get("rename", ()))
    return Recipe(data["id"], path, data["file"], data["description"], tuple(regions),
                  renames, data.get("done_if"))


def load_recipes(directory: str | os.PathLike = DEFAULT_RECIPES_DIR) -> tuple[Recipe, ...]:
    directory = str(directory)
    if not os.path.isdir(directory):
        return ()
    return tuple(load_recipe(os.path.join(directory, p))
                 for p in sorted(os.listdir(directory)) if p.endswith(".toml"))


# ---------------------------------------------------------------- regions

class _Refused(Exception):
    pass


def _line_span(data: bytes, start: int, end: int) -> tuple[int, int]:
    """Widen [start, end) to whole lines, the newline of the last included."""
    first = data.rfind(b"\n", 0, start) + 1
    last = data.find(b"\n", end)
    return first, len(data) if last < 0 else last + 1



def _find_struct(root: Node, data: bytes, region: Region) -> tuple[int, int]:
    for n in descendants(root):
        name = n.child_by_field_name("name") if n.type == "struct_specifier" else None
        if name is not None and name.text.decode() == region.name and n.child_by_field_name("body"):
            end = n.end_byte
            semi = n.next_sibling
            if semi is not None and semi.type == ";":
                end = semi.end_byte
            elif n.parent is not None and n.parent.type == "declaration":
                end = n.parent.end_byte
            return _line_span(data, n.start_byte, end)
    raise _Refused(f"no definition of struct {region.name}")


def _struct_body(root: Node, struct: str) -> Node:
    for n in descendants(root):
        name = n.child_by_field_name("name") if n.type == "struct_specifier" else None
        body = n.child_by_field_name("body") if name is not None else None
        if name is not None and name.text.decode() == struct and body is not None:
            return body
    raise _Refused(f"no definition of struct {struct}")


def _find_members(root: Node, data: bytes, region: Region) -> tuple[int, int]:
    """The member declarations of one type, as one run of lines.

    The run may hold, besides the members, #ifdef wrappers that hold only
    such members, pieces of a declaration the parser split at an attribute
    macro, and one comment line just above it.
    """
    body = _struct_body(root, region.struct)
    want = " ".join(region.type.split()).encode()

    def is_member(n: Node) -> bool:
        t = n.child_by_field_name("type") if n.type == "field_declaration" else None
        return t is not None and b" ".join(t.text.split()) == want

    lines: set[int] = set()
    for child in body.named_children:
        if is_member(child):
            lines.update(range(child.start_point[0], child.end_point[0] + 1))
        elif child.type.startswith("preproc_if") and child.named_children:
            inner = [c for c in child.named_children if c.type != "identifier" and c != child.child_by_field_name("condition")]
            if inner and all(is_member(c) for c in inner):
                lines.update(range(child.start_point[0], child.end_point[0] + 1))
    if not lines:
        raise _Refused(f"struct {region.struct} has no member of type {region.type}")
    first, last = min(lines), max(lines)
    text_lines = data.split(b"\n")
    for ln in range(first, last + 1):
        if ln not in lines and text_lines[ln].strip():
            raise _Refused(f"struct {region.struct}: other code between the {region.type} members (line {ln + 1})")
    above = text_lines[first - 1].strip() if first > 0 else b""
    if above.startswith(b"/*") and above.endswith(b"*/"):
        first -= 1
    start = sum(len(line) + 1 for line in text_lines[:first])
    end = sum(len(line) + 1 for line in text_lines[:last + 1])
    return start, min(end, len(data))


def _functions_named(root: Node, name: str) -> list[Node]:
    return [n for n in descendants(root)
            if n.type == "function_definition" and function_name(n) == name.encode()]


def _shaped_function(root: Node, name: str, requires: tuple[str, ...]) -> Node:
    found = _functions_named(root, name)
    if not found:
        raise _Refused(f"no definition of {name}()")
    shaped = [n for n in found if all(r.encode() in n.text for r in requires)]
    if not shaped:
        missing = [r for r in requires if all(r.encode() not in n.text for n in found)] or list(requires)
        raise _Refused(f"{name}() does not use {', '.join(missing)}: not the shape this recipe replaces")
    if len(shaped) > 1:
        raise _Refused(f"{name}() is defined {len(shaped)} times with the shape this recipe replaces")
    return shaped[0]


def _with_comments_above(data: bytes, start: int, across_blank_lines: bool) -> int:
    """Move start up over the comment blocks right above it."""
    lines_start = data.rfind(b"\n", 0, start) + 1
    while lines_start > 0:
        prev = data.rfind(b"\n", 0, lines_start - 1) + 1
        line = data[prev:lines_start].strip()
        if line.endswith(b"*/") or line.startswith((b"/*", b"*", b"//")):
            lines_start = prev
        elif not line and across_blank_lines:
            # A blank line counts only if a comment stands above it.
            above = data[data.rfind(b"\n", 0, max(prev - 1, 0)) + 1:prev].strip()
            if not above.endswith(b"*/"):
                break
            lines_start = prev
        else:
            break
    return lines_start


def _find_function(root: Node, data: bytes, region: Region) -> tuple[int, int]:
    n = _shaped_function(root, region.name, region.requires)
    start, end = _line_span(data, n.start_byte, n.end_byte)
    if region.comment:
        start = _with_comments_above(data, start, False)
    return start, end


def _find_functions(root: Node, data: bytes, region: Region) -> tuple[int, int]:
    first = _shaped_function(root, region.name, ())
    last = _shaped_function(root, region.last, ())
    if last.start_byte < first.start_byte:
        raise _Refused(f"{region.last}() comes before {region.name}()")
    run = data[first.start_byte:last.end_byte]
    missing = [r for r in region.requires if r.encode() not in run]
    if missing:
        raise _Refused(f"{region.name}() .. {region.last}() do not use {', '.join(missing)}: "
                       "not the shape this recipe replaces")
    start, end = _line_span(data, first.start_byte, last.end_byte)
    if region.comment:
        start = _with_comments_above(data, start, True)
    return start, end


def _find_define(root: Node, data: bytes, region: Region) -> tuple[int, int]:
    found = [n for n in descendants(root) if n.type in ("preproc_def", "preproc_function_def")
             and n.child_by_field_name("name") is not None
             and n.child_by_field_name("name").text.decode() == region.name]
    if len(found) != 1:
        raise _Refused(f"#define {region.name} is defined {len(found)} times, not once")
    node = found[0]
    parent = node.parent
    # A conditional that holds nothing but this define goes with it.
    if parent is not None and parent.type.startswith("preproc_if") and \
            [c for c in parent.named_children if c.type not in ("identifier",) and c != parent.child_by_field_name("condition")] == [node]:
        node = parent
    start, end = _line_span(data, node.start_byte, max(node.end_byte - 1, node.start_byte))
    if region.comment:
        start = _with_comments_above(data, start, False)
    return start, end


def _find_declaration(root: Node, data: bytes, region: Region) -> tuple[int, int]:
    found = []
    for n in descendants(root):
        if n.type != "declaration":
            continue
        decl = n.child_by_field_name("declarator")
        if decl is not None and decl.type == "function_declarator" and \
                decl.child_by_field_name("declarator").text.decode() == region.name:
            found.append(n)
    if len(found) != 1:
        raise _Refused(f"{region.name}() is declared {len(found)} times, not once")
    return _line_span(data, found[0].start_byte, found[0].end_byte)


def _find_insertion(root: Node, data: bytes, region: Region) -> tuple[int, int]:
    n = _shaped_function(root, region.name, region.requires)
    start, _ = _line_span(data, n.start_byte, n.end_byte)
    start = _with_comments_above(data, start, False)
    return start, start


def _find_text(root: Node | None, data: bytes, region: Region) -> tuple[int, int]:
    """Whole lines matched by a regex, for files that are not C (gdb's Python)."""
    found = list(re.finditer(region.pattern.encode(), data, re.M))
    if len(found) != 1:
        raise _Refused(f"the text /{region.pattern}/ occurs {len(found)} times, not once")
    return _line_span(data, found[0].start(), max(found[0].end() - 1, found[0].start()))


_FINDERS = {
    "struct": _find_struct, "members": _find_members, "function": _find_function,
    "functions": _find_functions, "define": _find_define, "declaration": _find_declaration,
    "insert_before": _find_insertion, "text": _find_text,
}


def _render(region: Region, names: Mapping[str, str]) -> bytes:
    try:
        with open(region.template, encoding="utf-8") as f:
            text = TEMPLATES.from_string(f.read()).render(T=names)
    except (OSError, jinja2.TemplateError) as e:
        raise MigratorError(f"{region.template}: {e}") from None
    if not text.strip():
        return b""
    return text.encode() if text.endswith("\n") else (text + "\n").encode()


def _renames(root: Node, recipe: Recipe, owned: list[tuple[int, int]]) -> list[Edit]:
    edits = []
    wanted = {old.encode(): new.encode() for old, new in recipe.renames}
    for n in descendants(root):
        if n.type in ("identifier", "type_identifier", "field_identifier") and n.text in wanted:
            if not any(s <= n.start_byte < e for s, e in owned):
                edits.append(Edit(n.start_byte, n.end_byte, wanted[n.text], recipe.id))
    return edits


def apply_recipe(recipe: Recipe, src: SourceFile, tree: tree_sitter.Tree | None,
                 names: Mapping[str, str]) -> RecipeResult:
    """The edits of one recipe on its file, or why it refuses (all or nothing)."""
    if recipe.done_if and recipe.done_if.encode() in src.data:
        return RecipeResult(recipe, "done", f"{recipe.file} already has {recipe.done_if}")
    owned: list[tuple[int, int]] = []
    edits: list[Edit] = []
    refusals: list[str] = []
    # Every region is looked at, so a refusal names all that differ at once.
    for region in recipe.regions:
        try:
            root = tree.root_node if tree is not None else None
            if root is None and region.kind != "text":
                raise _Refused(f"{recipe.file} is not C: only text regions apply")
            start, end = _FINDERS[region.kind](root, src.data, region)
            if any(s < end and start < e for s, e in owned):
                raise _Refused(f"two regions overlap at line {src.line_col(start)[0]}")
        except _Refused as e:
            refusals.append(str(e))
            continue
        text = _render(region, names)
        if region.kind == "insert_before":
            text += b"\n"  # new code stands apart from what follows
        elif not text.strip():
            text = b""
            start, end = whole_lines(src.data, start, end)
        owned.append((start, end))
        edits.append(Edit(start, end, text, recipe.id))
    if refusals:
        return RecipeResult(recipe, "refused", "; ".join(refusals))
    if tree is not None:
        edits += _renames(tree.root_node, recipe, owned)
    return RecipeResult(recipe, "applied", "", tuple(edits), tuple(owned))
