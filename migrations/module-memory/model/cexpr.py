"""Compile the C the check must judge into Python callables over a :class:`MemoryMap`.

Only the small part of C that module-memory code is written in is understood:
integer and pointer arithmetic (unsigned, 64-bit, with 32-bit casts
truncating), comparisons, ``&&``/``||``/``!``, ``?:``, casts, the fields of
``core_layout``/``init_layout``/``data_layout`` and of ``mem[type]``, calls of
functions and function-like macros whose definitions the scope holds (the
file itself and include/linux/module.h), and inside those functions local
declarations, ``if``, ``return``, ``#ifdef CONFIG_*`` and the loops
``for_each_mod_mem_type(type)`` / ``for_class_mod_mem_type(type, class)``.

Anything else raises :class:`Unevaluable` with the reason, so a caller can say
what it did not judge instead of guessing.  Compilation turns each C
expression into Python source once; judging a million addresses then costs
about a microsecond each.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable

from tree_sitter import Node

from migrator.verify.kconfig import KernelConfig
from migrator.parse import parse_c
from migrator.parse.syntax import descendants, function_declarator, function_name, text as node_text

from .pack import VOCABULARY

MASK = (1 << 64) - 1
OLD_LAYOUTS = {"core_layout": "core", "init_layout": "init", "data_layout": "data"}
LAYOUT_FIELDS = ("base", "size", "text_size", "ro_size", "ro_after_init_size")
NARROW_TYPES = {"u32", "uint32_t", "unsigned int", "int", "unsigned", "Elf32_Addr", "s32", "__u32"}
_NEW = VOCABULARY.new
LOOP_MACROS = _NEW.statement_macros
NUM_TYPES = len(_NEW.types)
# What Scope.add_source reads whole, without looking inside.
_DEFINITIONS = ("function_definition", "preproc_function_def", "preproc_def")

# Kinds of values: a truth value, an address, a plain integer; and, never a
# value of their own, a 6.1 layout, the mem[] array and one mem[] slot.
BOOL, ADDR, INT = "bool", "addr", "int"
_LAYOUT, _MEMS, _SLOT = "layout", "mems", "slot"

# C operators whose result has one kind, as Python over 64-bit values ({a}, {b}:
# the operands); + and - give an address or an integer, by their operands.
_UNARY = {"!": ("(not {a})", BOOL), "-": ("((-{a}) & MASK)", INT), "~": ("((~{a}) & MASK)", INT)}
_BINARY = {
    **{op: (f"({{a}} {op} {{b}})", BOOL) for op in ("<", "<=", ">", ">=", "==", "!=")},
    "&&": ("({a} and {b})", BOOL), "||": ("({a} or {b})", BOOL),
    **{op: (f"(({{a}} {op} {{b}}) & MASK)", INT) for op in ("*", "&", "|", "^", "<<", ">>")},
    "/": ("({a} // {b})", INT), "%": ("({a} % {b})", INT),
}


class Unevaluable(Exception):
    """The code uses something the compiler does not model; the message says what."""


@dataclass
class Scope:
    """What calls can reach: functions and macros by name, and integer constants."""

    functions: dict[str, tuple[Node, bytes]] = field(default_factory=dict)
    macros: dict[str, tuple[tuple[str, ...], bytes]] = field(default_factory=dict)
    constants: dict[str, int] = field(default_factory=dict)

    def add_source(self, data: bytes, tree=None, override: bool = True) -> None:
        """Collect the definitions of one file (later files override earlier ones if asked)."""
        root = (tree or parse_c(data)).root_node
        found_functions: dict[str, tuple[Node, bytes]] = {}
        for node in descendants(root, into=lambda n: n.type not in _DEFINITIONS):
            if node.type == "function_definition":
                name = function_name(node, data)
                if name and name not in found_functions and not _in_else(node):
                    found_functions[name] = (node, data)
                continue
            if node.type == "preproc_function_def":
                name = node_text(node.child_by_field_name("name"), data)
                params = node.child_by_field_name("parameters")
                value = node.child_by_field_name("value")
                if params is not None and value is not None:
                    names = tuple(node_text(p, data) for p in params.named_children
                                  if p.type == "identifier")
                    if override or name not in self.macros:
                        self.macros.setdefault(name, (names, data[value.start_byte:value.end_byte]))
                continue
            if node.type == "preproc_def":
                name = node_text(node.child_by_field_name("name"), data)
                value = node.child_by_field_name("value")
                number = _number(data[value.start_byte:value.end_byte].strip()) if value else None
                if number is not None:
                    self.constants.setdefault(name, number)
                continue
            if node.type == "enum_specifier":
                body = node.child_by_field_name("body")
                if body is not None:
                    self._enum(body, data)
        for name, value in found_functions.items():
            if override or name not in self.functions:
                self.functions[name] = value

    def _enum(self, body: Node, data: bytes) -> None:
        value = 0
        for e in body.named_children:
            if e.type != "enumerator":
                continue
            name = node_text(e.child_by_field_name("name"), data)
            v = e.child_by_field_name("value")
            if v is not None:
                text = node_text(v, data).strip()
                number = _number(text.encode())
                if number is None and text.startswith("-"):
                    inner = _number(text[1:].strip().encode())
                    number = -inner if inner is not None else None
                if number is None:
                    number = self.constants.get(text)
                if number is None:
                    continue
                value = number
            self.constants.setdefault(name, value)
            value += 1


def _in_else(node: Node) -> bool:
    """Inside the #else of a conditional: the stub a configuration without the feature gets."""
    while node.parent is not None:
        if node.parent.type in ("preproc_else", "preproc_elif"):
            return True
        node = node.parent
    return False





