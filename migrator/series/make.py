"""Make the patch series: commits on a temporary ref, then git format-patch.

The commits are made without a checkout: a temporary index is read from
the base commit, each patch's files are stored as blobs and written into
it, and `git commit-tree` makes the commit.  A temporary ref keeps them
alive while `git format-patch` writes the series; it is deleted after.
The user's working tree, index and branch are not touched (unless the
caller applies the series, see apply_series).

Everything that goes into a commit is fixed by the input: identity, dates
(the base commit's, or --date; patch n is n seconds later), messages and
format-patch's options, so the same tree and options give the same bytes.
"""

from __future__ import annotations

import io
import os
import re
import tempfile
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import git
from gitdb.base import IStream

from ..errors import MigratorError
from ..match import Rule, RuleBook
from ..match.scan import as_book
from ..match.regions import RegionStatus
from ..parse.source import printable
from ..migration import DEFAULT_MIGRATION, Migration, load_migration
from ..rewrite.plan import RewritePlan
from . import text
from .checkpatch import CheckpatchResult, run_checkpatch
from .prefixes import SOURCES, Prefixer, history_prefix, profile_table, project_lead
from .repo import TreeRepo, commit_date, dirty_paths, git_date, identity, later, open_tree_repo
from .split import FLAG_DAY, PREPARE, Patch, split_plan

COVER_NAME = "0000-cover-letter.patch"
TEMP_REF = "refs/migrator/series-tmp-{pid}"
_PATCH_NAME_RE = re.compile(r"^\d{4}-.*\.patch$")


@dataclass(frozen=True)
class SeriesOptions:
    split: str = "arch"  # "arch": preparation patches, then the flag day; "atomic": one patch
    signoff: str | None = None  # "Name <mail>"; default: git config user.name/user.email
    date: str | None = None  # the series' date; default: the base commit's
    prefixes: str = "history"  # where subject prefixes come from: "history" (then the table) or "table"
    verdict: str | None = None  # what `migrator check` said, for the cover letter
    checkpatch: bool = True  # run the tree's checkpatch.pl and report it in the cover letter
    apply: bool = False  # advance the branch to the series afterwards
    # "kernel": preparation patches and the flag day; "out-of-tree": one patch in the
    # project's own subject style, no cover letter.
    mode: str = "kernel"

    @property
    def out_of_tree(self) -> bool:
        return self.mode == "out-of-tree"


@dataclass(frozen=True)
class PatchFile:
    name: str
    data: bytes
    subject: str
    patch: Patch | None  # None for the cover letter
    checkpatch: CheckpatchResult | None = None


@dataclass(frozen=True)
class Series:
    base: str
    tip: str
    files: tuple[PatchFile, ...]  # the cover letter first
    prefix_sources: tuple[tuple[str, str], ...] = ()  # (prefix, "history" or "table") per preparation patch

    @property
    def patches(self) -> tuple[PatchFile, ...]:
        return tuple(f for f in self.files if f.patch is not None)


def generator_line() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        v = version("migrator")
    except PackageNotFoundError:
        v = "unknown"
    return f"migrator {v} rewrite --series"


# ------------------------------------------------------------ refusals

def patches_in(out_dir: str | os.PathLike) -> list[str]:
    d = Path(out_dir)
    return sorted(p.name for p in d.iterdir() if p.name.endswith(".patch")) if d.is_dir() else []


def check_output_dir(out_dir: str | os.PathLike, force: bool) -> None:
    d = Path(out_dir)
    if d.exists() and not d.is_dir():
        raise MigratorError(f"{out_dir}: exists and is not a folder")
    found = patches_in(d)
    if found and not force:
        raise MigratorError(f"{out_dir}: already holds {len(found)} patch files ({found[0]}, ...); "
                            "use another folder or --force to replace them")


def open_for_series(root: str, options: SeriesOptions, out_dir: str | os.PathLike,
                    force: bool = False) -> tuple[TreeRepo, tuple[str, str]]:
    """Every refusal that needs no plan, in one place: (the repo, the signing identity)."""
    if options.prefixes not in SOURCES:
        raise MigratorError(f"--prefixes {options.prefixes!r}: expected one of {', '.join(SOURCES)}")
    if options.split not in ("arch", "atomic"):
        raise MigratorError(f"--split {options.split!r}: expected arch or atomic")
    tr = open_tree_repo(root)
    if tr.shallow and options.prefixes == "history":
        raise MigratorError(f"{tr.top}: shallow clone: the subject prefixes come from the history of "
                            "the touched files; fetch it (git fetch --unshallow) or pass --prefixes table")
    if options.apply and tr.branch is None:
        raise MigratorError(f"{tr.top}: HEAD is detached; --apply needs a branch to put the series on")
    ident = identity(tr, options.signoff)
    if options.date is not None:
        git_date(options.date)  # refuse a bad date before any work
    check_output_dir(out_dir, force)
    return tr, ident


