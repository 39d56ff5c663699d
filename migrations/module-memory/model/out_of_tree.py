"""The check of out-of-tree code: against each kernel it must build on, and by meaning.

Out-of-tree code carries both sides of the change, each under a condition
(`#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 4, 0) || ...`).  So it is
checked once per kernel, on the lines that kernel compiles
(:mod:`migrator.verify.branches`):

* names: a name of the module API (a layout member of struct module such
  as ``core_layout`` or ``mem``, a field of the layout struct, an
  enumerator of enum mod_mem_type, a function or macro of module.h) that
  another of the given kernels has and this one lacks is a violation
  (``kernel-name``), unless the project defines it itself.  On lines under
  a condition that cannot be evaluated for the kernel (a project's own
  probe), it is a note instead.
* meaning: the original as the old kernel compiles it and the rewrite as
  the new kernel compiles it go through the kernel mode's source check
  (:func:`source.check_sources`), with each kernel's own
  module.h: address tests and addresses judged on real modules, and the
  allocation plans.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from tree_sitter import Node

from migrator.errors import MigratorError
from migrator.parse import is_c_path, parse_c
from migrator.parse.syntax import descendants, text as node_text
from migrator.parse.tree import source_paths
from migrator.parse.views import embedded_c, is_stp_path
from migrator.verify.branches import Facts, project, read_branches
from migrator.verify.findings import Note, SourceViolation
from migrator.verify.kernel import Kernel, read_file
from migrator.verify.names import declared_fields
from .pack import VOCABULARY
from .probes import ProbeChooser
from .source import TreeCheck, check_sources
from .table import MAINLINE_V6_4, PlacementTable

_MACRO_DEF_RE = re.compile(rb"^[ \t]*#[ \t]*define[ \t]+(\w+)", re.M)
_FUNCTION_DEF_RE = re.compile(rb"^\w[\w \t*]*?\b(\w+)\s*\([^;{)]*\)\s*\{", re.M)
# The structs of each side of the change, whose members are the layout members.
_SIDE_STRUCTS = tuple(s.encode() for s in (VOCABULARY.old.struct, VOCABULARY.new.struct))
_MEMBER_RE = re.compile(rb"struct\s+(" + b"|".join(map(re.escape, _SIDE_STRUCTS)) + rb")\s+(\w+)")
# In a #define body (not parsed as C): `->name`/`.name`, and plain names.
_BODY_FIELD_RE = re.compile(r"(?:->|\.)\s*(\w+)")
_BODY_NAME_RE = re.compile(r"(?<![\w.>])(\w+)\s*(\()?")
KERNEL_NAME = "kernel-name"  # one of findings.SOURCE_INVARIANTS
_PREPROC_CONDITION_PARENTS = {"preproc_if", "preproc_elif", "preproc_ifdef", "preproc_elifdef",
                              "preproc_defined"}


def layout_members(kernel: Kernel) -> frozenset[str]:
    """The members of struct module that hold a layout (core_layout, ..., or mem)."""
    return frozenset(m.group(2).decode() for m in _MEMBER_RE.finditer(kernel.header)
                     if m.group(2) not in _SIDE_STRUCTS)


@dataclass(frozen=True)
class Vocabulary:
    """The module API names of one kernel, by role."""

    members: frozenset[str]
    layout_fields: frozenset[str]
    enumerators: frozenset[str]
    callables: frozenset[str]

    @classmethod
    def of(cls, kernel: Kernel) -> "Vocabulary":
        return cls(layout_members(kernel), kernel.side_fields, kernel.enumerators,
                   kernel.callables)

    def __or__(self, other: "Vocabulary") -> "Vocabulary":
        return Vocabulary(self.members | other.members, self.layout_fields | other.layout_fields,
                          self.enumerators | other.enumerators, self.callables | other.callables)

    def __sub__(self, other: "Vocabulary") -> "Vocabulary":
        return Vocabulary(self.members - other.members, self.layout_fields - other.layout_fields,
                          self.enumerators - other.enumerators, self.callables - other.callables)

    def __and__(self, other: "Vocabulary") -> "Vocabulary":
        return Vocabulary(self.members & other.members, self.layout_fields & other.layout_fields,
                          self.enumerators & other.enumerators, self.callables & other.callables)

    def without_callables(self, names: frozenset[str]) -> "Vocabulary":
        """Without the enumerators and callables of these names (the project defines them)."""
        return Vocabulary(self.members, self.layout_fields, self.enumerators - names,
                          self.callables - names)

    def all(self) -> frozenset[str]:
        return self.members | self.layout_fields | self.enumerators | self.callables


@dataclass(frozen=True)
class KernelSide:
    """One kernel's verdict on the code."""

    kernel: Kernel
    violations: tuple[SourceViolation, ...]
    notes: tuple[Note, ...]


