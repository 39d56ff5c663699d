"""Which lines of a file one kernel compiles: #if, #ifdef and #elif evaluated for it.

The facts of a kernel are its LINUX_VERSION_CODE, the CONFIG_ options it
sets (when a build directory says) and the macros its headers define.  A
condition over anything else (a project's own probe such as systemtap's
STAPCONF_*) has no value here: the lines under it are *unknown*, never
guessed as compiled or not.

Conditions are evaluated in three values (True, False, None for unknown):
``0 && X`` is false and ``1 || X`` true whatever X is.

This is the check's own small evaluator; :func:`line_states` and
:func:`project` are its whole interface, so that the match stage's
evaluator can take its place.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from migrator.model.kernel import Kernel, kernel_version


@dataclass(frozen=True)
class Facts:
    """What the preprocessor knows about one kernel."""

    version_code: int
    macros: frozenset[str]  # defined by the kernel's headers
    config: frozenset[str] | None  # CONFIG_ options set; None when unknown
    # Macros whose presence a kernel decides (those of any compared kernel's module.h,
    # such as the probe mod_mem_type_is_init): undefined when not in macros.
    decides: frozenset[str] = frozenset()

    @classmethod
    def of(cls, kernel: Kernel, others: tuple[Kernel, ...] = ()) -> "Facts":
        decides = frozenset().union(kernel.macros, *(k.macros for k in others))
        return cls(kernel.version_code, kernel.macros, kernel.config, decides)


_TOKEN_RE = re.compile(r"\s*(?:(0[xX][0-9a-fA-F]+|\d+)[uUlL]*|(\w+)|(&&|\|\||<<|>>|<=|>=|==|!=|[-+*/%<>!~&|^?:(),]))")
_DIRECTIVE_RE = re.compile(rb"^[ \t]*#[ \t]*(if|ifdef|ifndef|elif|else|endif|define|undef)\b(.*)$",
                           re.S)
_ALWAYS_DEFINED = frozenset({"LINUX_VERSION_CODE", "KERNEL_VERSION"})
_BINARY = {  # precedence, as in C
    "||": 1, "&&": 2, "|": 3, "^": 4, "&": 5, "==": 6, "!=": 6,
    "<": 7, "<=": 7, ">": 7, ">=": 7, "<<": 8, ">>": 8, "+": 9, "-": 9, "*": 10, "/": 10, "%": 10,
}


def _number(text: str) -> int:
    if len(text) > 1 and text[0] == "0" and text[1] not in "xX":
        return int(text, 8)
    return int(text, 0)


class _Evaluator:
    """A Pratt parser over one condition; values are int or None (unknown)."""

    def __init__(self, text: str, facts: Facts, defined: dict[str, bool | None]):
        self.tokens = []
        pos = 0
        text = text.strip()
        while pos < len(text):
            m = _TOKEN_RE.match(text, pos)
            if m is None or m.end() == pos:
                raise ValueError(text[pos:])
            self.tokens.append(_number(m.group(1)) if m.group(1) else m.group(2) or m.group(3))
            pos = m.end()
        self.i = 0
        self.facts = facts
        self.defined = defined

    def peek(self):
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self, expected=None):
        tok = self.peek()
        if expected is not None and tok != expected:
            raise ValueError(f"expected {expected}")
        self.i += 1
        return tok

    def value(self) -> int | None:
        v = self.expr(0)
        if self.peek() is not None:
            raise ValueError(str(self.peek()))
        return v

    def expr(self, min_prec: int) -> int | None:
        left = self.unary()
        while True:
            op = self.peek()
            if op == "?" and min_prec == 0:
                self.take()
                a = self.expr(0)
                self.take(":")
                b = self.expr(0)
                left = None if left is None else (a if left else b)
                continue
            prec = _BINARY.get(op) if isinstance(op, str) else None
            if prec is None or prec <= min_prec:
                return left
            self.take()
            left = _binary(op, left, self.expr(prec))

    def unary(self) -> int | None:
        tok = self.take()
        if tok is None:
            raise ValueError("end of condition")
        if isinstance(tok, int):
            return tok
        if tok == "(":
            v = self.expr(0)
            self.take(")")
            return v
        if tok in ("!", "~", "-", "+"):
            v = self.unary()
            if v is None:
                return None
            return {"!": int(not v), "~": ~v, "-": -v, "+": v}[tok]
        if tok == "defined":
            paren = self.peek() == "("
            if paren:
                self.take()
            name = self.take()
            if paren:
                self.take(")")
            known = self.is_defined(name)
            return None if known is None else int(known)
        if tok == "KERNEL_VERSION":
            self.take("(")
            args = [self.expr(0)]
            while self.peek() == ",":
                self.take()
                args.append(self.expr(0))
            self.take(")")
            return None if None in args or len(args) != 3 else kernel_version(*args)
        if tok in ("IS_ENABLED", "IS_BUILTIN", "IS_MODULE", "IS_REACHABLE"):
            self.take("(")
            name = self.take()
            self.take(")")
            if self.facts.config is None:
                return None
            if tok == "IS_MODULE":
                return int(f"{name}_MODULE" in self.facts.config)
            return int(name in self.facts.config or
                       (tok != "IS_BUILTIN" and f"{name}_MODULE" in self.facts.config))
        if tok == "LINUX_VERSION_CODE":
            return self.facts.version_code
        if tok.startswith("CONFIG_") and self.facts.config is not None:
            return int(tok in self.facts.config)
        if self.peek() == "(":  # an unknown function-like macro
            depth = 0
            while self.peek() is not None:
                t = self.take()
                depth += (t == "(") - (t == ")")
                if depth == 0:
                    break
        return None

    def is_defined(self, name: str) -> bool | None:
        if name in self.defined:
            return self.defined[name]
        if name in _ALWAYS_DEFINED or name in self.facts.macros:
            return True
        if name in self.facts.decides:
            return False
        if name.startswith("CONFIG_") and self.facts.config is not None:
            return name in self.facts.config
        return None


def _binary(op: str, a: int | None, b: int | None) -> int | None:
    if op == "&&":
        return 0 if a == 0 or b == 0 else None if a is None or b is None else 1
    if op == "||":
        return 1 if (a not in (0, None)) or (b not in (0, None)) else \
            None if a is None or b is None else 0
    if a is None or b is None:
        return None
    if op in ("/", "%") and b == 0:
        return None
    return {
        "|": lambda: a | b, "^": lambda: a ^ b, "&": lambda: a & b,
        "==": lambda: int(a == b), "!=": lambda: int(a != b), "<": lambda: int(a < b),
        "<=": lambda: int(a <= b), ">": lambda: int(a > b), ">=": lambda: int(a >= b),
        "<<": lambda: a << b, ">>": lambda: a >> b, "+": lambda: a + b, "-": lambda: a - b,
        "*": lambda: a * b, "/": lambda: int(a / b), "%": lambda: a % b,
    }[op]()


def evaluate(condition: str, facts: Facts,
             defined: dict[str, bool | None] | None = None) -> bool | None:
    """The value of an #if condition for a kernel: True, False, or None when unknown."""
    try:
        v = _Evaluator(condition, facts, defined or {}).value()
    except (ValueError, TypeError, IndexError):
        return None
    return None if v is None else bool(v)