def check_clean(tr: TreeRepo, plan: RewritePlan) -> None:
    """Refuse when a file the series reads or writes differs from HEAD.

    The series is made from HEAD, the plan from the files on disk: they must
    agree on every changed file and on every file with a use of the layouts.
    """
    paths = {c.path for c in plan.changes} | {f.occurrence.path for f in plan.scan.findings}
    dirty = dirty_paths(tr.root, sorted(paths))
    if dirty:
        raise MigratorError(f"{dirty[0]}: uncommitted changes ({len(dirty)} files); the series is "
                            "based on the last commit: commit or stash them first")


# ------------------------------------------------------------ commits

def _identity_env(name: str, mail: str, date: str) -> dict[str, str]:
    return {"GIT_AUTHOR_NAME": name, "GIT_AUTHOR_EMAIL": mail, "GIT_AUTHOR_DATE": date,
            "GIT_COMMITTER_NAME": name, "GIT_COMMITTER_EMAIL": mail, "GIT_COMMITTER_DATE": date}


def _git_error(e: git.GitCommandError) -> MigratorError:
    detail = (e.stderr or "").strip().splitlines()
    return MigratorError(f"git {e.command[1] if len(e.command) > 1 else ''} failed: "
                         f"{detail[-1] if detail else e}".replace("  ", " "))


def _make_commits(tr: TreeRepo, patches: Sequence[Patch], messages: Sequence[str],
                  ident: tuple[str, str], date: str) -> list[str]:
    """One commit per patch, each on the previous, from HEAD; their ids."""
    g = tr.repo.git
    base = tr.head
    commits: list[str] = []
    with tempfile.TemporaryDirectory(prefix="migrator-series-") as tmp:
        env = {"GIT_INDEX_FILE": os.path.join(tmp, "index")}
        g.read_tree(base.hexsha, env=env)
        parent = base.hexsha
        seen: set[str] = set()
        for i, (patch, msg) in enumerate(zip(patches, messages), start=1):
            for f in patch.files:
                path = tr.git_path(f.path)
                try:
                    blob = base.tree / path
                except KeyError:
                    raise MigratorError(f"{f.path}: not in the last commit; commit it first") from None
                if f.path not in seen and blob.data_stream.read() != f.old:
                    raise MigratorError(f"{f.path}: differs from the last commit; commit or stash it first")
                seen.add(f.path)
                stored = tr.repo.odb.store(IStream("blob", len(f.new), io.BytesIO(f.new))).hexsha
                sha = stored.decode() if isinstance(stored, bytes) else stored
                g.update_index("--cacheinfo", f"{blob.mode:o},{sha},{path}", env=env)
            tree = g.write_tree(env=env)
            msg_file = os.path.join(tmp, f"message-{i}")
            with open(msg_file, "w", encoding="utf-8") as fh:
                fh.write(printable(msg))  # a file name need not be UTF-8; the message must be
            parent = g.commit_tree(tree, "-p", parent, "--no-gpg-sign", "-F", msg_file,
                                   env=_identity_env(*ident, later(date, i)))
            commits.append(parent)
    return commits


# The options of format-patch that shape its output, pinned so that a
# user's or repository's configuration cannot change the series' bytes.
_FORMAT_CONFIG = (
    "-c", "diff.noprefix=false", "-c", "diff.mnemonicPrefix=false", "-c", "diff.relative=false",
    "-c", "diff.suppressBlankEmpty=false",
    "-c", "diff.context=3", "-c", "diff.interHunkContext=0", "-c", "diff.indentHeuristic=true",
    "-c", "core.quotePath=true", "-c", "format.signOff=false",
    "-c", "format.suffix=.patch", "-c", "format.filenameMaxLength=64",
    "-c", "format.coverFromDescription=message", "-c", "format.encodeEmailHeaders=true",
    "-c", "i18n.logOutputEncoding=UTF-8", "-c", "i18n.commitEncoding=UTF-8",
    "-c", "log.showSignature=false", "-c", "notes.displayRef=",
)


