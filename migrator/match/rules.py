"""Rules are data: one TOML file per rule in a pack's rules/, named after its id.

A rule pairs a tree-sitter query (what a use looks like) with a jinja2
template (what it becomes) or a reason (why it is only reported).  Loading
checks every field, so a broken rule file is a one-line error naming the
file and the field, never a traceback in the middle of a run.
"""

from __future__ import annotations

import enum
import os
import re
from dataclasses import dataclass, field
from functools import lru_cache

import jinja2
import jinja2.meta
import jinja2.nodes
import tree_sitter

from ..errors import MigratorError
from ..migration import DEFAULT_MIGRATION, Migration, load_migration
from ..parse.source import c_language
from ..tomlfile import check_fields, load_toml
from .template_env import TEMPLATES

class Severity(enum.StrEnum):
    """What a rule does with a site it decides."""

    REWRITE = "rewrite"  # it maps the site to the new API
    REPORT = "report"  # it says why the site stays as it is


SEVERITIES = tuple(Severity)
# prepare: the fix compiles against the old API too, so it can land before the
# flag-day patch; flag-day: it needs the new API.
STAGES = ("prepare", "flag-day")
CONFIDENCES = ("high", "medium", "low")
RULE_MODES = ("any", "out-of-tree")
# use: a hit decides uses of the old API (and comments, names, strings);
# guard: its @site is an existing conditional whose branches hold uses that
# the conditional already keeps from kernels with the new API (occurrence
# kinds guarded and supports-both, listed only out of the tree), and its fix
# changes the condition, never the code under it.
DECIDES = ("use", "guard")
ID_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")

# The defaults are the default migration pack's (migrations/module-memory):
# its rules/ folder, its rules/sites, and its default profile's areas.
RULES_ROOT = load_migration(DEFAULT_MIGRATION).rules_dir
DEFAULT_RULES_DIR = load_migration(DEFAULT_MIGRATION).sites_dir


@dataclass(frozen=True)
class Inside:
    """Where a match must sit: in an ancestor of `kind` (whose name fully matches
    the regex `name`, and holding a match of the query `has`)."""

    kind: str
    name: str | None = None
    has: str | None = None


@dataclass(frozen=True)
class Holds:
    """What a variable the pattern captures must hold at the site: the value a
    plain assignment before it in the same block gave it (context.held_value),
    matching the query `value` (whose @value is that value); `same` pairs the
    value's captures with the site's that must read alike.  The value's
    captures join the site's for the templates.  With steps_in_bytes, adding n
    to the variable must add n bytes (an integer, or a pointer to bytes or void)."""

    capture: str
    value: str
    same: tuple[tuple[str, str], ...] = ()
    steps_in_bytes: bool = False


@dataclass(frozen=True)
class Shape:
    """What a capture of the pattern must be, past any casts and parentheses
    around it: the query `query`, whose root is captured under the same name.
    The capture then holds the expression itself, and the query's other
    captures join the site's.  The pattern leaves the capture a wildcard, so
    one shape serves every spelling that wraps it, where a pattern would list
    each (and compile each)."""

    capture: str
    query: str


@dataclass(frozen=True)
class MatchCase:
    code: str
    expect: str | None  # the rewritten code; None for a report rule (code stays)


@dataclass(frozen=True)
class NoMatchCase:
    code: str
    why: str