def _strip_comments(text: str) -> str:
    return re.sub(r"/\*.*?\*/|//.*$", " ", text, flags=re.S | re.M)


def _logical_lines(data: bytes) -> list[tuple[int, int, bytes]]:
    """(first row, last row, text) of each line, with backslash-newlines joined."""
    rows = data.split(b"\n")
    out, i = [], 0
    while i < len(rows):
        first, text = i, rows[i]
        while text.endswith(b"\\") and i + 1 < len(rows):
            i += 1
            text = text[:-1] + b" " + rows[i]
        out.append((first, i, text))
        i += 1
    return out


@dataclass
class _Group:
    outer: bool | None  # the state of the lines around the #if
    taken: bool | None  # has an earlier branch been taken (None: maybe)
    state: bool | None  # the state of the current branch's lines


def _and(a: bool | None, b: bool | None) -> bool | None:
    if a is False or b is False:
        return False
    return None if a is None or b is None else True


def line_states(data: bytes, facts: Facts) -> list[bool | None]:
    """Per row of data: compiled (True), not (False) or unknown (None)."""
    rows = data.count(b"\n") + 1
    states: list[bool | None] = [True] * rows
    stack: list[_Group] = []
    current: bool | None = True
    defined: dict[str, bool | None] = {}
    for first, last, text in _logical_lines(data):
        m = _DIRECTIVE_RE.match(text)
        if m is None:
            for r in range(first, last + 1):
                states[r] = current
            continue
        kind, rest = m.group(1).decode(), _strip_comments(m.group(2).decode("latin-1"))
        if kind in ("define", "undef"):
            name = rest.split("(")[0].split()[0] if rest.split() else ""
            if name and current is not False:
                defined[name] = (kind == "define") if current else None
            value = current
        elif kind in ("if", "ifdef", "ifndef"):
            if kind == "if":
                cond = evaluate(rest, facts, defined)
            else:
                name = rest.split()[0] if rest.split() else ""
                known = defined.get(name) if name in defined else \
                    evaluate(f"defined({name})", facts, defined)
                cond = known if kind == "ifdef" or known is None else not known
            group = _Group(current, cond, _and(current, cond))
            stack.append(group)
            value = group.outer
            current = group.state
        elif kind in ("elif", "else") and stack:
            group = stack[-1]
            cond = True if kind == "else" else evaluate(rest, facts, defined)
            if group.taken is True:
                branch = False
            elif group.taken is False:
                branch = cond
            else:
                branch = None if cond is not False else False
            group.taken = True if group.taken is True or cond is True else \
                (False if group.taken is False and cond is False else None)
            group.state = _and(group.outer, branch)
            value = group.outer
            current = group.state
        elif kind == "endif" and stack:
            group = stack.pop()
            value = group.outer
            current = group.outer
        else:
            value = current
        for r in range(first, last + 1):
            states[r] = value
    return states


