"""The preprocessor's conditionals, read from the lines of a file, and what they mean.

tree-sitter parses `#if` only where it frames whole statements or
declarations; a `#ifdef` that splits an argument list is not a node at all.
So the conditionals are read here from the lines (with backslash
continuations and comments), as the preprocessor itself reads them, and each
condition is evaluated for two kernels, the sides of a migration's change
(see `Sides`): one before it and one after.  A condition is true, false or
unknown (None) on a side: a project's own probe macro is unknown, a version
test is an interval test, and the API's own macros are defined only on
their side.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# KERNEL_VERSION(a, b, c) as the kernel computes it, the sublevel clamped to 255.
def kernel_version(a: int, b: int, c: int) -> int:
    return (a << 16) + (b << 8) + min(c, 255)


@dataclass(frozen=True)
class Side:
    """A kernel the code is built for, as far as its #if lines can tell."""

    name: str  # e.g. "5.15", "6.0+"
    versions: tuple[int, int]  # LINUX_VERSION_CODE as an interval [low, high]
    defined: frozenset[str] = frozenset()  # API macros this side defines and the other lacks
    undefined: frozenset[str] = frozenset()  # the other side's


@dataclass(frozen=True)
class Sides:
    """The two kernels of a change: the one out-of-tree code still builds for, and any after."""

    old: Side
    new: Side


def sides_of_change(before: tuple[int, int], landed: tuple[int, int, int],
                    old_macros: frozenset[str] = frozenset(),
                    new_macros: frozenset[str] = frozenset()) -> Sides:
    """The kernel `before` (every sublevel of it) and every kernel from `landed` on."""
    a, b = before
    old = Side(f"{a}.{b}", (kernel_version(a, b, 0), kernel_version(a, b, 255)), old_macros, new_macros)
    new_name = ".".join(str(n) for n in (landed if landed[2] else landed[:2])) + "+"
    new = Side(new_name, (kernel_version(*landed), 1 << 24), new_macros, old_macros)
    return Sides(old, new)


@dataclass(frozen=True)
class Branch:
    """One branch of a conditional: its directive and its body's bytes."""

    directive: str  # if, ifdef, ifndef, elif, else
    condition: str  # the text after the directive, comments removed, lines joined
    start: int  # the directive line's first byte
    body_start: int  # the first byte after the directive line(s)
    body_end: int  # the first byte of the next directive of the same block


@dataclass(frozen=True)
class Block:
    """#if ... #endif: its branches, and the byte after the #endif line."""

    branches: tuple[Branch, ...]
    end: int
    endif_start: int


@dataclass(frozen=True)
class Define:
    """A #define: its name, parameters' text, and the byte span of its value."""

    name: str
    params: str | None
    start: int  # the directive line's first byte
    end: int  # the byte after its last line
    value_start: int
    value_end: int


_DIRECTIVE_RE = re.compile(rb"^[ \t]*#[ \t]*(\w+)[ \t]*", re.M)
_DEFINE_RE = re.compile(rb"(\w+)(\([^)]*\))?[ \t]*")


def _logical_line_end(data: bytes, at: int) -> int:
    """The byte after the newline ending the logical line at `at` (continuations joined)."""
    while True:
        nl = data.find(b"\n", at)
        if nl < 0:
            return len(data)
        if data[nl - 1:nl] == b"\\" or (data[nl - 2:nl] == b"\\\r"):
            at = nl + 1
            continue
        # A block comment that runs past the line end belongs to the directive.
        line = data[at:nl]
        opened = line.rfind(b"/*")
        if opened >= 0 and line.find(b"*/", opened) < 0:
            close = data.find(b"*/", nl)
            if close >= 0:
                at = close + 2
                continue
        return nl + 1


def _strip_comments(text: bytes) -> str:
    text = re.sub(rb"/\*.*?\*/", b" ", text, flags=re.S)
    text = re.sub(rb"//.*", b"", text)
    text = text.replace(b"\\\r\n", b" ").replace(b"\\\n", b" ")
    return " ".join(text.decode("latin-1").split())


@dataclass(frozen=True)
class Conditionals:
    """The conditional blocks and #defines of one file."""

    blocks: tuple[Block, ...]
    defines: tuple[Define, ...]

    def enclosing(self, offset: int) -> list[tuple[Block, int]]:
        """(block, branch index) around a byte, outermost first."""
        found = []
        for block in self.blocks:
            for i, br in enumerate(block.branches):
                if br.body_start <= offset < br.body_end:
                    found.append((block, i))
        found.sort(key=lambda bi: bi[0].branches[0].start)
        return found

    def define_at(self, offset: int) -> Define | None:
        return next((d for d in self.defines if d.start <= offset < d.end), None)