_NUMBER_RE = re.compile(rb"^\(?\s*(0[xX][0-9a-fA-F]+|[0-9]+)[uUlL]*\s*\)?$")


def _number(text: bytes) -> int | None:
    m = _NUMBER_RE.match(text)
    if not m:
        return None
    digits = m.group(1).decode()
    if digits.lower().startswith("0x"):
        return int(digits, 16)
    if len(digits) > 1 and digits.startswith("0"):
        return int(digits, 8)
    return int(digits)


def config_value(option: str, config: KernelConfig) -> bool | None:
    """The value of a CONFIG_ option the loader's layout depends on; None if not modelled."""
    known = {
        "CONFIG_MODULES": True,
        "CONFIG_ARCH_WANTS_MODULES_DATA_IN_VMALLOC": config.data_in_vmalloc,
        "CONFIG_STRICT_MODULE_RWX": config.strict_module_rwx,
        "CONFIG_MODULE_UNLOAD": config.module_unload,
        "CONFIG_KALLSYMS": config.kallsyms,
        "CONFIG_64BIT": config.arch not in ("armhf", "armel", "i386"),
    }
    return known.get(option)


@dataclass(frozen=True)
class Compiled:
    """A C expression as a Python callable ``fn(M, a)``: M the memory map, a the address."""

    fn: Callable
    kind: str
    source: str


