"""The words of the series: subjects, commit messages and the cover letter.

All text comes from the jinja2 templates in the migration pack's series/
and from the rules' and recipes' descriptions; this module only gathers
what the templates show.  Commit messages are wrapped at 72 columns, as the kernel asks.
"""

from __future__ import annotations

import re
import textwrap
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

import jinja2

from ..errors import MigratorError
from ..migration import Migration
from .split import FLAG_DAY, PREPARE, Patch

WIDTH = 72
_CONDITIONAL_RE = re.compile(rb"^[ \t]*#[ \t]*(if|ifdef|ifndef|elif)[ \t]+(.*?)[ \t]*$", re.M)
_VERSION_H_RE = re.compile(rb"^[ \t]*#[ \t]*include[ \t]*<linux/version\.h>", re.M)


def fill(text: str, width: int = WIDTH, indent: str = "", first: str | None = None) -> str:
    """Re-wrap each paragraph of text; indented lines (code, tables) stay as they are.

    Lines of a paragraph that ended a sentence keep the two spaces that the
    descriptions put after a full stop.
    """
    out: list[str] = []
    para: list[str] = []

    def flush() -> None:
        if not para:
            return
        joined = ""
        for line in para:
            line = line.strip()
            if joined:
                joined += "  " if joined.endswith((".", "?", "!")) else " "
            joined += line
        lead = indent if first is None or out else first
        out.append(textwrap.fill(joined, width=width, initial_indent=lead, subsequent_indent=indent,
                                 break_long_words=False, break_on_hyphens=False,
                                 drop_whitespace=True))
        para.clear()

    for line in text.strip("\n").splitlines():
        if not line.strip():
            flush()
            out.append("")
        elif line.startswith((" ", "\t", "- ", "* ")) and not para:
            out.append(indent + line.rstrip() if line.strip() else "")
        else:
            para.append(line)
    flush()
    return re.sub(r"\n{3,}", "\n\n", "\n".join(out)).replace(GLUE, " ")


def body_of(description: str) -> str:
    """A description without its first line (the summary)."""
    lines = description.strip().splitlines()
    return "\n".join(lines[1:]).strip()


# Joins a count to its noun until fill() has wrapped the text ("9 sites"
# never splits across lines); fill() turns it back into a space.
GLUE = "\u00a0"


def sites(n: int, noun: str = "site") -> str:
    return f"{n}{GLUE}{noun}" if n == 1 else f"{n}{GLUE}{noun}s"


def enumerate_words(items: Sequence[str]) -> str:
    items = list(items)
    if len(items) <= 2:
        return " and ".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _environment(templates: Path) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates)),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )
    env.filters.update(fill=fill, body=body_of, sites=sites, words=enumerate_words)
    return env


class Texts:
    """A pack's words for its series: the templates of its series/ folder, and
    the subjects, helpers and header its vocabulary names."""

    def __init__(self, migration: Migration):
        words = migration.vocabulary.series
        self.templates = migration.series_dir
        self.flag_day_subject = words.flag_day_subject
        # The subject of out-of-tree code's one patch, after the project's own prefix.
        self.out_of_tree_summary = words.out_of_tree_summary
        # Helpers that exist before and after the change; a preparation patch's
        # subject names the ones it starts to use.
        self.helpers = words.helpers
        self.api_header = migration.vocabulary.new.api_header
        self._env = _environment(self.templates)

    def render(self, name: str, **context) -> str:
        try:
            text = self._env.get_template(name).render(**context)
        except jinja2.TemplateError as e:
            raise MigratorError(f"{self.templates / name}: {e}") from None
        # No trailing blanks, at most one empty line in a row, one final newline.
        text = "\n".join(line.rstrip() for line in text.replace(GLUE, " ").splitlines())
        return re.sub(r"\n{3,}", "\n\n", text).strip("\n") + "\n"

    def helpers_used(self, patch: Patch) -> list[str]:
        """Helpers the patch's new text calls more often than its old text did."""
        found: list[tuple[int, str]] = []
        for name in self.helpers:
            pattern = re.compile(rb"\b" + name.encode() + rb"\s*\(")
            gained = sum(len(pattern.findall(f.new)) - len(pattern.findall(f.old)) for f in patch.files)
            if gained > 0:
                first = min((m.start() for f in patch.files for m in pattern.finditer(f.new)), default=0)
                found.append((first, name))
        return [f"{name}()" for _, name in sorted(found)]

    def subject(self, patch: Patch, prefix: str) -> str:
        if patch.kind != PREPARE:
            return self.flag_day_subject
        return self.render("prepare-subject.txt.j2", prefix=prefix, helpers=self.helpers_used(patch),
                           rules=patch.rules).strip()

    def message(self, patch: Patch, subject_line: str, explained: Sequence[Explained], *,
                signoff: str, atomic: bool, prepared: Sequence[str], left: Sequence[dict],
                generator: str) -> str:
        """The whole commit message: subject, body, Generated by, Signed-off-by."""
        template = "prepare.txt.j2" if patch.kind == PREPARE else "flag-day.txt.j2"
        body = self.render(template, flag_day_subject=self.flag_day_subject, patch=patch,
                           area=area_name(patch), explained=explained, helpers=self.helpers_used(patch),
                           atomic=atomic, prepared=list(prepared), left=list(left), generator=generator)
        return f"{subject_line}\n\n{body}\nSigned-off-by: {signoff}\n"

    def out_of_tree_subject(self, prefix: str | None) -> str:
        """The project's prefix and the summary, or the summary as a sentence without one."""
        summary = self.out_of_tree_summary
        return f"{prefix} {summary}" if prefix else summary[0].upper() + summary[1:]

    def out_of_tree_message(self, patch: Patch, subject_line: str, explained: Sequence[Explained], *,
                            signoff: str, left: Sequence[dict], generator: str) -> str:
        guards, rungs, widened = conditionals_changed(patch)
        body = self.render("out-of-tree.txt.j2", patch=patch, explained=explained,
                           guards=guards, rungs=rungs, widened=widened, version_h=version_h_added(patch),
                           left=list(left), generator=generator)
        return f"{subject_line}\n\n{body}\nSigned-off-by: {signoff}\n"