@dataclass(frozen=True)
class Rule:
    id: str
    path: str
    description: str
    severity: Severity
    confidence: str
    pattern: str
    # A template for the whole @site, or {capture: template} to replace only those nodes.
    fix: str | dict[str, str] | None
    reason: str | None
    priority: int = 0
    stage: str = "flag-day"
    # out-of-tree: the rule decides kinds of use that only out-of-tree runs
    # list (member names in strings), so its cases run in that mode.
    mode: str = "any"
    decides: str = "use"  # see DECIDES
    inside: tuple[Inside, ...] = ()
    holds: Holds | None = None
    shapes: tuple[Shape, ...] = ()
    # Groups of captures that must read alike: a query's #eq? cannot compare the
    # captures of two shapes.  A capture a hit does not hold is left out.
    same: tuple[tuple[str, ...], ...] = ()
    # Rows of a meaning table: capture values -> template variables.  When
    # present, a hit whose captures fit no row is no match.
    when: tuple[dict[str, str], ...] = ()
    match_cases: tuple[MatchCase, ...] = ()
    no_match_cases: tuple[NoMatchCase, ...] = ()
    # The queries compiled while validating: pattern, each inside's `has`, holds', each shape's.
    compiled: tuple = field(default=(), compare=False, repr=False)

    @property
    def summary(self) -> str:
        """First line of the description: a commit subject's worth."""
        return self.description.strip().splitlines()[0]

    @property
    def query(self) -> tree_sitter.Query:
        return self.compiled[0]

    @property
    def inside_queries(self) -> tuple[tree_sitter.Query | None, ...]:
        return self.compiled[1]

    @property
    def holds_query(self) -> tree_sitter.Query | None:
        return self.compiled[2]

    @property
    def shape_queries(self) -> tuple[tree_sitter.Query, ...]:
        return self.compiled[3]


_TOP_FIELDS = {
    "id": str, "description": str, "severity": str, "confidence": str,
    "pattern": str, "fix": (str, dict), "reason": str, "priority": int, "stage": str,
    "inside": list, "when": list, "tests": dict, "mode": str, "decides": str, "holds": dict,
    "shape": list, "macros": str, "same": list,
}
_INSIDE_FIELDS = {"kind": str, "name": str, "has": str}
_SHAPE_FIELDS = {"capture": str, "query": str}
_HOLDS_FIELDS = {"capture": str, "value": str, "same": dict, "steps_in_bytes": bool}
_TEST_FIELDS = {"match": list, "no_match": list}

class _RuleFileError(MigratorError):
    pass


# A pack's rules/macros/ holds jinja2 macros that any of its rules' queries may
# import: {% from "forms.j2" import some_form %}.
MACROS_FOLDER = "macros"


@dataclass(frozen=True)
class _Macros:
    """What a rule's queries may call: the rule's own `macros`, defined for each of
    them, and the macro files of its pack (the rules folder's macros/)."""

    own: str = ""
    folder: str | None = None

    def expand(self, where: str, source: str) -> str:
        """A query with its jinja2 macros expanded (plain queries pass unchanged).

        Macros let a rule spell a form once (a base access with or without a
        cast) and use it in every alternative, instead of repeating the query.
        """
        if "{%" not in source and "{{" not in source:
            return source
        try:
            return _macro_environment(self.folder).from_string(self.own + source).render()
        except jinja2.TemplateNotFound as e:
            raise _RuleFileError(f"{where}: no macro file {e.name} in {self.folder}") from None
        except jinja2.TemplateError as e:
            raise _RuleFileError(f"{where}: {e}") from None


@lru_cache(maxsize=None)
def _macro_environment(folder: str | None) -> jinja2.Environment:
    if folder is None:
        return TEMPLATES
    return TEMPLATES.overlay(loader=jinja2.FileSystemLoader(folder))


def _compile_query(where: str, source: str) -> tree_sitter.Query:
    _check_predicates(where, source)
    try:
        return tree_sitter.Query(c_language(), source)
    except tree_sitter.QueryError as e:
        raise _RuleFileError(f"{where}: {' '.join(str(e).split())}") from None


# What every fix and reason template may use besides the captures and the `when` variables.
TEMPLATE_VARIABLES = frozenset({"indent", "T"})
# A `when` row's key naming a config option (the vocabulary's [[old.config]])
# without which the row's meaning holds: where it may be set, the hit is reported.
WITHOUT = "without"