class Compiler:
    """Compiles expressions of one file under one kernel configuration.

    ``free`` says what a free lower-case identifier is: ``"address"`` (the
    address a predicate is asked about) or None (not known: Unevaluable).
    """

    def __init__(self, scope: Scope, config: KernelConfig):
        self.scope = scope
        self.config = config
        self.ns: dict = {"MASK": MASK, "_idx": _checked_index}
        self.kinds: dict[str, str] = {}
        self.compiling: set[str] = set()
        self.num_types = scope.constants.get(_NEW.count, NUM_TYPES)

    # ------------------------------------------------------------ expressions

    def expression(self, node: Node, data: bytes, free: str | None) -> Compiled:
        py, kind = self._expr(node, data, {}, free)
        fn = eval(f"lambda M, a: {py}", self.ns)  # noqa: S307 - our own generated source
        return Compiled(fn, kind, py)

    def _expr(self, node: Node, data: bytes, env: dict, free: str | None) -> tuple[str, str]:
        t = node.type
        if t in ("parenthesized_expression",):
            inner = [c for c in node.named_children if c.type != "comment"]
            if len(inner) != 1:
                raise Unevaluable(f"`{node_text(node, data)}`: not one expression")
            return self._expr(inner[0], data, env, free)
        if t == "number_literal":
            n = _number(data[node.start_byte:node.end_byte])
            if n is None:
                raise Unevaluable(f"number {node_text(node, data)}")
            return str(n), INT
        if t == "true":
            return "True", BOOL
        if t == "false":
            return "False", BOOL
        if t == "null":
            return "0", ADDR
        if t == "identifier":
            return self._identifier(node_text(node, data), env, free)
        if t == "field_expression":
            return self._field(node, data, env, free)
        if t == "subscript_expression":
            arg = node.child_by_field_name("argument")
            py, kind = self._expr(arg, data, env, free)
            if kind != _MEMS:
                raise Unevaluable(f"`{node_text(node, data)}`: an array other than mem[]")
            index, _ = self._expr(node.child_by_field_name("index"), data, env, free)
            return f"_idx({index})", _SLOT
        if t == "cast_expression":
            type_text = " ".join(node_text(node.child_by_field_name("type"), data).split())
            py, kind = self._expr(node.child_by_field_name("value"), data, env, free)
            if type_text in NARROW_TYPES:
                return f"(({py}) & 0xFFFFFFFF)", INT if kind == BOOL else kind
            return py, kind
        if t == "binary_expression":
            return self._binary(node, data, env, free)
        if t == "unary_expression":
            op = node.child_by_field_name("operator").type
            py, kind = self._expr(node.child_by_field_name("argument"), data, env, free)
            if op == "+":
                return py, kind
            if op not in _UNARY:
                raise Unevaluable(f"operator {op}")
            form, kind = _UNARY[op]
            return form.format(a=py), kind
        if t == "conditional_expression":
            c, _ = self._expr(node.child_by_field_name("condition"), data, env, free)
            a, ka = self._expr(node.child_by_field_name("consequence"), data, env, free)
            b, kb = self._expr(node.child_by_field_name("alternative"), data, env, free)
            return f"({a} if {c} else {b})", ka if ka == kb else (ADDR if ADDR in (ka, kb) else INT)
        if t == "call_expression":
            return self._call(node, data, env, free)
        raise Unevaluable(f"`{node_text(node, data)}` ({t.replace('_', ' ')})")

    def _identifier(self, name: str, env: dict, free: str | None) -> tuple[str, str]:
        if name in env:
            return env[name]
        if name in self.scope.constants:
            return str(self.scope.constants[name]), INT
        if name == "NULL":
            return "0", ADDR
        if free == "address" and not name.isupper() and not name.startswith("__"):
            return "a", ADDR
        raise Unevaluable(f"`{name}` is not known here")

    def _field(self, node: Node, data: bytes, env: dict, free: str | None) -> tuple[str, str]:
        name = node_text(node.child_by_field_name("field"), data)
        if name in OLD_LAYOUTS:
            return OLD_LAYOUTS[name], _LAYOUT
        if name == "mem":
            return "", _MEMS
        arg = node.child_by_field_name("argument")
        if arg.type in ("field_expression", "subscript_expression"):
            inner, kind = self._expr(arg, data, env, free)
            if kind == _LAYOUT and name in LAYOUT_FIELDS:
                return f"M.{inner}_{name}", ADDR if name == "base" else INT
            if kind == _SLOT and name in ("base", "size"):
                return f"M.mem_{name}[{inner}]", ADDR if name == "base" else INT
        raise Unevaluable(f"`{node_text(node, data)}` is not a field of module memory")

    def _binary(self, node: Node, data: bytes, env: dict, free: str | None) -> tuple[str, str]:
        op = node.child_by_field_name("operator").type
        a, ka = self._expr(node.child_by_field_name("left"), data, env, free)
        b, kb = self._expr(node.child_by_field_name("right"), data, env, free)
        if op == "+":
            return f"(({a} + {b}) & MASK)", ADDR if ADDR in (ka, kb) else INT
        if op == "-":
            kind = INT if ka == kb == ADDR else (ADDR if ka == ADDR else INT)
            return f"(({a} - {b}) & MASK)", kind
        if op not in _BINARY:
            raise Unevaluable(f"operator {op}")
        form, kind = _BINARY[op]
        return form.format(a=a, b=b), kind

    def _call(self, node: Node, data: bytes, env: dict, free: str | None) -> tuple[str, str]:
        fn = node.child_by_field_name("function")
        name = node_text(fn, data)
        args = [c for c in node.child_by_field_name("arguments").named_children
                if c.type != "comment"]
        if fn.type == "parenthesized_expression" and len(args) == 1 and \
                len(fn.named_children) == 1 and fn.named_children[0].type == "identifier":
            # `(u32)(x)`: a cast the grammar cannot tell from a call without the typedef.
            py, kind = self._expr(args[0], data, env, free)
            if " ".join(name.strip("()").split()) in NARROW_TYPES:
                return f"(({py}) & 0xFFFFFFFF)", INT if kind == BOOL else kind
            return py, kind
        if fn.type != "identifier":
            raise Unevaluable(f"call through `{name}`")
        py_name = self.function(name)
        roles = self._module_params(name)
        compiled_args = []
        for position, arg in enumerate(args):
            if position < len(roles) and roles[position]:
                # The module pointer: fields are read through M, whatever module it names.
                compiled_args.append("None")
            else:
                compiled_args.append(self._expr(arg, data, env, free)[0])
        return f"{py_name}(M, {', '.join(compiled_args)})", self.kinds[py_name]

    # -------------------------------------------------------------- functions

    def _module_params(self, name: str) -> tuple[bool, ...]:
        """Which parameters of a function are ``struct module`` pointers."""
        if name not in self.scope.functions:
            return ()
        node, data = self.scope.functions[name]
        return tuple(is_module_pointer(t) for _n, t in parameter_types(node, data))

    def function(self, name: str) -> str:
        """The Python name of the compiled function or macro ``name``."""
        if name in self.scope.macros and name not in self.scope.functions:
            return self._macro(name)
        py_name = f"F_{name}"
        if py_name in self.ns or name in self.compiling:
            self.kinds.setdefault(py_name, BOOL)
            return py_name
        if name not in self.scope.functions:
            raise Unevaluable(f"`{name}()` is defined neither in the file nor in the API header")
        node, data = self.scope.functions[name]
        self.compiling.add(name)
        try:
            params = _parameters(node, data)
            env = {p: (f"v_{p}", INT) for p in params}
            kinds: list[str] = []
            lines = [f"def {py_name}(M, {', '.join(f'v_{p}' for p in params)}):"]
            self._statement(node.child_by_field_name("body"), data, env, lines, 1, kinds)
            lines.append("    return None")
        finally:
            self.compiling.discard(name)
        exec("\n".join(lines), self.ns)  # noqa: S102 - our own generated source
        self.kinds[py_name] = BOOL if BOOL in kinds else (kinds[0] if kinds else INT)
        return py_name

    def _macro(self, name: str) -> str:
        py_name = f"F_{name}"
        if py_name in self.ns:
            return py_name
        params, body = self.scope.macros[name]
        if b"##" in body or b"#" in body.replace(b"##", b""):
            raise Unevaluable(f"macro {name} pastes tokens")
        wrapped = b"int __v = (" + body.replace(b"\\\n", b" ") + b");"
        tree = parse_c(wrapped)
        value = _first(tree.root_node, "init_declarator")
        if value is None or tree.root_node.has_error:
            raise Unevaluable(f"macro {name} is not an expression")
        env = {p: (f"v_{p}", INT) for p in params}
        py, kind = self._expr(value.child_by_field_name("value"), wrapped, env, None)
        exec(f"def {py_name}(M, {', '.join(f'v_{p}' for p in params)}):\n    return {py}",
             self.ns)  # noqa: S102
        self.kinds[py_name] = kind
        return py_name

    def _statement(self, node: Node, data: bytes, env: dict, lines: list[str], depth: int,
                   kinds: list[str]) -> None:
        pad = "    " * depth
        t = node.type
        if t == "compound_statement":
            children = [c for c in node.named_children if c.type != "comment"]
            self._block(children, data, env, lines, depth, kinds)
            return
        if t == "return_statement":
            values = [c for c in node.named_children if c.type != "comment"]
            if len(values) != 1:
                raise Unevaluable("return without a value")
            py, kind = self._expr(values[0], data, env, None)
            kinds.append(kind)
            lines.append(f"{pad}return {py}")
            return
        if t == "if_statement":
            c, _ = self._expr(node.child_by_field_name("condition"), data, env, None)
            lines.append(f"{pad}if {c}:")
            self._statement(node.child_by_field_name("consequence"), data, env, lines, depth + 1,
                            kinds)
            alt = node.child_by_field_name("alternative")
            if alt is not None:
                lines.append(f"{pad}else:")
                inner = [c for c in alt.named_children if c.type != "comment"]
                self._block(inner, data, env, lines, depth + 1, kinds)
            return
        if t == "declaration":
            for d in node.children_by_field_name("declarator"):
                if d.type == "identifier":
                    # Declared here, given its value by an assignment below
                    # (v6.4's within_module_mem_type()); reading it before is an error.
                    env[node_text(d, data)] = (f"v_{node_text(d, data)}", INT)
                    continue
                if d.type != "init_declarator":
                    raise Unevaluable(f"declaration without a value: `{node_text(d, data)}`")
                name_node = d.child_by_field_name("declarator")
                while name_node.type == "pointer_declarator":
                    name_node = name_node.child_by_field_name("declarator")
                name = node_text(name_node, data)
                py, kind = self._expr(d.child_by_field_name("value"), data, env, None)
                env[name] = (f"v_{name}", kind)
                lines.append(f"{pad}v_{name} = {py}")
            return
        if t in ("preproc_ifdef", "preproc_if"):
            self._preproc(node, data, env, lines, depth, kinds)
            return
        if t == "expression_statement":
            expr = [c for c in node.named_children if c.type != "comment"]
            if expr and expr[0].type == "assignment_expression" and \
                    expr[0].child_by_field_name("operator").type == "=":
                left = expr[0].child_by_field_name("left")
                if left.type == "identifier" and node_text(left, data) in env:
                    py, kind = self._expr(expr[0].child_by_field_name("right"), data, env, None)
                    name = node_text(left, data)
                    env[name] = (env[name][0], kind)
                    lines.append(f"{pad}{env[name][0]} = {py}")
                    return
        raise Unevaluable(f"statement `{' '.join(node_text(node, data).split())[:60]}`")

    def _block(self, children: list[Node], data: bytes, env: dict, lines: list[str], depth: int,
               kinds: list[str]) -> None:
        pad = "    " * depth
        before = len(lines)
        i = 0
        while i < len(children):
            c = children[i]
            loop = _loop_macro(c, data)
            if loop is not None:
                if i + 1 >= len(children):
                    raise Unevaluable(f"{loop[0]} without a body")
                macro, var, cls = loop
                lines.append(f"{pad}for v_{var} in range({self.num_types}):")
                env[var] = (f"v_{var}", INT)
                if macro == "for_class_mod_mem_type":
                    test = self.function(f"mod_mem_type_is_{cls}")
                    lines.append(f"{pad}    if not {test}(M, v_{var}):")
                    lines.append(f"{pad}        continue")
                self._statement(children[i + 1], data, env, lines, depth + 1, kinds)
                i += 2
                continue
            self._statement(c, data, env, lines, depth, kinds)
            i += 1
        if len(lines) == before:
            lines.append(f"{pad}pass")

    def _preproc(self, node: Node, data: bytes, env: dict, lines: list[str], depth: int,
                 kinds: list[str]) -> None:
        if node.type != "preproc_ifdef":
            raise Unevaluable(f"`#if {node_text(node.child_by_field_name('condition'), data)}`")
        option = node_text(node.child_by_field_name("name"), data)
        value = config_value(option, self.config)
        if value is None:
            raise Unevaluable(f"{option} is not modelled")
        if data[node.start_byte:node.start_byte + 7] == b"#ifndef":
            value = not value
        alt = node.child_by_field_name("alternative")
        body = [c for c in node.named_children
                if c != alt and c.type != "comment" and c != node.child_by_field_name("name")]
        if value:
            self._block(body, data, env, lines, depth, kinds)
        elif alt is not None:
            inner = [c for c in alt.named_children if c.type != "comment"]
            self._block(inner, data, env, lines, depth, kinds)


