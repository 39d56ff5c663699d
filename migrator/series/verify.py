"""Verify a patch series on a fresh clone of the tree it was made for.

The series is applied patch by patch with `git am` to a new clone at its
base commit.  After each patch checkpatch.pl (the tree's own) judges the
patch, and the objects the patch touches are compiled: a .c file's object
with the target that builds it, a header's users with every target of its
architecture (all targets for include/).  After the last patch every
target is compiled, and every file must hold exactly the bytes an in-place
`migrator rewrite` of the base writes.

A target whose objects still use the old layouts (code the plan left for a
human) is expected to fail once the API header has changed; it is shown as
such and does not fail the verification.
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import git

from ..errors import MigratorError
from ..migration import Migration, load_migration
from .checkpatch import CheckpatchResult, run_checkpatch
from .make import COVER_NAME, default_targets
from .repo import find_repo

_BASE_RE = re.compile(rb"^base-commit: ([0-9a-f]{40})$", re.M)
_SUBJECT_RE = re.compile(rb"^Subject: (.*(?:\n [^\n]*)*)", re.M)
_IDENTITY = {"GIT_COMMITTER_NAME": "migrator verify-series",
             "GIT_COMMITTER_EMAIL": "verify-series@migrator.invalid",
             "GIT_AUTHOR_NAME": "migrator verify-series",
             "GIT_AUTHOR_EMAIL": "verify-series@migrator.invalid"}


@dataclass(frozen=True)
class PatchCheck:
    number: int
    name: str
    subject: str
    applied: bool
    error: str = ""  # why git am refused it
    touched: tuple[str, ...] = ()
    checkpatch: CheckpatchResult | None = None
    builds: tuple = ()  # CompileResult, one per target built after this patch
    expected: tuple[str, ...] = ()  # targets expected to fail after it (code left on the old API)
    unbuilt: tuple[str, ...] = ()  # touched C files no target compiles
    seconds: float = 0.0

    def unexpected_failures(self) -> list:
        return [b for b in self.builds if not b.ok and b.target not in self.expected]

    @property
    def ok(self) -> bool:
        return (self.applied and self.checkpatch is not None and self.checkpatch.ok
                and not self.unexpected_failures())


@dataclass(frozen=True)
class SeriesCheck:
    base: str
    clone: str
    patches: tuple[PatchCheck, ...]
    identical: bool | None  # None when not every patch applied
    differences: tuple[str, ...] = ()
    final: tuple = ()  # CompileResult per target after the whole series
    final_expected: tuple[str, ...] = ()
    seconds: float = 0.0
    targets: tuple[str, ...] = ()
    # Where the time went: clone, plan (the in-place rewrite), final (the builds after the series).
    timings: tuple[tuple[str, float], ...] = ()

    @property
    def ok(self) -> bool:
        final_ok = all(b.ok or b.target in self.final_expected for b in self.final)
        return bool(self.patches) and all(p.ok for p in self.patches) and self.identical is True and final_ok


# ------------------------------------------------------------ reading a series

@dataclass(frozen=True)
class SeriesFiles:
    base: str | None
    cover: Path | None
    patches: tuple[Path, ...]


def read_series(series_dir: str | os.PathLike) -> SeriesFiles:
    d = Path(series_dir)
    if not d.is_dir():
        raise MigratorError(f"{series_dir}: no such folder")
    files = sorted(p for p in d.iterdir() if p.name.endswith(".patch") and p.is_file())
    cover = next((p for p in files if p.name == COVER_NAME), None)
    patches = tuple(p for p in files if p.name != COVER_NAME)
    if not patches:
        raise MigratorError(f"{series_dir}: holds no patch files")
    base = None
    for p in ([cover] if cover else []) + list(patches):
        m = _BASE_RE.search(p.read_bytes())
        if m:
            base = m.group(1).decode()
            break
    return SeriesFiles(base, cover, patches)


def _subject(patch: Path) -> str:
    m = _SUBJECT_RE.search(patch.read_bytes())
    if m is None:
        return patch.name
    return re.sub(r"\s*\n\s+", " ", m.group(1).decode("utf-8", errors="replace")).strip()


# ------------------------------------------------------------ the clone

def _git(cwd: str | os.PathLike, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, **_IDENTITY, "LC_ALL": "C", "LANG": "C"}
    return subprocess.run(["git", "-C", str(cwd), *args], capture_output=True, env=env,
                          stdin=subprocess.DEVNULL)


def _check(run: subprocess.CompletedProcess, what: str) -> str:
    if run.returncode != 0:
        lines = run.stderr.decode("utf-8", errors="replace").strip().splitlines()
        raise MigratorError(f"{what} failed: {lines[-1] if lines else 'exit ' + str(run.returncode)}")
    return run.stdout.decode("utf-8", errors="replace")


def default_workdir() -> Path:
    cache = Path(os.environ.get("MIGRATOR_CACHE", Path.home() / ".cache" / "migrator"))
    return cache / "series-verify"


def discard(path: Path) -> None:
    """Remove a clone without waiting for it.

    Deleting 75,000 files takes from ten seconds to minutes on a busy disk,
    and nothing depends on it: the folder is renamed aside at once and an
    `rm -rf` of it runs on in the background.
    """
    if not path.exists():
        return
    trash = path.parent / f".trash-{path.name}-{os.getpid()}-{time.monotonic_ns()}"
    try:
        path.rename(trash)
    except OSError:
        shutil.rmtree(path, ignore_errors=True)
        return
    try:
        subprocess.Popen(["rm", "-rf", "--", str(trash)], stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    except OSError:
        shutil.rmtree(trash, ignore_errors=True)


def fresh_clone(repo: git.Repo, base: str, dest: Path) -> Path:
    """A new clone of repo at base in dest (emptied first); objects shared, files real."""
    discard(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    src = repo.working_tree_dir or repo.git_dir
    _check(_git(dest.parent, "clone", "-q", "--shared", "--no-checkout", str(src), str(dest)), "git clone")
    _check(_git(dest, "checkout", "-q", "-b", "series-verify", base), "git checkout")
    return dest


def _touched(clone: Path, prefix: str) -> tuple[str, ...]:
    out = _check(_git(clone, "diff", "--name-only", "-z", "HEAD~1", "HEAD"), "git diff")
    paths = [p for p in out.split("\0") if p]
    return tuple(p[len(prefix):] for p in paths if p.startswith(prefix))


# ------------------------------------------------------------ what to build

def targets_for_patch(targets: Sequence, touched: Sequence[str]):
    """(targets restricted to what the patch reaches, touched C files no target builds)."""
    from ..build import targets_for_sources

    planned, unplaced = targets_for_sources(targets, [p for p in touched if p.endswith((".c", ".S"))])
    by_name = {t.name: t for t in planned}
    for path in touched:
        if not path.endswith(".h"):
            continue
        parts = path.split("/")
        if parts[0] == "include":
            reached = list(targets)
        elif parts[0] == "arch" and len(parts) > 2 and "include" in parts:
            reached = [t for t in targets if t.srcarch == parts[1]]
        else:
            # A header beside its sources: the targets that build objects of that folder.
            folder = "/".join(parts[:-1]) + "/"
            reached = [t for t in targets if any(o.startswith(folder) for o in t.objects)]
        for t in reached:
            by_name[t.name] = t  # the whole target: a header reaches all its objects
    ordered = tuple(by_name[t.name] for t in targets if t.name in by_name)
    return ordered, tuple(p for p in unplaced if p.endswith((".c", ".S")))


def _expected_failures(targets: Sequence, left_code: Sequence[str]) -> tuple[str, ...]:
    from ..build import targets_for_sources

    hit, _ = targets_for_sources(targets, list(left_code))
    return tuple(t.name for t in hit)


# ------------------------------------------------------------ verification

def verify_series(
    series_dir: str | os.PathLike,
    repo_path: str | os.PathLike,
    *,
    base: str | None = None,
    targets: Sequence | None = None,
    build: bool = True,
    workdir: str | os.PathLike | None = None,
    build_root: str | os.PathLike | None = None,
    jobs: int = 2,
    migration: Migration | None = None,
    rules_dir: str | os.PathLike | None = None,
    names: str = "short",
    keep: bool = False,
    on_patch: Callable[[PatchCheck], None] | None = None,
) -> SeriesCheck:
    """Apply the series in series_dir to a fresh clone of repo_path and check it.

    The in-place rewrite it compares with uses the migration's rules (or those
    of rules_dir) and regions; the default is the default migration.
    """
    from ..build import compile_targets, default_build_root
    from ..rewrite.plan import load_pack, plan_rewrite

    start = time.monotonic()
    files = read_series(series_dir)
    base = base or files.base
    if base is None:
        raise MigratorError(f"{series_dir}: no base-commit line; pass the base commit")
    repo = find_repo(str(repo_path))
    if repo is None:
        raise MigratorError(f"{repo_path}: not a git repository")
    try:
        base = repo.commit(base).hexsha
    except (ValueError, git.BadName, git.BadObject):
        raise MigratorError(f"{repo_path}: has no commit {base} (the series' base)") from None
    top = os.path.realpath(repo.working_tree_dir or repo.git_dir)
    rel = os.path.relpath(os.path.realpath(str(repo_path)), top)
    prefix = "" if rel == "." or rel.startswith("..") else rel.replace(os.sep, "/") + "/"
    migration = migration or load_migration()
    targets = tuple(default_targets(migration) if targets is None else targets)
    work = Path(workdir) if workdir is not None else default_workdir()
    work.mkdir(parents=True, exist_ok=True)
    root = Path(build_root) if build_root is not None else default_build_root() / "series"

    with open(work / ".lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        timings: dict[str, float] = {}
        t0 = time.monotonic()
        clone = fresh_clone(repo, base, work / "tree")
        tree = clone / prefix if prefix else clone
        timings["clone"] = round(time.monotonic() - t0, 1)
        try:
            # What an in-place rewrite of the base writes, and what it leaves.
            t0 = time.monotonic()
            book, regions = load_pack(migration, rules_dir)
            plan = plan_rewrite(str(tree), book, regions, names, vocabulary=migration.vocabulary)
            timings["plan"] = round(time.monotonic() - t0, 1)
            left_code = sorted({f.occurrence.path for f in plan.left() if f.occurrence.kind == "use"}
                               | {s.path for s in plan.skipped})
            checks: list[PatchCheck] = []
            api_changed = False
            last_builds: dict[str, object] = {}
            for n, patch in enumerate(files.patches, start=1):
                t0 = time.monotonic()
                subject = _subject(patch)
                run = _git(clone, "-c", "apply.whitespace=warn", "am", "-q", "--keep-cr", "--no-3way",
                           str(patch.resolve()))
                if run.returncode != 0:
                    _git(clone, "am", "--abort")
                    lines = (run.stdout + run.stderr).decode("utf-8", errors="replace").strip().splitlines()
                    error = next((ln for ln in lines if ln.startswith(("error:", "fatal:"))),
                                 lines[0] if lines else f"git am exited {run.returncode}")
                    check = PatchCheck(n, patch.name, subject, False, error,
                                       seconds=round(time.monotonic() - t0, 1))
                    checks.append(check)
                    if on_patch:
                        on_patch(check)
                    break
                touched = _touched(clone, prefix)
                api_changed = api_changed or migration.vocabulary.new.api_header in touched
                expected = _expected_failures(targets, left_code) if api_changed else ()
                result = run_checkpatch(tree, patch)
                builds: tuple = ()
                planned, unbuilt = targets_for_patch(targets, touched)
                if build and planned:
                    builds = tuple(compile_targets(tree, planned, root, jobs=jobs))
                    full = {t.name for t in targets}
                    for b in builds:
                        whole = next(t for t in targets if t.name == b.target)
                        if b.objects == whole.objects and b.target in full:
                            last_builds[b.target] = (n, b)
                check = PatchCheck(n, patch.name, subject, True, "", touched, result, builds,
                                   tuple(e for e in expected if e in {b.target for b in builds}),
                                   unbuilt, round(time.monotonic() - t0, 1))
                checks.append(check)
                if on_patch:
                    on_patch(check)
            applied = len(checks) == len(files.patches) and all(c.applied for c in checks)
            identical, differences = None, ()
            final: tuple = ()
            final_expected: tuple[str, ...] = ()
            if applied:
                t0 = time.monotonic()
                differences = _differences(clone, prefix, base, tree, plan)
                identical = not differences
                if build:
                    last = len(files.patches)
                    final_expected = _expected_failures(targets, left_code) if api_changed else ()
                    reuse = {name: b for name, (n, b) in last_builds.items() if n == last}
                    todo = [t for t in targets if t.name not in reuse]
                    built = {b.target: b for b in compile_targets(tree, todo, root, jobs=jobs)} if todo else {}
                    final = tuple(reuse.get(t.name) or built[t.name] for t in targets)
                timings["final"] = round(time.monotonic() - t0, 1)
        finally:
            if not keep:
                discard(clone)
    return SeriesCheck(base, str(clone), tuple(checks), identical, differences, final, final_expected,
                       round(time.monotonic() - start, 1), tuple(t.name for t in targets),
                       tuple(timings.items()))


def _differences(clone: Path, prefix: str, base: str, tree: Path, plan) -> tuple[str, ...]:
    """Files where the applied series and the in-place rewrite disagree."""
    out = _check(_git(clone, "diff", "--name-only", "-z", base, "HEAD"), "git diff")
    changed = {p[len(prefix):] for p in out.split("\0") if p and p.startswith(prefix)}
    outside = [p for p in out.split("\0") if p and not p.startswith(prefix)]
    expected = {c.path: c.new for c in plan.changes}
    diffs = [f"{p}: changed outside the kernel tree" for p in outside]
    for path in sorted(changed | set(expected)):
        if path not in expected:
            diffs.append(f"{path}: changed by the series, not by the rewrite")
        elif path not in changed:
            diffs.append(f"{path}: changed by the rewrite, not by the series")
        elif (tree / path).read_bytes() != expected[path]:
            diffs.append(f"{path}: bytes differ from the in-place rewrite "
                         "(made with other rules than these?)")
    return tuple(diffs)