def _check_template(where: str, source: str, known: set[str] | None = None,
                    rows: tuple[dict[str, str], ...] = ()) -> None:
    """Check a template at load: its syntax, its filters and tests, and with `known`,
    that every variable it reads is defined; an error shows now, not in the middle
    of a run on the file that happens to reach it.  It is compiled when first
    rendered (template_env.compiled): a run renders only the templates of the
    rules that match, and compiling all of them cost every run half a second."""
    try:
        ast = _parsed(source)
    except jinja2.TemplateSyntaxError as e:
        raise _RuleFileError(f"{where}: line {e.lineno}: {e.message}") from None
    for kind, names, nodes in (("filter", TEMPLATES.filters, jinja2.nodes.Filter),
                               ("test", TEMPLATES.tests, jinja2.nodes.Test)):
        unknown = sorted({n.name for n in ast.find_all(nodes)} - set(names))
        if unknown:
            raise _RuleFileError(f"{where}: no {kind} named '{unknown[0]}'")
    if known is None:
        return
    used = jinja2.meta.find_undeclared_variables(ast) - set(TEMPLATES.globals)
    for i, row in enumerate(rows or ({},)):
        undefined = sorted(used - known - TEMPLATE_VARIABLES - set(row))
        if undefined:
            at = f" in when[{i}]" if rows else ""
            raise _RuleFileError(f"{where}: the template uses '{undefined[0]}', which no capture "
                                 f"or `when` variable defines{at}")


@lru_cache(maxsize=None)
def _parsed(source: str) -> jinja2.nodes.Template:
    """A template's syntax tree (each is checked twice: alone, then with its variables)."""
    return TEMPLATES.parse(source)


# The predicates tree-sitter's query cursor evaluates; any other is ignored silently.
KNOWN_PREDICATES = frozenset({
    "eq?", "not-eq?", "any-eq?", "any-not-eq?", "match?", "not-match?", "any-match?",
    "any-not-match?", "any-of?", "not-any-of?", "is?", "is-not?", "set!",
})
_QUERY_STRING_RE = re.compile(r'"(?:\\.|[^"\\])*"')
_PREDICATE_RE = re.compile(r"#([A-Za-z_][\w-]*[?!]?)")


def _check_predicates(where: str, source: str) -> None:
    code = _QUERY_STRING_RE.sub('""', source)
    code = "\n".join(line.split(";", 1)[0] for line in code.splitlines())  # comments
    for m in _PREDICATE_RE.finditer(code):
        if m.group(1) not in KNOWN_PREDICATES:
            raise _RuleFileError(f"{where}: unknown predicate #{m.group(1)} "
                                 f"(known: {', '.join(sorted(KNOWN_PREDICATES))})")


def _query_field(where: str, name: str, source: str, needed: str,
                 macros: _Macros = _Macros()) -> tuple[str, tree_sitter.Query, set[str]]:
    """A query field expanded and compiled, with its capture names; it must capture @needed."""
    where = f"{where}: field '{name}'"
    source = macros.expand(where, source)
    query = _compile_query(where, source)
    captures = {query.capture_name(i) for i in range(query.capture_count)}
    if needed not in captures:
        raise _RuleFileError(f"{where} has no @{needed} capture")
    return source, query, captures


def _captures_in(query: tree_sitter.Query, pattern: int, capture: int) -> bool:
    """Whether a pattern of the query holds the capture at all.

    py-tree-sitter 0.26 raises SystemError for a capture a pattern does not
    hold, where it returns "", "?", "*" or "+" for one it does.
    """
    try:
        query.capture_quantifier(pattern, capture)
        return True
    except SystemError:
        return False