def read_conditionals(data: bytes) -> Conditionals:
    """Every #if block and #define of a file, by byte offsets."""
    blocks: list[Block] = []
    defines: list[Define] = []
    stack: list[list[tuple[str, str, int, int]]] = []
    pos = 0
    for m in _DIRECTIVE_RE.finditer(data):
        if m.start() < pos:
            continue  # inside a continued directive or a comment it opened
        line_end = _logical_line_end(data, m.start())
        pos = line_end
        word = m.group(1).decode("latin-1")
        rest = data[m.end():line_end]
        if word in ("if", "ifdef", "ifndef"):
            stack.append([(word, _strip_comments(rest), m.start(), line_end)])
        elif word in ("elif", "else", "elifdef", "elifndef") and stack:
            stack[-1].append((word, _strip_comments(rest), m.start(), line_end))
        elif word == "endif" and stack:
            entries = stack.pop()
            branches = []
            for i, (w, cond, start, body_start) in enumerate(entries):
                body_end = entries[i + 1][2] if i + 1 < len(entries) else m.start()
                branches.append(Branch(w, cond, start, body_start, body_end))
            blocks.append(Block(tuple(branches), line_end, m.start()))
        elif word == "define":
            d = _DEFINE_RE.match(data, m.end())
            if d is not None:
                params = d.group(2).decode("latin-1") if d.group(2) else None
                value_end = line_end - 1 if data[line_end - 1:line_end] == b"\n" else line_end
                defines.append(Define(d.group(1).decode("latin-1"), params, m.start(), line_end,
                                      d.end(), value_end))
    blocks.sort(key=lambda b: b.branches[0].start)
    return Conditionals(tuple(blocks), tuple(defines))


# -- evaluation ---------------------------------------------------------------

_TOKEN_RE = re.compile(r"\s*(?:(0[xX][0-9a-fA-F]+|\d+)[uUlL]*|(\w+)|(&&|\|\||==|!=|<=|>=|<<|>>|[-+*/%<>!()?:,]))")


class _Unknown(Exception):
    """The expression needs a value that is not known on this side."""


# A value is an interval of integers (low, high); known when low == high.
Value = tuple[int, int]
_TRUE, _FALSE, _MAYBE = (1, 1), (0, 0), (0, 1)


def _truth(v: Value) -> bool | None:
    if v[0] > 0 or v[1] < 0:
        return True
    if v == (0, 0):
        return False
    return None


def _as_value(t: bool | None) -> Value:
    return _MAYBE if t is None else (_TRUE if t else _FALSE)


def _compare(op: str, a: Value, b: Value) -> Value:
    lo_true = {"<": a[1] < b[0], "<=": a[1] <= b[0], ">": a[0] > b[1], ">=": a[0] >= b[1],
               "==": a[0] == a[1] == b[0] == b[1], "!=": a[1] < b[0] or a[0] > b[1]}[op]
    never = {"<": a[0] >= b[1], "<=": a[0] > b[1], ">": a[1] <= b[0], ">=": a[1] < b[0],
             "==": a[1] < b[0] or a[0] > b[1], "!=": a[0] == a[1] == b[0] == b[1]}[op]
    return _TRUE if lo_true else (_FALSE if never else _MAYBE)