def _format_patch(tr: TreeRepo, base: str, tip: str, out: str, ident: tuple[str, str], date: str,
                  signature: str, cover: bool = True) -> list[str]:
    args = [*_FORMAT_CONFIG, "format-patch", "--numbered" if cover else "--no-numbered",
            "--cover-letter" if cover else "--no-cover-letter", f"--base={base}",
            "--no-thread", "--no-attach", "--no-add-header", "--no-to", "--no-cc", "--no-notes", "--subject-prefix=PATCH",
            f"--signature={signature}", "--abbrev=12", "--stat=72", "--summary", "-U3",
            "--inter-hunk-context=0", "--diff-algorithm=myers", "--src-prefix=a/", "--dst-prefix=b/",
            "--no-relative", f"-O{os.devnull}", "-o", out, f"{base}..{tip}"]
    tr.repo.git.execute(["git", *args], env=_identity_env(*ident, date))
    return sorted(os.listdir(out))


# ------------------------------------------------------------ cover letter

def _tree_name(root: str) -> str:
    try:
        head = Path(root, "Makefile").read_text(errors="replace").splitlines()[:8]
    except OSError:
        return "this tree"
    fields = dict(line.split("=", 1) for line in head if "=" in line)
    fields = {k.strip(): v.strip() for k, v in fields.items()}
    if not all(fields.get(k) for k in ("VERSION", "PATCHLEVEL")):
        return "this tree"
    v = f"{fields['VERSION']}.{fields['PATCHLEVEL']}"
    if fields.get("SUBLEVEL"):
        v += f".{fields['SUBLEVEL']}"
    return f"Linux {v}{fields.get('EXTRAVERSION', '')}"


def _wrap_ids(ids: Sequence[str], width: int) -> list[str]:
    lines, cur = [], ""
    for i in ids:
        piece = i if not cur else f", {i}"
        if cur and len(cur) + len(piece) > width:
            lines.append(cur + ",")
            cur = i
        else:
            cur += piece
    return lines + [cur] if cur else lines


def _file_lines(patches: Sequence[Patch]) -> list[str]:
    per_file: dict[str, list] = defaultdict(lambda: [0, []])
    for p in patches:
        for f in p.files:
            entry = per_file[f.path]
            entry[0] += f.sites
            for rid, _ in f.regions:
                if f"{rid} (recipe)" not in entry[1]:
                    entry[1].append(f"{rid} (recipe)")
            for rid, _ in f.rules:
                if rid not in entry[1]:
                    entry[1].append(rid)
    if not per_file:
        return []
    path_w = max(len(p) for p in per_file)
    lines = []
    for path in sorted(per_file):
        n, ids = per_file[path]
        wrapped = _wrap_ids(ids, max(24, 70 - path_w - 6)) or ["-"]
        lines.append(f"{path:<{path_w}}  {n:3}  {wrapped[0]}")
        lines += [f"{'':<{path_w}}       {w}" for w in wrapped[1:]]
    return lines


def _used_lines(patches: Sequence[Patch], rules: dict, regions: dict) -> list[str]:
    sites: dict[str, int] = defaultdict(int)
    order: list[tuple[str, str]] = []
    for p in patches:
        for f in p.files:
            for kind, pairs in (("recipe", f.regions), ("rule", f.rules)):
                for rid, n in pairs:
                    sites[rid] += n
                    if (kind, rid) not in order:
                        order.append((kind, rid))
    lines = []
    for kind, rid in sorted(order, key=lambda kr: (kr[0] != "recipe", kr[1])):
        if kind == "recipe":
            r = regions[rid]
            lines.append(f"{rid} (recipe on {r.file}, {text.sites(sites[rid])})")
        else:
            r = rules[rid]
            lines.append(f"{rid} ({r.stage} rule, {text.sites(sites[rid])})")
        lines += ["  " + line for line in text.fill(r.summary, width=68).splitlines()]
    return lines


def _patch_label(number: int, total: int) -> str:
    return f"[PATCH {number}/{total}]"


def _checkpatch_lines(files: Sequence[PatchFile], total: int) -> list[str]:
    lines = []
    for n, f in enumerate(files, start=1):
        r = f.checkpatch
        lines.append(f"{_patch_label(n, total)} {r.summary() if r else 'not run (--no-checkpatch)'}")
        for m in (r.messages if r else ()):
            if m.level in ("ERROR", "WARNING"):
                lines += ["    " + x for x in text.fill(m.line(), width=66).splitlines()]
    return lines


