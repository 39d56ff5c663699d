"""Every occurrence of the old layouts in one file, and what kind it is.

Kinds:
  use          a field access `RECV->core_layout...` on a struct module (or on
               a receiver whose type is unknown, e.g. THIS_MODULE)
  guarded      such an access inside an existing LINUX_VERSION_CODE guard
  declaration  a `struct module_layout` member declaration
  alias        a macro that renames one layout to another
  python       a gdb script reading the field by name
  comment      a comment naming a layout (rules may update it; not a site)
  api          a name of the loader's old internal API (INIT_OFFSET_MASK,
               module_get_offset(), strict_align(), struct module_layout),
               which rules and recipes may change; not a site
  unparsed     a layout name in code the parser could not read (an ERROR
               node) or does not read (a macro body): a site no rule can
               judge, so it is always left and listed
  spliced      a layout name split by a backslash-newline (`core_\\` newline
               `layout`): the compiler joins it, the parser does not

Out of the kernel tree (where the preprocessor's conditionals are read and
evaluated for a kernel before and after the change) there are more:
  guarded        a use that no 6.4+ kernel compiles (only older ones do)
  supports-both  such a use beside a branch that 6.4+ kernels compile
  string         a member name in a string, as runtime readers look members
                 up by name (`MEMBER_OFFSET("module", "core_layout")`)
  python-reader  a Python runtime reader's attribute or subscript
  text           a name no parse reads as a field access (code the parser
                 could not read, or tapset script outside its embedded C)
  foreign        a same-named field of another declared struct; not a site

Accesses on receivers of another declared struct type, and identifiers that
merely contain the words, are not occurrences at all.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass
from functools import lru_cache

import tree_sitter
from tree_sitter import Node

from ..parse.preproc import Conditionals, Side, compiled, taken
from ..parse.source import SourceFile, c_language, matches_in, parse_c, units_around
from ..parse.tree import OLD_NAMES_RE
from ..parse.views import code_views
from .context import ancestors, declared_type, is_struct_module, is_version_guarded

OLD_NAMES = ("core_layout", "init_layout", "data_layout")
LAYOUT_MEMBERS = ("base", "size", "text_size", "ro_size", "ro_after_init_size")
UNREAD_KINDS = ("unparsed", "spliced")  # sites no rule can see: always left and listed
# What a rewrite must deal with; the rest is information.  Only out-of-tree
# runs find the kinds after the unread ones.
SITE_KINDS = ("use",) + UNREAD_KINDS + ("string", "python-reader", "text")
DECIDABLE_KINDS = ("use", "comment", "api", "string")  # what a rule may touch
# Uses an existing conditional keeps from kernels with the new API: what a
# rule that decides guards (rules.DECIDES) decides, through the conditional.
KEPT_KINDS = ("guarded", "supports-both")
OLD_API_NAMES = ("INIT_OFFSET_MASK", "module_get_offset", "strict_align", "module_layout")
_COMMENT_RE = re.compile(rb"\b(core|init|data)_layout\b")

_PYTHON_RE = re.compile(rb"""\[\s*(['"])((?:core|init|data)_layout)\1\s*\]""")
# A runtime reader's attribute: `mod.core_layout.base`, `mod.core_layout`.
_PYTHON_ATTRIBUTE_RE = re.compile(rb"\.\s*((?:core|init|data)_layout)\b(?:\s*\.\s*(\w+))?")

_NAME_PREDICATE = '(#match? @name "^(core|init|data)_layout$")'


@lru_cache(maxsize=1)
def _queries() -> dict[str, tree_sitter.Query]:
    lang = c_language()
    return {
        "access": tree_sitter.Query(
            lang, f"(field_expression field: (field_identifier) @name {_NAME_PREDICATE}) @access"
        ),
        "member": tree_sitter.Query(
            lang,
            f"""(field_declaration
                  type: (struct_specifier name: (type_identifier) @struct (#eq? @struct "module_layout"))
                  declarator: (field_identifier) @name {_NAME_PREDICATE})""",
        ),
        "alias": tree_sitter.Query(
            lang, "(preproc_def name: (identifier) @name value: (preproc_arg) @value)"
        ),
        "api": tree_sitter.Query(
            lang,
            '([(identifier) (type_identifier)] @name '
            '(#match? @name "^(INIT_OFFSET_MASK|module_get_offset|strict_align|module_layout)$"))',
        ),
        # No predicate here: py-tree-sitter decodes predicate text as strict
        # UTF-8, and kernel comments hold Latin-1 names.  Filtered as bytes below.
        "comment": tree_sitter.Query(lang, "(comment) @comment"),
    }


@dataclass(frozen=True)
class Occurrence:
    """One occurrence: where it is, which layout, which member, and its kind."""

    path: str
    kind: str
    layout: str
    member: str | None
    start: int  # byte span of the whole access, e.g. `mod->core_layout.base`
    end: int
    name_start: int  # byte offset of the layout name itself
    line: int
    col: int
    text: str

    @property
    def is_site(self) -> bool:
        return self.kind in SITE_KINDS

    @property
    def is_decidable(self) -> bool:
        return self.kind in DECIDABLE_KINDS


def _kernel_kind(node: Node, kind: str) -> str:
    """Kernel mode: any LINUX_VERSION_CODE conditional around a node guards it."""
    return "guarded" if is_version_guarded(node) else kind


@dataclass(frozen=True)
class BranchKinds:
    """Out of the tree: a use is handled only where no 6.4+ kernel compiles it."""

    conds: Conditionals

    def __call__(self, node: Node, kind: str) -> str:
        return self.at(node.start_byte, kind)

    def at(self, at: int, kind: str) -> str:
        if compiled(self.conds, at, Side.NEW) is not False:
            return kind
        return "supports-both" if self.beside_new_branch(at) else "guarded"

    def beside_new_branch(self, offset: int) -> bool:
        """Whether a conditional around offset has a branch that 6.4+ kernels compile."""
        for block, i in self.conds.enclosing(offset):
            if taken(block, i, Side.NEW) is False and any(
                    taken(block, j, Side.NEW) is not False for j in range(len(block.branches)) if j != i):
                return True
        return False


def _access_occurrence(src: SourceFile, access: Node, name: Node, classify=_kernel_kind) -> Occurrence | None:
    receiver = access.child_by_field_name("argument")
    # `lo->core_layout` on a declared non-module struct is somebody else's field.
    foreign = False
    if receiver is not None and receiver.type == "identifier":
        t = declared_type(receiver)
        if t is not None and not is_struct_module(t):
            if classify is _kernel_kind:
                return None
            foreign = True
    whole, member = access, None
    parent = access.parent
    if parent is not None and parent.type == "field_expression" and parent.child_by_field_name("argument") == access:
        field = parent.child_by_field_name("field")
        if field is not None and field.text.decode() in LAYOUT_MEMBERS:
            whole, member = parent, field.text.decode()
    line, col = src.line_col(name.start_byte)
    return Occurrence(
        path=src.path,
        # By the name: an access the parser joined across #if lines starts outside its branch.
        kind="foreign" if foreign else classify(name, "use"),
        layout=name.text.decode(),
        member=member,
        start=whole.start_byte,
        end=whole.end_byte,
        name_start=name.start_byte,
        line=line,
        col=col,
        text=whole.text.decode("utf-8", "replace"),
    )


def _line_at(data: bytes, offset: int) -> str:
    start = data.rfind(b"\n", 0, offset) + 1
    end = data.find(b"\n", offset)
    return data[start:end if end >= 0 else len(data)].decode("utf-8", "replace").strip()


_API_NAMES_RE = re.compile(rb"\b(?:" + "|".join(OLD_API_NAMES).encode() + rb")\b")


def _c_occurrences(src: SourceFile, root: Node, classify=_kernel_kind) -> list[Occurrence]:
    q = _queries()
    found: list[Occurrence] = []
    if classify is _kernel_kind:
        # Only the definitions that hold one of the names can hold an occurrence.
        at = [m.start() for m in OLD_NAMES_RE.finditer(src.data)]
        at += [m.start() for m in _API_NAMES_RE.finditer(src.data)]
        units = units_around(root, at)
    else:
        units = [(0, root.end_byte + 1)]  # a view is another text: searched whole
    for _, caps in matches_in(q["access"], root, units):
        occ = _access_occurrence(src, caps["access"][0], caps["name"][0], classify)
        if occ is not None:
            found.append(occ)
    for _, caps in matches_in(q["member"], root, units):
        name = caps["name"][0]
        decl = name.parent
        line, col = src.line_col(name.start_byte)
        found.append(Occurrence(src.path, "declaration", name.text.decode(), None,
                                decl.start_byte, decl.end_byte, name.start_byte, line, col,
                                decl.text.decode("utf-8", "replace")))
    for _, caps in matches_in(q["alias"], root, units):
        name, value = caps["name"][0], caps["value"][0]
        if name.text.decode() in OLD_NAMES and value.text.strip().decode() in OLD_NAMES:
            define = name.parent
            line, col = src.line_col(name.start_byte)
            text = define.text.decode("utf-8", "replace").strip()
            found.append(Occurrence(src.path, "alias", name.text.decode(), None,
                                    define.start_byte, define.end_byte, name.start_byte,
                                    line, col, " ".join(text.split())))
    for _, caps in matches_in(q["api"], root, units):
        name = caps["name"][0]
        parent = name.parent
        if parent is not None and parent.type in ("preproc_def", "preproc_function_def", "function_declarator"):
            continue  # the definition itself belongs to a recipe
        if name.type == "type_identifier" and (parent is None or parent.type != "struct_specifier"):
            continue  # a typedef name that happens to match
        if parent is not None and parent.type == "field_declaration":
            continue
        line, col = src.line_col(name.start_byte)
        kind = classify(name, "api")
        found.append(Occurrence(src.path, kind, name.text.decode(), None, name.start_byte,
                                name.end_byte, name.start_byte, line, col, _line_at(src.data, name.start_byte)))
    for _, caps in matches_in(q["comment"], root, units):
        comment = caps["comment"][0]
        for m in OLD_NAMES_RE.finditer(comment.text):
            at = comment.start_byte + m.start()
            line, col = src.line_col(at)
            kind = classify(comment, "comment")
            found.append(Occurrence(src.path, kind, m.group(0).decode(), None,
                                    comment.start_byte, comment.end_byte, at, line, col,
                                    _line_at(src.data, at)))
    if classify is _kernel_kind:  # out of the tree, text occurrences list what no parse read
        found += _unread_occurrences(src, root, found)
    return sorted(found, key=lambda o: o.name_start)


_OPAQUE = ("preproc_arg", "ERROR")  # text the parser leaves unread
_LITERALS = ("string_literal", "char_literal", "system_lib_string", "string_content")


def _unread_occurrences(src: SourceFile, root: Node, known: list[Occurrence]) -> list[Occurrence]:
    """Layout names that no occurrence accounts for and that sit where the parser could not look.

    A name in a string, or an identifier the parser did read (a local
    variable named core_layout, another struct's field), is no use; one in an
    ERROR node or a macro body may be, and one split by a backslash-newline
    is.  These are listed, never silently dropped.
    """
    taken = {o.name_start for o in known}
    spans = [(o.start, o.end) for o in known if o.kind == "alias"]
    found = []
    for m in OLD_NAMES_RE.finditer(src.data):
        at = m.start()
        if at in taken or any(s <= at < e for s, e in spans):
            continue
        node = root.descendant_for_byte_range(at, m.end())
        chain = [node, *ancestors(node)] if node is not None else []
        if any(n.type in _LITERALS or n.type == "comment" for n in chain):
            continue
        misread = node is not None and node.type == "identifier" and _after_member_operator(src.data, at)
        if not misread and not any(n.type in _OPAQUE or n.is_error for n in chain):
            continue
        found.append(_unread(src, "unparsed", m.group(0).decode(), at, m.end()))
    if b"\\\n" in src.data or b"\\\r\n" in src.data:
        found += _spliced_names(src)
    return found


def _after_member_operator(data: bytes, at: int) -> bool:
    """Whether `->` or `.` stands before `at`, across blanks and preprocessor lines: a
    member the parser read as a plain name because an #if cut the expression."""
    before = data[max(0, at - 4096):at]
    while True:
        before = before.rstrip()
        line_start = before.rfind(b"\n") + 1
        if not before[line_start:].lstrip().startswith(b"#"):
            return before.endswith((b"->", b"."))
        before = before[:line_start]


def _unread(src: SourceFile, kind: str, layout: str, start: int, end: int) -> Occurrence:
    line, col = src.line_col(start)
    return Occurrence(src.path, kind, layout, None, start, end, start, line, col, _line_at(src.data, start))


_SPLICE_RE = re.compile(rb"\\\r?\n")


def _spliced_names(src: SourceFile) -> list[Occurrence]:
    """Names that only appear once the backslash-newlines are joined."""
    pieces, origin, pos = [], [], 0  # origin[i]: offset in the file of the i-th joined piece
    for m in _SPLICE_RE.finditer(src.data):
        pieces.append(src.data[pos:m.start()])
        origin.append(pos)
        pos = m.end()
    pieces.append(src.data[pos:])
    origin.append(pos)
    joined_starts, size = [], 0
    for piece in pieces:
        joined_starts.append(size)
        size += len(piece)
    joined = b"".join(pieces)

    def to_file(offset: int) -> int:
        i = bisect.bisect_right(joined_starts, offset) - 1
        return origin[i] + offset - joined_starts[i]

    found = []
    for m in OLD_NAMES_RE.finditer(joined):
        start, last = to_file(m.start()), to_file(m.end() - 1)
        if last - start != m.end() - 1 - m.start():  # a splice inside the name
            found.append(_unread(src, "spliced", m.group(0).decode(), start, last + 1))
    return found


def _python_occurrences(src: SourceFile, out_of_tree: bool = False) -> list[Occurrence]:
    """gdb scripts' subscripts; out of the tree, every runtime reader's access."""
    kind = "python-reader" if out_of_tree else "python"
    found = []
    for m in _PYTHON_RE.finditer(src.data):
        line, col = src.line_col(m.start(2))
        found.append(Occurrence(src.path, kind, m.group(2).decode(), None,
                                m.start(), m.end(), m.start(2), line, col, m.group(0).decode()))
    if out_of_tree:
        for m in _PYTHON_ATTRIBUTE_RE.finditer(src.data):
            member = m.group(2).decode() if m.group(2) and m.group(2).decode() in LAYOUT_MEMBERS else None
            line, col = src.line_col(m.start(1))
            found.append(Occurrence(src.path, kind, m.group(1).decode(), member, m.start(), m.end(),
                                    m.start(1), line, col, _line_at(src.data, m.start(1))))
    return sorted(found, key=lambda o: o.name_start)


def _string_occurrences(src: SourceFile, root: Node, classify) -> list[Occurrence]:
    """Member names in C strings, as runtime readers look them up."""
    found = []
    for node in _strings(root):
        for m in OLD_NAMES_RE.finditer(node.text):
            at = node.start_byte + m.start()
            line, col = src.line_col(at)
            found.append(Occurrence(src.path, classify(node, "string"), m.group(0).decode(), None,
                                    node.start_byte, node.end_byte, at, line, col, _line_at(src.data, at)))
    return found


def _strings(root: Node):
    stack = [root]
    while stack:
        n = stack.pop()
        if n.type == "string_literal":
            yield n
        elif n.child_count:
            stack.extend(n.children)


def _text_occurrences(src: SourceFile, seen: set[int], classify_at) -> list[Occurrence]:
    """Names that no parse read: each is listed, so nothing is silent."""
    found = []
    for m in OLD_NAMES_RE.finditer(src.data):
        if m.start() in seen:
            continue
        line, col = src.line_col(m.start())
        found.append(Occurrence(src.path, classify_at(m.start(), "text"), m.group(0).decode(), None,
                                m.start(), m.end(), m.start(), line, col, _line_at(src.data, m.start())))
    return found


def out_of_tree_views(src: SourceFile, tree: tree_sitter.Tree | None, conds: Conditionals):
    """The parses an out-of-tree file's uses are found in (see parse/views.py)."""
    return code_views(src.path, src.data, tree, conds, OLD_NAMES_RE)


def _out_of_tree_occurrences(src: SourceFile, conds: Conditionals, views) -> list[Occurrence]:
    classify = BranchKinds(conds)
    found: dict[int, Occurrence] = {}
    for view in views:
        for occ in _c_occurrences(src, view.tree.root_node, classify):
            found.setdefault(occ.name_start, occ)
        for occ in _string_occurrences(src, view.tree.root_node, classify):
            found.setdefault(occ.name_start, occ)
    for occ in _text_occurrences(src, set(found), classify.at):
        found[occ.name_start] = occ
    return sorted(found.values(), key=lambda o: o.name_start)


def find_occurrences(src: SourceFile, tree: tree_sitter.Tree | None = None,
                     conds: Conditionals | None = None, views=None) -> list[Occurrence]:
    """All occurrences in a file; C files are parsed unless a tree is given.

    With the file's conditionals (an out-of-tree run), uses are judged by the
    branches that a 6.4+ kernel compiles, #define values and tapsets' embedded
    C are read too, and every name is listed.
    """
    if src.path.endswith(".py"):
        return _python_occurrences(src, out_of_tree=conds is not None)
    if conds is not None:
        return _out_of_tree_occurrences(src, conds, views or out_of_tree_views(src, tree, conds))
    return _c_occurrences(src, (tree or parse_c(src.data)).root_node)