@dataclass(frozen=True)
class OutOfTreeCheck:
    root: str
    original: str
    files: tuple[str, ...]  # checked against each kernel
    sides: tuple[KernelSide, ...]
    meaning: TreeCheck | None  # None without an old and a new kernel
    meaning_kernels: tuple[Kernel, Kernel] | None = None

    @property
    def violations(self) -> tuple[SourceViolation, ...]:
        seen, out = set(), []
        for v in [v for s in self.sides for v in s.violations] + \
                list(self.meaning.violations if self.meaning else ()):
            if (v.path, v.line, v.col, v.message) not in seen:
                seen.add((v.path, v.line, v.col, v.message))
                out.append(v)
        return tuple(out)

    @property
    def ok(self) -> bool:
        return not self.violations


def c_text(path: str, data: bytes) -> bytes:
    """The C a file holds: itself, or a tapset's embedded C (rows kept)."""
    return embedded_c(data) if is_stp_path(path) else data


def _project_paths(root: str) -> list[str]:
    # Files that cannot be read are the scan's and the rewrite's to report.
    files, _unread = source_paths(root)
    return [p for p in files if is_c_path(p) or is_stp_path(p)]


def _in_condition(node: Node) -> bool:
    """Is the node part of an #if/#ifdef condition (not code any kernel compiles)?"""
    p = node.parent
    while p is not None:
        if p.type == "preproc_defined":
            return True
        if p.type in _PREPROC_CONDITION_PARENTS:
            cond = p.child_by_field_name("condition") or p.child_by_field_name("name")
            if cond is not None and cond.start_byte <= node.start_byte < cond.end_byte:
                return True
        p = p.parent
    return False


def _uses(root: Node, data: bytes, missing: Vocabulary, members: frozenset[str]):
    """((row, col), name, role) of the names in missing that the parsed code uses.

    ``members`` are the layout members of every kernel: a layout field counts
    only when read through one (``core_layout.text_size``, ``mem[t].size``)."""
    for n in descendants(root):
        if n.type == "field_identifier" and n.parent.type == "field_expression":
            name = node_text(n, data)
            if name in missing.members:
                yield n.start_point, name, "member of struct module"
            elif name in missing.layout_fields:
                receiver = n.parent.child_by_field_name("argument")
                while receiver is not None and receiver.type == "subscript_expression":
                    receiver = receiver.child_by_field_name("argument")
                if receiver is not None and receiver.type == "field_expression" and \
                        node_text(receiver.child_by_field_name("field"), data) in members:
                    yield n.start_point, name, "field of the layout struct"
        elif n.type == "identifier":
            name = node_text(n, data)
            if name not in missing.enumerators and name not in missing.callables:
                continue
            if _in_condition(n):
                continue
            parent = n.parent
            if name in missing.callables and parent.type == "call_expression" and \
                    parent.child_by_field_name("function") == n:
                yield n.start_point, name, "function or macro of module.h"
            elif name in missing.enumerators:
                yield n.start_point, name, "enumerator of enum mod_mem_type"
        elif n.type == "preproc_arg" and n.parent.type in ("preproc_def", "preproc_function_def"):
            yield from _body_uses(n, data, missing, members)


def _body_uses(node: Node, data: bytes, missing: Vocabulary, members: frozenset[str]):
    """Names in a #define body, which the C grammar leaves as text."""
    text = re.sub(r"/\*.*?\*/|\"(?:\\.|[^\"\\])*\"", lambda m: " " * len(m.group()),
                  node_text(node, data), flags=re.S)
    row, col = node.start_point
    fields = {m.start(1) for m in _BODY_FIELD_RE.finditer(text)}
    through_member = re.compile(r"(?:->|\.)\s*(?:" + "|".join(map(re.escape, sorted(members))) +
                                r")\s*(?:\[[^\]]*\])?\s*\.\s*$") if members else None

    def at(offset: int):
        before = text[:offset]
        return (row + before.count("\n"),
                (col if "\n" not in before else 0) + len(before.rsplit("\n", 1)[-1]))

    for m in _BODY_FIELD_RE.finditer(text):
        name = m.group(1)
        if name in missing.members:
            yield at(m.start(1)), name, "member of struct module"
        elif name in missing.layout_fields and through_member is not None and \
                through_member.search(text[:m.start()]):
            yield at(m.start(1)), name, "field of the layout struct"
    for m in _BODY_NAME_RE.finditer(text):
        name = m.group(1)
        if m.start(1) in fields:
            continue
        if name in missing.callables and m.group(2):
            yield at(m.start(1)), name, "function or macro of module.h"
        elif name in missing.enumerators:
            yield at(m.start(1)), name, "enumerator of enum mod_mem_type"


def _project_definitions(texts) -> frozenset[str]:
    """The macros and functions the project defines itself (a compat helper, say)."""
    names: set[str] = set()
    for data in texts:
        names.update(m.group(1).decode() for m in _MACRO_DEF_RE.finditer(data))
        names.update(m.group(1).decode() for m in _FUNCTION_DEF_RE.finditer(data))
    return frozenset(names)