def _broken_lines(plan: RewritePlan, patches: Sequence[Patch], targets) -> list[str]:
    """What does not compile after the series: code still on the old layouts."""
    from ..build import targets_for_sources

    flag_day = next((i for i, p in enumerate(patches, start=1) if p.kind == FLAG_DAY), len(patches))
    code_left: dict[str, int] = defaultdict(int)
    reasons: dict[str, set[str]] = defaultdict(set)
    for f in plan.left():
        if f.occurrence.kind != "use":
            continue
        code_left[f.occurrence.path] += 1
        reasons[f.occurrence.path].add(plan.left_reason(f))
    lines = []
    for path in sorted(code_left):
        why = "; ".join(sorted(reasons[path]))
        lines.append(f"{path} still uses the old layouts at {text.sites(code_left[path])} ({why}); "
                     f"it does not compile after patch {flag_day} until it is migrated too.")
    if code_left:
        hit, _ = targets_for_sources(targets, sorted(code_left))
        for t in hit:
            lines.append(f"Build target {t.name} ({', '.join(t.objects)}) fails until then.")
    return lines


def _unchecked(patches: Sequence[Patch], targets) -> list[str]:
    from ..build import targets_for_sources

    sources = sorted({f.path for p in patches for f in p.files if f.path.endswith((".c", ".S"))})
    _, unplaced = targets_for_sources(targets, sources)
    return list(unplaced)


def _cover_text(texts: text.Texts, plan: RewritePlan, tr: TreeRepo, patches: Sequence[Patch],
                files: Sequence[PatchFile], rules: dict, regions: dict, options: SeriesOptions,
                targets) -> tuple[str, str]:
    total = len(patches)
    prep = [i for i, p in enumerate(patches, start=1) if p.kind == PREPARE]
    flag_day = next((i for i, p in enumerate(patches, start=1) if p.kind == FLAG_DAY), None)
    prepare_numbers = ""
    if prep:
        prepare_numbers = (f"Patch {prep[0]}" if len(prep) == 1 else f"Patches {prep[0]}-{prep[-1]}")
    verdict = None
    if options.verdict is not None:
        verdict = [line.rstrip() for line in options.verdict.strip("\n").splitlines()] or ["(empty)"]
    body = texts.render(
        "cover.txt.j2",
        flag_day_subject=texts.flag_day_subject,
        tree_name=_tree_name(tr.root),
        prepare_numbers=prepare_numbers,
        prepare_count=len(prep),
        api_changed=any(f.path == texts.api_header for p in patches for f in p.files),
        flag_day_number=flag_day,
        total_sites=sum(p.sites for p in patches),
        files=_file_lines(patches),
        file_count=len({f.path for p in patches for f in p.files}),
        used=_used_lines(patches, rules, regions),
        left=text.left_groups(plan),
        skipped=list(plan.skipped),
        refused=[r for r in plan.regions if r.status is RegionStatus.REFUSED],
        verdict=verdict,
        checkpatch=_checkpatch_lines(files, total),
        broken=_broken_lines(plan, patches, targets),
        unchecked=_unchecked(patches, targets),
        generator=generator_line(),
    )
    return texts.flag_day_subject, body


# ------------------------------------------------------------ the series

def default_targets(migration: Migration | None = None, required: bool = True):
    """The build targets a series is checked with: those of the pack's profile that build
    single objects.  A profile without targets is a MigratorError, or none when not required."""
    from ..build import object_targets, profile_targets

    return object_targets(profile_targets(migration or load_migration(DEFAULT_MIGRATION),
                                          required=required))