def load_rule(path: str | os.PathLike) -> Rule:
    """Read and validate one rule file."""
    path = str(path)
    name = os.path.basename(path)
    data = load_toml(path)

    check_fields(path, data, _TOP_FIELDS, ("id", "description", "severity", "confidence", "pattern"))
    rule_id = data["id"]
    if not ID_RE.match(rule_id):
        raise _RuleFileError(f"{path}: field 'id': '{rule_id}' is not kebab-case")
    if name != f"{rule_id}.toml":
        raise _RuleFileError(f"{path}: field 'id': '{rule_id}' differs from the file name")
    if not data["description"].strip():
        raise _RuleFileError(f"{path}: field 'description' is empty")
    if data["severity"] not in SEVERITIES:
        raise _RuleFileError(f"{path}: field 'severity' must be one of {', '.join(SEVERITIES)}")
    if data.get("stage", "flag-day") not in STAGES:
        raise _RuleFileError(f"{path}: field 'stage' must be one of {', '.join(STAGES)}")
    if data.get("mode", "any") not in RULE_MODES:
        raise _RuleFileError(f"{path}: field 'mode' must be one of {', '.join(RULE_MODES)}")
    if data.get("decides", "use") not in DECIDES:
        raise _RuleFileError(f"{path}: field 'decides' must be one of {', '.join(DECIDES)}")
    if data.get("decides") == "guard" and data.get("mode") != "out-of-tree":
        raise _RuleFileError(f"{path}: field 'mode' must be out-of-tree for a rule that decides guards "
                             "(only out-of-tree runs evaluate conditionals)")
    if data["confidence"] not in CONFIDENCES:
        raise _RuleFileError(f"{path}: field 'confidence' must be one of {', '.join(CONFIDENCES)}")

    macros = _Macros(data.get("macros", ""), os.path.join(os.path.dirname(os.path.dirname(path)), MACROS_FOLDER))
    data["pattern"], query, captures = _query_field(path, "pattern", data["pattern"], "site", macros)
    site = next(i for i in range(query.capture_count) if query.capture_name(i) == "site")
    for n in range(query.pattern_count):
        if not _captures_in(query, n, site):
            raise _RuleFileError(
                f"{path}: field 'pattern': pattern {n + 1} has no @site"
                " (predicates belong inside the parentheses of their pattern)")

    shapes, shape_queries = [], []
    for i, table in enumerate(data.get("shape", [])):
        where = f"{path}: shape[{i}]"
        if not isinstance(table, dict):
            raise _RuleFileError(f"{where}: must be a table")
        check_fields(where, table, _SHAPE_FIELDS, ("capture", "query"))
        name = table["capture"]
        if name not in captures:
            raise _RuleFileError(f"{where}: field 'capture': the pattern has no @{name}")
        if any(s.capture == name for s in shapes):
            raise _RuleFileError(f"{where}: field 'capture': @{name} has a shape already")
        source, shape_query, shape_captures = _query_field(where, "query", table["query"], name, macros)
        root = next(c for c in range(shape_query.capture_count) if shape_query.capture_name(c) == name)
        for n in range(shape_query.pattern_count):
            if not _captures_in(shape_query, n, root):
                raise _RuleFileError(f"{where}: field 'query': pattern {n + 1} has no @{name}")
        shapes.append(Shape(name, source))
        shape_queries.append(shape_query)
        captures |= shape_captures

    same = []
    for i, group in enumerate(data.get("same", [])):
        where = f"{path}: field 'same'[{i}]"
        if not isinstance(group, list) or len(group) < 2 or not all(isinstance(c, str) for c in group):
            raise _RuleFileError(f"{where}: must be a list of two or more capture names")
        missing = [c for c in group if c not in captures]
        if missing:
            raise _RuleFileError(f"{where}: neither the pattern nor a shape captures @{missing[0]}")
        same.append(tuple(group))

    if data["severity"] == "rewrite":
        if "fix" not in data:
            raise _RuleFileError(f"{path}: missing field 'fix' (a rewrite rule needs one)")
        fix = data["fix"]
        if isinstance(fix, str):
            _check_template(f"{path}: field 'fix'", fix)
        else:
            for capture, template in fix.items():
                if capture not in captures:
                    raise _RuleFileError(f"{path}: field 'fix.{capture}': the pattern has no @{capture}")
                if not isinstance(template, str):
                    raise _RuleFileError(f"{path}: field 'fix.{capture}' must be a str")
                _check_template(f"{path}: field 'fix.{capture}'", template)
    elif "reason" not in data:
        raise _RuleFileError(f"{path}: missing field 'reason' (a report rule needs one)")
    if "reason" in data:
        _check_template(f"{path}: field 'reason'", data["reason"])

    inside, inside_queries = [], []
    for i, table in enumerate(data.get("inside", [])):
        where = f"{path}: inside[{i}]"
        if not isinstance(table, dict):
            raise _RuleFileError(f"{where}: must be a table")
        check_fields(where, table, _INSIDE_FIELDS, ("kind",))
        has_query = None
        if "has" in table:
            table["has"] = macros.expand(f"{where}: field 'has'", table["has"])
            has_query = _compile_query(f"{where}: field 'has'", table["has"])
        inside_queries.append(has_query)
        inside.append(Inside(table["kind"], table.get("name"), table.get("has")))

    holds, holds_query = None, None
    if "holds" in data:
        where = f"{path}: holds"
        table = data["holds"]
        check_fields(where, table, _HOLDS_FIELDS, ("capture", "value"))
        if table["capture"] not in captures:
            raise _RuleFileError(f"{where}: field 'capture': the pattern has no @{table['capture']}")
        table["value"], holds_query, value_captures = _query_field(where, "value", table["value"], "value",
                                                                   macros)
        same = table.get("same", {})
        for mine, theirs in same.items():
            if mine not in value_captures or theirs not in captures or not isinstance(theirs, str):
                raise _RuleFileError(f"{where}: field 'same': {mine} = {theirs!r} must pair a capture "
                                     "of the value with one of the pattern")
        holds = Holds(table["capture"], table["value"], tuple(same.items()),
                      table.get("steps_in_bytes", False))
        captures |= value_captures - {"value"}

    when = []
    for i, row in enumerate(data.get("when", [])):
        where = f"{path}: when[{i}]"
        if not isinstance(row, dict) or not all(isinstance(v, str) for v in row.values()):
            raise _RuleFileError(f"{where}: must be a table of strings")
        if not any(k in captures for k in row):
            raise _RuleFileError(f"{where}: names no capture of the pattern")
        if not set(row) - captures:
            raise _RuleFileError(f"{where}: gives no variable to the template")
        when.append(dict(row))

    # Now that the variables are known: every one a template reads must be defined.
    fix = data.get("fix")
    templates = {"fix": fix} if isinstance(fix, str) else {f"fix.{c}": s for c, s in (fix or {}).items()}
    if "reason" in data:
        templates["reason"] = data["reason"]
    for name, source in templates.items():
        _check_template(f"{path}: field '{name}'", source, captures, tuple(when))

    tests = data.get("tests", {})
    check_fields(f"{path}: tests", tests, _TEST_FIELDS)
    match_cases, no_match_cases = [], []
    for i, case in enumerate(tests.get("match", [])):
        where = f"{path}: tests.match[{i}]"
        if not isinstance(case, dict):
            raise _RuleFileError(f"{where}: must be a table")
        needed = ("code", "expect") if data["severity"] == "rewrite" else ("code",)
        check_fields(where, case, {"code": str, "expect": str}, needed)
        match_cases.append(MatchCase(case["code"], case.get("expect")))
    for i, case in enumerate(tests.get("no_match", [])):
        where = f"{path}: tests.no_match[{i}]"
        if not isinstance(case, dict):
            raise _RuleFileError(f"{where}: must be a table")
        check_fields(where, case, {"code": str, "why": str}, ("code", "why"))
        no_match_cases.append(NoMatchCase(case["code"], case["why"]))

    return Rule(
        id=rule_id, path=path, description=data["description"],
        severity=Severity(data["severity"]), confidence=data["confidence"],
        pattern=data["pattern"], fix=data.get("fix"), reason=data.get("reason"),
        priority=data.get("priority", 0), stage=data.get("stage", "flag-day"),
        mode=data.get("mode", "any"), decides=data.get("decides", "use"), inside=tuple(inside),
        holds=holds, shapes=tuple(shapes), same=tuple(same), when=tuple(when),
        match_cases=tuple(match_cases), no_match_cases=tuple(no_match_cases),
        compiled=(query, tuple(inside_queries), holds_query, tuple(shape_queries)),
    )