def project(data: bytes, facts: Facts) -> bytes:
    """data as one kernel compiles it: lines it does not compile, and the directives
    it decides, become empty; unknown branches stay.  Rows keep their numbers."""
    states = line_states(data, facts)
    rows = data.split(b"\n")
    directive_rows = _decided_directive_rows(data, facts)
    return b"\n".join(b"" if states[i] is False or i in directive_rows else row
                      for i, row in enumerate(rows))


def _decided_directive_rows(data: bytes, facts: Facts) -> set[int]:
    """Rows of the #if/#elif/#else/#endif lines of groups that have a value throughout."""
    out: set[int] = set()
    stack: list[tuple[list[int], bool]] = []  # (rows of the group's directives, decided)
    for first, last, text in _logical_lines(data):
        m = _DIRECTIVE_RE.match(text)
        if m is None:
            continue
        kind = m.group(1).decode()
        rows = list(range(first, last + 1))
        rest = _strip_comments(m.group(2).decode("latin-1"))
        if kind in ("if", "ifdef", "ifndef"):
            cond = evaluate(rest if kind == "if" else f"defined({rest.split()[0] if rest.split() else ''})",
                            facts)
            stack.append((rows, cond is not None))
        elif kind == "elif" and stack:
            group_rows, decided = stack[-1]
            stack[-1] = (group_rows + rows, decided and evaluate(rest, facts) is not None)
        elif kind == "else" and stack:
            stack[-1][0].extend(rows)
        elif kind == "endif" and stack:
            group_rows, decided = stack.pop()
            if decided:
                out.update(group_rows + rows)
    return out