class _Parser:
    """A recursive-descent reader of #if expressions over intervals."""

    def __init__(self, text: str, side: Side, defined: frozenset[str], undefined: frozenset[str]):
        self.tokens = []
        pos = 0
        text = text.strip()
        while pos < len(text):
            m = _TOKEN_RE.match(text, pos)
            if m is None or m.end() == pos:
                raise _Unknown(text[pos:])
            self.tokens.append(m.group(1) or m.group(2) or m.group(3))
            pos = m.end()
        self.i = 0
        self.side = side
        # The side's own API macros are known too.
        self.defined, self.undefined = defined | side.defined, undefined | side.undefined

    def peek(self) -> str | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self, want: str | None = None) -> str:
        tok = self.peek()
        if tok is None or (want is not None and tok != want):
            raise _Unknown(f"expected {want}")
        self.i += 1
        return tok

    def parse(self) -> Value:
        v = self.ternary()
        if self.peek() is not None:
            raise _Unknown(self.peek())
        return v

    def ternary(self) -> Value:
        cond = self.logical_or()
        if self.peek() != "?":
            return cond
        self.take("?")
        a = self.ternary()
        self.take(":")
        b = self.ternary()
        t = _truth(cond)
        return a if t else b if t is False else (min(a[0], b[0]), max(a[1], b[1]))

    def logical_or(self) -> Value:
        v = self.logical_and()
        while self.peek() == "||":
            self.take()
            w = self.logical_and()
            a, b = _truth(v), _truth(w)
            v = _TRUE if a or b else (_FALSE if a is False and b is False else _MAYBE)
        return v

    def logical_and(self) -> Value:
        v = self.comparison()
        while self.peek() == "&&":
            self.take()
            w = self.comparison()
            a, b = _truth(v), _truth(w)
            v = _FALSE if a is False or b is False else (_TRUE if a and b else _MAYBE)
        return v

    def comparison(self) -> Value:
        v = self.shift()
        while self.peek() in ("<", "<=", ">", ">=", "==", "!="):
            op = self.take()
            v = _compare(op, v, self.shift())
        return v

    def shift(self) -> Value:
        v = self.additive()
        while self.peek() in ("<<", ">>"):
            op = self.take()
            w = self.additive()
            if v[0] != v[1] or w[0] != w[1]:
                raise _Unknown(op)
            v = (v[0] << w[0],) * 2 if op == "<<" else (v[0] >> w[0],) * 2
        return v

    def additive(self) -> Value:
        v = self.unary()
        while self.peek() in ("+", "-", "*", "/", "%"):
            op = self.take()
            w = self.unary()
            if op == "+":
                v = (v[0] + w[0], v[1] + w[1])
            elif op == "-":
                v = (v[0] - w[1], v[1] - w[0])
            elif v[0] == v[1] and w[0] == w[1] and (op == "*" or w[0]):
                x = {"*": v[0] * w[0], "/": v[0] // w[0] if w[0] else 0, "%": v[0] % w[0] if w[0] else 0}[op]
                v = (x, x)
            else:
                raise _Unknown(op)
        return v

    def unary(self) -> Value:
        tok = self.peek()
        if tok == "!":
            self.take()
            t = _truth(self.unary())
            return _as_value(None if t is None else not t)
        if tok == "-":
            self.take()
            v = self.unary()
            return (-v[1], -v[0])
        if tok == "(":
            self.take()
            v = self.ternary()
            self.take(")")
            return v
        return self.primary()

    def primary(self) -> Value:
        tok = self.take()
        if tok[0].isdigit():
            n = int(tok, 0)
            return (n, n)
        if tok == "defined":
            paren = self.peek() == "("
            if paren:
                self.take("(")
            name = self.take()
            if paren:
                self.take(")")
            return self.is_defined(name)
        if tok == "KERNEL_VERSION":
            self.take("(")
            parts = [self.ternary()]
            while self.peek() == ",":
                self.take(",")
                parts.append(self.ternary())
            self.take(")")
            if len(parts) != 3 or any(p[0] != p[1] for p in parts):
                raise _Unknown("KERNEL_VERSION")
            n = kernel_version(parts[0][0], parts[1][0], parts[2][0])
            return (n, n)
        if tok == "LINUX_VERSION_CODE":
            return self.side.versions
        if tok in self.defined or tok in self.undefined:
            return _MAYBE  # a macro used as a value: its value is not known
        raise _Unknown(tok)

    def is_defined(self, name: str) -> Value:
        if name in ("LINUX_VERSION_CODE", "KERNEL_VERSION"):
            return _TRUE
        if name in self.defined:
            return _TRUE
        if name in self.undefined:
            return _FALSE
        return _MAYBE


def evaluate(directive: str, condition: str, side: Side,
             defined: frozenset[str] = frozenset(), undefined: frozenset[str] = frozenset()) -> bool | None:
    """Whether a branch's own condition holds on a side: True, False or None (unknown)."""
    if directive == "else":
        return True
    if directive in ("ifdef", "elifdef"):
        condition = f"defined({condition.split()[0]})" if condition else ""
    elif directive in ("ifndef", "elifndef"):
        condition = f"!defined({condition.split()[0]})" if condition else ""
    try:
        return _truth(_Parser(condition, side, defined, undefined).parse())
    except (_Unknown, ZeroDivisionError, IndexError):
        return None


def taken(block: Block, index: int, side: Side, **known) -> bool | None:
    """Whether a block's branch is the one compiled on a side: its condition
    holds and no earlier branch's does."""
    result: bool | None = evaluate(block.branches[index].directive, block.branches[index].condition,
                                   side, **known)
    for br in block.branches[:index]:
        earlier = evaluate(br.directive, br.condition, side, **known)
        if earlier is True:
            return False
        if earlier is None and result is not False:
            result = None
    return result


def compiled(conds: Conditionals, offset: int, side: Side, **known) -> bool | None:
    """Whether a side's compiler sees the byte at offset: every branch around it taken."""
    result: bool | None = True
    for block, i in conds.enclosing(offset):
        t = taken(block, i, side, **known)
        if t is False:
            return False
        if t is None:
            result = None
    return result