def check_kernel(path: str, data: bytes, kernel: Kernel, kernels: tuple[Kernel, ...],
                 missing: Vocabulary, every_member: frozenset[str],
                 project_fields: frozenset[str]) -> tuple[list[SourceViolation], list[Note]]:
    """The names of ``missing`` that ``kernel`` would compile in ``data``."""
    facts = Facts.of(kernel, VOCABULARY.sides, kernels)
    branches = read_branches(data, facts)
    states = branches.states
    code = project(data, facts)
    violations, notes = [], []
    found = sorted(set(_uses(parse_c(code).root_node, code, missing, every_member)))
    for (row, col), name, role in found:
        if role.startswith("member") and name in project_fields:
            continue
        where = f"{kernel.label} lacks `{name}` ({role})"
        if states[row] is None:
            notes.append(Note(path, row + 1, f"`{name}`",
                              f"{kernel.label} lacks it, and compiles this line only if "
                              f"`{branches.why_unknown(row)}` holds, which is not known here"))
        elif states[row]:
            violations.append(SourceViolation(path, row + 1, col + 1, KERNEL_NAME,
                                              f"{where}, and compiles this line"))
    return violations, notes


def check_out_of_tree(root: str, original: str, kernels: tuple[Kernel, ...], probe_sets,
                      table: PlacementTable = MAINLINE_V6_4) -> OutOfTreeCheck:
    """Check the rewritten out-of-tree code at ``root`` against each of ``kernels``.

    ``probe_sets`` is a tuple of ProbeSet or a function returning one, called
    only when an old and a new kernel are both given; ``table`` places the
    sections of v6.4 and later, as in the kernel mode's check.
    """
    for label, where in (("code", root), ("original", original)):
        if not os.path.isdir(where):
            raise MigratorError(f"{where}: the {label} is not a directory")
    if os.path.realpath(root) == os.path.realpath(original):
        raise MigratorError(f"{root}: the code and its original are the same directory")
    if not kernels:
        raise MigratorError("out-of-tree code is checked against a kernel: pass --kernel KDIR")
    vocabularies = [Vocabulary.of(k) for k in kernels]
    universe, common = vocabularies[0], vocabularies[0]
    for v in vocabularies[1:]:
        universe, common = universe | v, common & v
    # Only files naming what some kernel lacks can fail; the rest are not parsed.
    differing = sorted((universe - common).all())
    names_re = re.compile(rb"\b(?:" + b"|".join(re.escape(n.encode()) for n in differing) + rb")\b")
    texts: dict[str, bytes] = {}
    originals: dict[str, bytes] = {}  # of the files the rewrite changed
    defined: frozenset[str] = frozenset()
    for path in _project_paths(root):
        data = c_text(path, read_file(root, path) or b"")
        defined |= _project_definitions([data])
        before = read_file(original, path)
        if before is not None and c_text(path, before) != data:
            originals[path] = c_text(path, before)
            texts[path] = data
        elif differing and names_re.search(data):
            texts[path] = data
    checked = sorted(texts)
    project_fields = frozenset().union(*(declared_fields(texts[p]) for p in checked))
    sides = []
    for kernel, vocabulary in zip(kernels, vocabularies):
        missing = (universe - vocabulary).without_callables(defined)
        violations, notes = [], []
        for path in checked:
            v, n = check_kernel(path, texts[path], kernel, kernels, missing, universe.members,
                                project_fields)
            violations += v
            notes += n
        sides.append(KernelSide(kernel, tuple(violations), tuple(notes)))
    meaning, pair = None, _old_and_new(kernels)
    if pair is not None:
        old_kernel, new_kernel = pair
        changes = [(path, project(before, Facts.of(old_kernel, VOCABULARY.sides, kernels)),
                    project(texts[path], Facts.of(new_kernel, VOCABULARY.sides, kernels)))
                   for path, before in sorted(originals.items())]
        if callable(probe_sets):
            probe_sets = probe_sets()
        if old_kernel.arch is not None:
            # The modules of the kernels' own architecture, as arch code is judged.
            probe_sets = ProbeChooser(probe_sets)(f"arch/{old_kernel.arch}/")
        meaning = check_sources(changes, new_kernel.header, old_kernel.header, probe_sets,
                                table, root=root, original=original)
    return OutOfTreeCheck(root, original, tuple(checked), tuple(sides), meaning, pair)


def _old_and_new(kernels: tuple[Kernel, ...]) -> tuple[Kernel, Kernel] | None:
    """The oldest kernel before the change and the newest after it, if both are given."""
    old = [k for k in kernels if not k.has_change]
    new = [k for k in kernels if k.has_change]
    if not old or not new:
        return None
    return (min(old, key=lambda k: k.version_code), max(new, key=lambda k: k.version_code))
