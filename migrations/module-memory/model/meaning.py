"""Does a rewritten expression mean what the 6.1 expression meant, on real modules?

Two kinds of expression are judged, each against the module's 6.1 and v6.4
memory maps (:mod:`memmap`):

* an address test ("is this address in X"): a comparison or a call of a
  predicate such as ``within_module_init()``, or a whole predicate function
  like arm's ``in_init()``.  The 6.1 test is asked about the 6.1 address of
  the first and the last byte of every section and loader block of every
  module, the rewritten test about the v6.4 address of the same byte; every
  answer must agree.
* an address: ``base``, ``base + text_size`` and the like.  Each side must
  point at the same item (the item it falls in, or the next one; for the end
  of a range, the previous one).  An address into an empty memory type points
  at no byte and is not compared.

Old and new expressions are paired by position: the files are compared line
by line, and within each changed block the n-th judged expression of the old
lines goes with the n-th of the new lines.  Functions whose whole body
changed and that test one address are paired by name.  What cannot be paired
or compiled is returned as a :class:`Note`, never guessed at.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field

from tree_sitter import Node

from migrator.parse.syntax import descendants, function_name, strip_casts, text as node_text
from migrator.verify.findings import Note, SourceViolation
from migrator.verify.kconfig import KernelConfig
from migrator.parse import parse_c
from .cexpr import (ADDR, BOOL, OLD_LAYOUTS, Compiler, Scope, Unevaluable, is_module_pointer,
                                  parameter_types)
from .memmap import MemoryMap, new_point, old_point

_EXPRESSION_PARENTS = {"binary_expression", "unary_expression", "cast_expression",
                       "parenthesized_expression", "conditional_expression", "field_expression",
                       "subscript_expression"}
_COMPARISONS = {"<", "<=", ">", ">=", "==", "!=", "&&", "||"}


@dataclass(frozen=True)
class ProbeSet:
    """Modules to judge against: their label (an architecture), config and memory maps."""

    label: str
    config: KernelConfig
    maps: tuple[MemoryMap, ...]
    # Judges addresses, not address tests: see probes.ProbeChooser.
    addresses_only: bool = False


@dataclass
class Side:
    node: Node
    data: bytes
    line: int
    col: int

    @property
    def text(self) -> str:
        return " ".join(node_text(self.node, self.data).split())


@dataclass
class Pair:
    """An old expression (or function) and the new one that replaced it."""

    path: str
    kind: str  # "predicate", "address" or "function"
    old: Side
    new: Side
    direction: str = "either"
    function: str = ""
    old_params: tuple[str, ...] = ()
    new_params: tuple[str, ...] = ()


@dataclass
class Stats:
    pairs: int = 0
    judged: int = 0
    probes: int = 0
    modules: int = 0
    labels: list[str] = field(default_factory=list)


# ------------------------------------------------------------------ pairing

def _old_use(node: Node, data: bytes) -> bool:
    if node.type == "field_identifier":
        return node_text(node, data) in OLD_LAYOUTS and node.parent.type == "field_expression"
    return _helper_call(node, data)


def _new_use(node: Node, data: bytes) -> bool:
    if node.type == "field_identifier":
        return node_text(node, data) == "mem" and node.parent.type == "field_expression"
    return _helper_call(node, data)


def _helper_call(node: Node, data: bytes) -> bool:
    if node.type != "call_expression":
        return False
    name = node_text(node.child_by_field_name("function"), data)
    return name.startswith("within_module") or "mod_mem" in name


def _uses(root: Node, data: bytes, is_use, lo: int, hi: int) -> list[Node]:
    """Use nodes on rows [lo, hi)."""
    def looked_at(n: Node) -> bool:
        return lo <= n.end_point[0] and n.start_point[0] < hi and n.type != "comment"

    return [n for n in descendants(root, into=looked_at) if looked_at(n) and is_use(n, data)]


def _static_kind(node: Node, data: bytes, call_kind) -> str:
    t = node.type
    if t in ("parenthesized_expression", "cast_expression"):
        inner = strip_casts(node)
        return "?" if inner.type in ("parenthesized_expression", "cast_expression") else \
            _static_kind(inner, data, call_kind)
    if t == "binary_expression":
        op = node.child_by_field_name("operator").type
        if op in _COMPARISONS:
            return BOOL
        left = _static_kind(node.child_by_field_name("left"), data, call_kind)
        right = _static_kind(node.child_by_field_name("right"), data, call_kind)
        if op == "+" and ADDR in (left, right):
            return ADDR
        if op == "-" and left == ADDR and right != ADDR:
            return ADDR
        return "int"
    if t == "unary_expression":
        return BOOL if node.child_by_field_name("operator").type == "!" else "int"
    if t == "conditional_expression":
        return _static_kind(node.child_by_field_name("consequence"), data, call_kind)
    if t == "field_expression":
        name = node_text(node.child_by_field_name("field"), data)
        arg = node.child_by_field_name("argument")
        if name == "base" and arg.type in ("field_expression", "subscript_expression"):
            inner = arg.child_by_field_name("field") if arg.type == "field_expression" else None
            if arg.type == "subscript_expression" or node_text(inner, data) in OLD_LAYOUTS:
                return ADDR
        return "int"
    if t == "call_expression":
        return call_kind(node_text(node.child_by_field_name("function"), data))
    return "?"


def _candidates(root: Node, data: bytes, is_use, lo: int, hi: int, covered, call_kind
                ) -> list[tuple[Node, str]]:
    """The outermost address tests and addresses holding a use on rows [lo, hi)."""
    found: dict[tuple[int, int], tuple[Node, str]] = {}
    for use in _uses(root, data, is_use, lo, hi):
        if any(s <= use.start_byte < e for s, e in covered):
            continue
        best, node = None, use
        while True:
            kind = _static_kind(node, data, call_kind)
            if kind in (BOOL, ADDR):
                best = (node, kind)
            parent = node.parent
            if parent is None or parent.type not in _EXPRESSION_PARENTS:
                break
            node = parent
        if best is not None:
            found[(best[0].start_byte, best[0].end_byte)] = best
    spans = sorted(found)
    # An address inside an outer test is judged with the test.
    outer = [s for s in spans if not any(o != s and o[0] <= s[0] and s[1] <= o[1] for o in spans)]
    return [found[s] for s in outer]


def _direction(node: Node, data: bytes, call_kind) -> str:
    """Whether an address starts a range, ends one, or ``either`` (the code does not say).

    As a call argument, an address followed by a length or by another address
    starts a range, and an address right after another address ends it.
    Elsewhere (``nextval = base + text_size``) both readings are accepted.
    """
    parent = node.parent
    if parent is None or parent.type != "argument_list":
        return "either"
    args = [c for c in parent.named_children if c.type != "comment"]
    at = next((i for i, a in enumerate(args) if a.id == node.id), -1)
    if at > 0 and _static_kind(args[at - 1], data, call_kind) == ADDR:
        return "end"
    if 0 <= at < len(args) - 1:
        return "start"
    return "either"


def _functions(root: Node, data: bytes) -> dict[str, Node]:
    out: dict[str, Node] = {}
    for n in descendants(root, into=lambda n: n.type != "function_definition"):
        if n.type == "function_definition":
            name = function_name(n, data)
            if name and name not in out:
                out[name] = n
    return out


def _predicate_params(node: Node, data: bytes) -> tuple[str, ...] | None:
    """``a`` for the one address parameter and ``None`` for module pointers, or None."""
    params = parameter_types(node, data)
    roles = tuple("None" if is_module_pointer(t) else "a" for _n, t in params)
    return roles if roles.count("a") == 1 and "None" in roles else None


def _body_text(node: Node, data: bytes) -> bytes:
    return data[node.start_byte:node.end_byte]


def _side(node: Node, data: bytes) -> Side:
    return Side(node, data, node.start_point[0] + 1, node.start_point[1] + 1)


def pair_changes(path: str, old_data: bytes, new_data: bytes, old_scope: Scope,
                 new_scope: Scope, config: KernelConfig) -> tuple[list[Pair], list[Note]]:
    """Pair the judged expressions of one file before and after its rewrite."""
    old_tree, new_tree = parse_c(old_data), parse_c(new_data)
    old_kind = _call_kinds(old_scope, config)
    new_kind = _call_kinds(new_scope, config)
    pairs: list[Pair] = []
    notes: list[Note] = []
    old_covered: list[tuple[int, int]] = []
    new_covered: list[tuple[int, int]] = []

    old_lines, new_lines = old_data.split(b"\n"), new_data.split(b"\n")
    matcher = difflib.SequenceMatcher(None, old_lines, new_lines, autojunk=False)
    opcodes = matcher.get_opcodes()
    changed = [j1 for tag, _i1, _i2, j1, j2 in opcodes if tag != "equal" and j2 > j1]

    old_fns, new_fns = _functions(old_tree.root_node, old_data), _functions(new_tree.root_node,
                                                                           new_data)
    for name, old_fn in old_fns.items():
        new_fn = new_fns.get(name)
        if new_fn is None or _body_text(old_fn, old_data) == _body_text(new_fn, new_data):
            continue
        if not _uses(old_fn, old_data, _old_use, 0, 1 << 30):
            continue
        old_roles, new_roles = _predicate_params(old_fn, old_data), _predicate_params(new_fn,
                                                                                       new_data)
        if old_roles is None or new_roles is None:
            continue
        if old_kind(name) != BOOL or new_kind(name) != BOOL:
            continue
        new_side = _side(new_fn, new_data)
        first = next((row for row in changed
                      if new_fn.start_point[0] <= row <= new_fn.end_point[0]), None)
        if first is not None:
            line = new_lines[first]
            new_side.line, new_side.col = first + 1, len(line) - len(line.lstrip()) + 1
        pairs.append(Pair(path, "function", _side(old_fn, old_data), new_side,
                          function=name, old_params=old_roles, new_params=new_roles))
        old_covered.append((old_fn.start_byte, old_fn.end_byte))
        new_covered.append((new_fn.start_byte, new_fn.end_byte))

    for tag, i1, i2, j1, j2 in opcodes:
        if tag == "equal":
            continue
        olds = _candidates(old_tree.root_node, old_data, _old_use, i1, i2, old_covered, old_kind)
        news = _candidates(new_tree.root_node, new_data, _new_use, j1, j2, new_covered, new_kind)
        if not olds:
            continue  # new code with no old counterpart rewrites nothing
        if len(olds) != len(news) or any(a[1] != b[1] for a, b in zip(olds, news)):
            where = news[0][0] if news else olds[0][0]
            line = where.start_point[0] + 1
            notes.append(Note(path, line if news else j1 + 1,
                              f"lines {i1 + 1}-{i2} of the original",
                              f"{len(olds)} old and {len(news)} new expressions "
                              f"({', '.join(k for _, k in olds) or 'none'} / "
                              f"{', '.join(k for _, k in news) or 'none'}) do not pair up"))
            continue
        for (o, kind), (n, _k) in zip(olds, news):
            pairs.append(Pair(path, "predicate" if kind == BOOL else "address",
                              _side(o, old_data), _side(n, new_data),
                              direction=_direction(n, new_data, new_kind)))
    return pairs, notes


def _call_kinds(scope: Scope, config: KernelConfig):
    compiler = Compiler(scope, config)
    cache: dict[str, str] = {}

    def kind(name: str) -> str:
        if name not in cache:
            try:
                cache[name] = compiler.kinds[compiler.function(name)]
            except (Unevaluable, SyntaxError, RecursionError):
                cache[name] = "?"
        return cache[name]

    return kind


# ------------------------------------------------------------------ judging

@dataclass
class _Compiled:
    old: object
    new: object


def _compile_pair(pair: Pair, old_scope: Scope, new_scope: Scope, config: KernelConfig,
                  compilers: dict) -> _Compiled:
    key_old, key_new = (id(old_scope), config), (id(new_scope), config)
    if key_old not in compilers:
        compilers[key_old] = Compiler(old_scope, config)
    if key_new not in compilers:
        compilers[key_new] = Compiler(new_scope, config)
    co, cn = compilers[key_old], compilers[key_new]
    if pair.kind == "function":
        fo, fn = co.function(pair.function), cn.function(pair.function)
        old = eval(f"lambda M, a: {fo}(M, {', '.join(pair.old_params)})", co.ns)  # noqa: S307
        new = eval(f"lambda M, a: {fn}(M, {', '.join(pair.new_params)})", cn.ns)  # noqa: S307
        return _Compiled(old, new)
    free = "address" if pair.kind == "predicate" else None
    return _Compiled(co.expression(pair.old.node, pair.old.data, free).fn,
                     cn.expression(pair.new.node, pair.new.data, free).fn)


def judge(pairs: list[Pair], old_scopes: dict[str, Scope], new_scopes: dict[str, Scope],
          probe_sets_for, stats: Stats | None = None
          ) -> tuple[list[SourceViolation], list[Note]]:
    """Judge every pair on the probe sets ``probe_sets_for(path)`` returns."""
    violations: list[SourceViolation] = []
    notes: list[Note] = []
    compilers: dict = {}
    stats = stats if stats is not None else Stats()
    for pair in pairs:
        stats.pairs += 1
        what = (f"{pair.function}()" if pair.kind == "function" else f"`{pair.new.text}`")
        total = wrong = 0
        first = None
        try:
            for probes in probe_sets_for(pair.path):
                if probes.addresses_only and pair.kind != "address":
                    continue
                compiled = _compile_pair(pair, old_scopes[pair.path], new_scopes[pair.path],
                                         probes.config, compilers)
                if pair.kind == "address":
                    t, w, f = _judge_address(pair, compiled, probes)
                else:
                    t, w, f = _judge_predicate(compiled, probes)
                total += t
                wrong += w
                first = first or f
        except Unevaluable as e:
            notes.append(Note(pair.path, pair.new.line, what, str(e)))
            continue
        except (ArithmeticError, IndexError, TypeError, SyntaxError, RecursionError) as e:
            notes.append(Note(pair.path, pair.new.line, what, f"evaluation failed: {e}"))
            continue
        stats.judged += 1
        stats.probes += total
        if wrong:
            violations.append(_violation(pair, first, wrong, total))
    return violations, notes


def _judge_predicate(compiled: _Compiled, probes: ProbeSet):
    """Each section byte, with the allocations placed one way and the other way round.

    Where the 6.1 answer depends on the placement (``addr >= base`` for a
    byte of another layout), 6.1 promised nothing and the byte is not asked.
    Elsewhere the rewritten test must give the 6.1 answer in both placements:
    since v6.4 each type is an allocation of its own, so a bound that
    used to sit inside one allocation may now order two of them.
    """
    old, new = compiled.old, compiled.new
    total = wrong = 0
    first = None
    for m in probes.maps:
        other = m.the_other_way()
        for p in m.items:
            if not p.size:
                continue
            for delta in ((0, p.size - 1) if p.size > 1 else (0,)):
                ro = bool(old(m, m.old_address(p) + delta))
                if bool(old(other, other.old_address(p) + delta)) != ro:
                    continue
                total += 1
                rn = bool(new(m, m.new_address(p) + delta))
                rn_other = bool(new(other, other.new_address(p) + delta))
                if ro != rn or ro != rn_other:
                    wrong += 1
                    if first is None:
                        placed = "" if ro != rn else ", its memory types placed the other way round"
                        first = (probes.label + placed, m.name, p.key,
                                 "first" if delta == 0 else "last", ro, not ro)
    return total, wrong, first


def _describe_point(pt) -> str:
    if pt is None:
        return "an empty type"
    if pt[0] == "<end>":
        return "the end of its allocation"
    if pt[0] == "<outside>":
        return "no allocation"
    if pt[0] == "<start>":
        return "the start of its allocation"
    return f"{pt[0]}+{pt[2]:#x}" if pt[2] else f"the start of {pt[0]}"


def _judge_address(pair: Pair, compiled: _Compiled, probes: ProbeSet):
    total = wrong = 0
    first = None
    ends = {"start": (False,), "end": (True,), "either": (False, True)}[pair.direction]
    for m in probes.maps:
        old_value, new_value = compiled.old(m, 0), compiled.new(m, 0)
        points = [(old_point(m, old_value, end), new_point(m, new_value, end)) for end in ends]
        if any(new_pt is None for _o, new_pt in points):
            continue
        total += 1
        if all(old_pt != new_pt for old_pt, new_pt in points):
            wrong += 1
            if first is None:
                old_pt, new_pt = points[0]
                first = (probes.label, m.name, _describe_point(old_pt), _describe_point(new_pt))
    return total, wrong, first


def _violation(pair: Pair, first, wrong: int, total: int) -> SourceViolation:
    if pair.kind == "address":
        label, module, old_at, new_at = first
        message = (f"`{pair.new.text}` points at {new_at} in {module} ({label}), where 6.1's "
                   f"`{pair.old.text}` pointed at {old_at}; {wrong} of {total} modules disagree")
        return SourceViolation(pair.path, pair.new.line, pair.new.col, "address-agrees", message)
    label, module, key, which, ro, rn = first
    what = f"{pair.function}()" if pair.kind == "function" else f"`{pair.new.text}`"
    before = f"6.1's {pair.function}()" if pair.kind == "function" else f"6.1's `{pair.old.text}`"
    message = (f"{what} is {str(rn).lower()} for the {which} byte of {key} in {module} "
               f"({label}), {before} was {str(ro).lower()}; {wrong} of {total} section "
               f"addresses disagree")
    return SourceViolation(pair.path, pair.new.line, pair.new.col, "predicate-agrees", message)