def make_series(tr: TreeRepo, ident: tuple[str, str], plan: RewritePlan,
                rules: Sequence[Rule] | RuleBook, regions: Sequence, options: SeriesOptions,
                migration: Migration | None = None) -> Series:
    """The series for plan, based on HEAD of tr; nothing is written outside git's object store.

    Its words are `migration`'s (default: the default pack's): templates, subjects, helpers.
    """
    migration = migration or load_migration(DEFAULT_MIGRATION)
    texts = text.Texts(migration)
    book = getattr(plan, "book", None) or as_book(rules)
    check_clean(tr, plan)
    patches = split_plan(plan, book, "atomic" if options.out_of_tree else options.split)
    if not patches:
        raise MigratorError(f"{tr.root}: nothing to rewrite; no series made")
    rule_by_id = {r.id: r for r in book.all_rules()}
    region_by_id = {r.id: r for r in regions}
    region_by_id.update({r.rule.id: r.rule for r in plan.regions})
    prefixer = Prefixer(profile_table(migration), tr.repo if options.prefixes == "history" else None,
                        tr.head.hexsha, tr.prefix)
    signoff = f"{ident[0]} <{ident[1]}>"
    generator = generator_line()
    subjects, messages, sources = [], [], []
    prepared = [text.area_name(p) for p in patches if p.kind == PREPARE]
    for p in patches:
        explained = text.explain(p, rule_by_id, region_by_id)
        if options.out_of_tree:
            subject = texts.out_of_tree_subject(_project_prefix(tr, p, options))
            subjects.append(subject)
            messages.append(texts.out_of_tree_message(p, subject, explained, signoff=signoff,
                                                      left=text.left_groups(plan),
                                                      generator=generator))
            continue
        if p.kind == PREPARE:
            prefix, source = prefixer.prefix(list(p.paths))
            sources.append((prefix, source))
        else:
            prefix = ""
        subject = texts.subject(p, prefix)
        left = text.left_groups(plan) if p.kind == FLAG_DAY else []
        subjects.append(subject)
        messages.append(texts.message(p, subject, explained, signoff=signoff,
                                     atomic=options.split == "atomic", prepared=prepared,
                                     left=left, generator=generator))
    date = git_date(options.date) if options.date is not None else commit_date(tr.head)
    ref = TEMP_REF.format(pid=os.getpid())
    g = tr.repo.git
    try:
        commits = _make_commits(tr, patches, messages, ident, date)
        g.update_ref(ref, commits[-1])
        with tempfile.TemporaryDirectory(prefix="migrator-format-patch-") as out:
            cover_letter = not options.out_of_tree
            names = _format_patch(tr, tr.head.hexsha, commits[-1], out, ident, date,
                                  generator.rsplit(" rewrite", 1)[0], cover_letter)
            if len(names) != len(patches) + cover_letter or \
                    cover_letter and names[0] != COVER_NAME:
                raise MigratorError(f"git format-patch wrote {len(names)} files for {len(patches)} patches")
            files: list[PatchFile] = []
            for name, patch, subject in zip(names[cover_letter:], patches, subjects):
                path = os.path.join(out, name)
                result = run_checkpatch(tr.root, path) if options.checkpatch else None
                files.append(PatchFile(name, Path(path).read_bytes(), subject, patch, result))
            if cover_letter:
                cover_subject, blurb = _cover_text(texts, plan, tr, patches, files, rule_by_id,
                                                   region_by_id, options,
                                                   default_targets(migration, required=False))
                cover = Path(out, COVER_NAME).read_bytes()
    except git.GitCommandError as e:
        raise _git_error(e) from None
    finally:
        try:
            g.update_ref("-d", ref)
        except git.GitCommandError:
            pass
    if not cover_letter:
        return Series(tr.head.hexsha, commits[-1], tuple(files), tuple(sources))
    for placeholder, value in ((b"*** SUBJECT HERE ***", printable(cover_subject).encode()),
                               (b"*** BLURB HERE ***\n", printable(blurb).encode())):
        if placeholder not in cover:
            raise MigratorError(f"git format-patch's cover letter has no {placeholder.decode().strip()}")
        cover = cover.replace(placeholder, value, 1)
    cover_file = PatchFile(COVER_NAME, cover, cover_subject, None)
    return Series(tr.head.hexsha, commits[-1], (cover_file, *files), tuple(sources))


def _project_prefix(tr: TreeRepo, patch: Patch, options: SeriesOptions) -> str | None:
    """The prefix the project's own history gives the patch's files, if it has one."""
    if options.prefixes != "history":
        return None
    return history_prefix(tr.repo, tr.head.hexsha, [tr.prefix + p for p in patch.paths], None,
                          project_lead)


def write_series(series: Series, out_dir: str | os.PathLike, force: bool = False) -> list[Path]:
    """Write the series' files into out_dir; with force, old patch files there go first."""
    check_output_dir(out_dir, force)
    d = Path(out_dir)
    try:
        d.mkdir(parents=True, exist_ok=True)
        if force:
            for name in patches_in(d):
                if _PATCH_NAME_RE.match(name):
                    (d / name).unlink()
        written = []
        for f in series.files:
            tmp = d / f".{f.name}.tmp"
            tmp.write_bytes(f.data)
            os.replace(tmp, d / f.name)
            written.append(d / f.name)
    except OSError as e:
        raise MigratorError(f"cannot write {e.filename or out_dir}: {e.strerror}") from None
    return written


def apply_series(tr: TreeRepo, series: Series) -> None:
    """Advance the checked-out branch to the series (a fast-forward from its base)."""
    if tr.repo.head.commit.hexsha != series.base:
        raise MigratorError("HEAD moved while the series was made; not applied")
    try:
        tr.repo.git.merge("--ff-only", "--quiet", series.tip)
    except git.GitCommandError as e:
        raise _git_error(e) from None