# ------------------------------------------------------------ what templates see

@dataclass(frozen=True)
class Explained:
    """A rule or recipe as a message shows it."""

    id: str
    kind: str  # "rule" or "recipe"
    stage: str
    summary: str
    body: str
    files: tuple[tuple[str, int], ...]  # (path, sites) in this patch

    @property
    def sites(self) -> int:
        return sum(n for _, n in self.files)

    @property
    def where(self) -> str:
        """The files it changes, with their sites: 'a.c: 2 sites, b.c'."""
        return ", ".join(f"{p}: {sites(n)}" if n else p for p, n in self.files)


def explain(patch: Patch, rules: Mapping[str, object], regions: Mapping[str, object]) -> list[Explained]:
    """The patch's recipes, then its rules, in order of first use, with their files."""
    out = []
    for rid in patch.regions:
        r = regions[rid]
        out.append(Explained(rid, "recipe", FLAG_DAY, r.summary, body_of(r.description),
                             tuple(patch.sites_of(rid).items())))
    for rid in patch.rules:
        r = rules[rid]
        out.append(Explained(rid, "rule", r.stage, r.summary, body_of(r.description),
                             tuple(patch.sites_of(rid).items())))
    return out


def area_name(patch: Patch) -> str:
    return patch.arch or patch.group


def _conditionals(data: bytes) -> Counter:
    """(directive, condition) of each #if/#ifdef/#ifndef/#elif line, spaces squeezed."""
    return Counter((m.group(1).decode(), " ".join(m.group(2).decode("utf-8", "replace").split()))
                   for m in _CONDITIONAL_RE.finditer(data))


def _as_condition(directive: str, condition: str) -> str:
    """What a directive tests, as an #if expression: `#ifdef X` tests defined(X)."""
    if directive in ("ifdef", "ifndef"):
        name = condition.split()[0] if condition.split() else ""
        return f"{'!' if directive == 'ifndef' else ''}defined({name})"
    return condition


def conditionals_changed(patch: Patch) -> tuple[list[dict], list[dict], list[dict]]:
    """The guards the patch adds, the old tests it turns into later rungs of a
    ladder, and the old conditions it widens in place.

    Each is a list of {directive, condition, count} (a rung also has
    ``was``, the directive it replaces: `#ifdef X` becoming `#elif
    defined(X)`; a widened condition too: `#if C` becoming `#if C || D`),
    most frequent first.
    """
    guards: Counter = Counter()
    rungs: Counter = Counter()
    widened: Counter = Counter()
    for f in patch.files:
        added = _conditionals(f.new) - _conditionals(f.old)
        removed = _conditionals(f.old) - _conditionals(f.new)
        was = {_as_condition(d, c): f"#{d} {c}" for d, c in removed}
        for (d, c), n in added.items():
            old = was.get(_as_condition(d, c)) if d == "elif" else None
            kept = next((f"#{rd} {rc}" for rd, rc in removed if rd == d and c.startswith(rc + " ")), None)
            if old is not None:
                rungs[(d, c, old)] += n
            elif kept is not None:
                widened[(d, c, kept)] += n
            else:
                guards[(d, c, "")] += n

    def listed(counts: Counter) -> list[dict]:
        return [{"directive": d, "condition": c, "was": w, "count": n}
                for (d, c, w), n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]

    return listed(guards), listed(rungs), listed(widened)


def version_h_added(patch: Patch) -> list[str]:
    """The files the patch makes include <linux/version.h>."""
    return [f.path for f in patch.files
            if _VERSION_H_RE.search(f.new) and not _VERSION_H_RE.search(f.old)]


def table(rows: Sequence[Sequence[str]], right: Sequence[int] = ()) -> list[str]:
    """Rows as aligned text columns (the last column is not padded)."""
    if not rows:
        return []
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = []
    for r in rows:
        cells = [c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths))]
        cells[-1] = r[-1] if len(r) - 1 not in right else cells[-1]
        lines.append("  ".join(cells).rstrip())
    return lines


def left_groups(plan) -> list[dict]:
    """Sites nobody rewrote, by reason: [{reason, count, files: [(path, n)]}]."""
    by_reason: dict[str, Counter] = defaultdict(Counter)
    for f in plan.left():
        by_reason[plan.left_reason(f)][f.occurrence.path] += 1
    return [{"reason": reason, "count": sum(c.values()), "files": sorted(c.items())}
            for reason, c in sorted(by_reason.items(), key=lambda kv: (-sum(kv[1].values()), kv[0]))]