@dataclass(frozen=True)
class Area:
    """A part of the tree with rules of its own (or none: rules is None), and why."""

    path: str
    rules: tuple[Rule, ...] | None
    why: str


@dataclass(frozen=True)
class RuleBook:
    """Which site rules apply where: an area's own rules, else the default ones."""

    default: tuple[Rule, ...]
    areas: tuple[Area, ...] = ()

    def area_of(self, path: str) -> Area | None:
        return next((a for a in self.areas if path.startswith(a.path)), None)

    def for_path(self, path: str) -> tuple[Rule, ...]:
        area = self.area_of(path)
        if area is None:
            return self.default
        return area.rules or ()

    def guard_rule_ids(self) -> frozenset[str]:
        """The rules that decide existing guards rather than uses (DECIDES)."""
        return frozenset(r.id for r in self.all_rules() if r.decides == "guard")

    def all_rules(self) -> tuple[Rule, ...]:
        rules = list(self.default)
        for area in self.areas:
            rules += [r for r in area.rules or () if r not in rules]
        return tuple(rules)


SCOPE_FILE = load_migration(DEFAULT_MIGRATION).profile()


def load_rule_book(sites_dir: str | os.PathLike = DEFAULT_RULES_DIR,
                   scope_file: str | os.PathLike = SCOPE_FILE,
                   rules_root: str | os.PathLike = RULES_ROOT) -> RuleBook:
    """The default site rules and the areas of a profile with their own rule folders."""
    return RuleBook(load_rules(sites_dir), load_areas(scope_file, rules_root))