def _loop_macro(node: Node, data: bytes) -> tuple[str, str, str] | None:
    if node.type != "expression_statement" or not node.named_children:
        return None
    call = node.named_children[0]
    if call.type != "call_expression":
        return None
    name = node_text(call.child_by_field_name("function"), data)
    if name not in LOOP_MACROS:
        return None
    args = [node_text(a, data) for a in call.child_by_field_name("arguments").named_children]
    if name == "for_each_mod_mem_type" and len(args) == 1:
        return name, args[0], ""
    if name == "for_class_mod_mem_type" and len(args) == 2:
        return name, args[0], args[1]
    return None


def _parameter_list(node: Node) -> list[Node]:
    """The parameters (and a variadic `...`) of the function a definition defines."""
    return function_declarator(node).child_by_field_name("parameters").named_children


def _parameter(p: Node, data: bytes) -> tuple[str | None, str]:
    """A parameter declaration's name (None if unnamed) and the `*` of its pointer declarators."""
    name, stars = p.child_by_field_name("declarator"), ""
    while name is not None and name.type != "identifier":
        if name.type == "pointer_declarator":
            stars += "*"
        name = name.child_by_field_name("declarator")
    return (None if name is None else node_text(name, data)), stars


def _parameters(node: Node, data: bytes) -> list[str]:
    out = []
    for p in _parameter_list(node):
        if p.type != "parameter_declaration":
            raise Unevaluable("variadic function")
        name, _stars = _parameter(p, data)
        if name is None:
            if node_text(p, data).strip() == "void":
                continue
            raise Unevaluable("unnamed parameter")
        out.append(name)
    return out


def parameter_types(node: Node, data: bytes) -> list[tuple[str, str]]:
    """``(name, type text)`` of a function's parameters, the type with its ``*``."""
    out = []
    for p in _parameter_list(node):
        if p.type != "parameter_declaration":
            continue
        name, stars = _parameter(p, data)
        if name is not None:
            out.append((name, " ".join(node_text(p.child_by_field_name("type"), data).split()) + stars))
    return out


def is_module_pointer(type_text: str) -> bool:
    """``struct module *`` (a type as :func:`parameter_types` spells it)."""
    return type_text.endswith("*") and type_text.rstrip("*").strip() == "struct module"


def _first(node: Node, kind: str) -> Node | None:
    return next((n for n in descendants(node) if n.type == kind), None)


def _checked_index(i: int) -> int:
    if not 0 <= i < NUM_TYPES:
        raise IndexError(f"mem[{i}] is not a memory type")
    return i