def sites_folder(directory: str | os.PathLike | None) -> str | None:
    """The site rules of a folder given as --rules: the folder itself, or its sites/
    when it is a whole rules folder (like a pack's rules/)."""
    if directory is None:
        return None
    sites = os.path.join(str(directory), "sites")
    return sites if os.path.isdir(sites) else str(directory)


def migration_rule_book(migration: Migration, sites_dir: str | os.PathLike | None = None,
                        profile: str | None = None) -> RuleBook:
    """A pack's rule book: its site rules (or those of sites_dir) and its profile's areas.

    A `when` row's `without` must name a config option of the pack's vocabulary
    ([[old.config]]): one it does not know could never be found set, and its
    rewrite would never turn into a report where the option holds."""
    book = load_rule_book(sites_folder(sites_dir) or migration.sites_dir, migration.profile(profile),
                          migration.rules_dir)
    for rule in book.all_rules():
        for i, row in enumerate(rule.when):
            option = row.get(WITHOUT)
            if option is not None and migration.vocabulary.old.config(option) is None:
                raise _RuleFileError(f"{rule.path}: when[{i}]: without = '{option}' is no config option "
                                     f"of the vocabulary's [[old.config]]")
    return book


@lru_cache(maxsize=4)
def load_areas(scope_file: str | os.PathLike = SCOPE_FILE,
               rules_root: str | os.PathLike = RULES_ROOT) -> tuple[Area, ...]:
    """The areas of a profile, each with its rules (a folder under rules_root) loaded."""
    if not os.path.exists(scope_file):
        return ()
    data = load_toml(scope_file)
    areas = []
    for i, entry in enumerate(data.get("area", [])):
        where = f"{scope_file}: area[{i}]"
        check_fields(where, entry, {"path": str, "rules": str, "why": str}, ("path", "why"))
        rules = None
        if entry.get("rules"):
            rules = load_rules(os.path.join(str(rules_root), entry["rules"]))
        areas.append(Area(entry["path"], rules, " ".join(entry["why"].split())))
    return tuple(areas)


def load_rules(directory: str | os.PathLike = DEFAULT_RULES_DIR) -> tuple[Rule, ...]:
    """All rules of a folder, sorted by id so every run sees the same order."""
    directory = str(directory)
    if os.path.isdir(os.path.join(directory, "sites")):
        directory = os.path.join(directory, "sites")  # a whole rules folder: its site rules
    if not os.path.isdir(directory):
        raise MigratorError(f"{directory}: no rules folder there")
    paths = sorted(p for p in os.listdir(directory) if p.endswith(".toml"))
    if not paths:
        raise MigratorError(f"{directory}: holds no rule files (*.toml)")
    return tuple(load_rule(os.path.join(directory, p)) for p in paths)
