"""migrator verify-series."""

from __future__ import annotations

import sys

import click

from ..errors import MigratorError
from . import (EXIT_FAILED, cli, fail, migration_option, names_option, open_migration, progress_bar,
               quiet_option, rules_option)

_SUBJECT_WIDTH = 34


def _cell(check, target: str) -> str:
    b = next((b for b in check.builds if b.target == target), None)
    if b is None:
        return "-"
    if b.ok:
        return "ok"
    if target in check.expected:
        return "fail*"
    return "n/a" if b.outcome.value == "unavailable" else "FAIL"


def _short(subject: str) -> str:
    import re

    subject = re.sub(r"^\[PATCH[^\]]*\]\s*", "", subject)
    return subject if len(subject) <= _SUBJECT_WIDTH else subject[:_SUBJECT_WIDTH - 3] + "..."


@cli.command("verify-series")
@click.argument("series_dir", metavar="DIR", type=click.Path(file_okay=False))
@click.option("--repo", "repo_path", default=".", show_default=True, type=click.Path(file_okay=False),
              help="The git tree the series was made for (it is cloned, never changed).")
@click.option("--base", help="The base commit (default: the cover letter's base-commit line).")
@click.option("-t", "--target", "target_names", multiple=True, metavar="NAME",
              help="Build only these targets (repeatable); default: every single-object target.")
@click.option("--no-build", is_flag=True, help="Apply, compare and run checkpatch; compile nothing.")
@click.option("--workdir", type=click.Path(file_okay=False),
              help="Where the fresh clone goes (default: ~/.cache/migrator/series-verify).")
@click.option("--build-dir", type=click.Path(file_okay=False),
              help="Where the O= directories live (default: ~/.cache/migrator/build/series).")
@click.option("-j", "--jobs", type=click.IntRange(1), default=2, show_default=True)
@click.option("--keep", is_flag=True, help="Keep the clone with the series applied.")
@migration_option
@rules_option
@names_option
@quiet_option
def verify_series(series_dir: str, repo_path: str, base: str | None, target_names: tuple[str, ...],
                  no_build: bool, workdir: str | None, build_dir: str | None, jobs: int, keep: bool,
                  migration_name: str, rules_dir: str | None, names: str, quiet: bool) -> None:
    """Check the patch series in DIR on a fresh clone of the tree.

    git am applies each patch to a new clone at the base commit; the tree's
    checkpatch.pl must find no error in any patch; after each patch the
    objects it touches must compile (headers: every target they reach);
    after the series every target must compile and every file must hold
    the bytes an in-place `migrator rewrite` of the base writes.  Prints a
    table: per patch, checkpatch's errors/warnings, each target's build
    (ok, FAIL, fail* = expected: code left on the old API, n/a = no
    compiler, - = not built) and seconds.  Exit 1 if anything fails.
    """
    from ..build import profile_targets, select_targets
    from ..series.make import default_targets
    from ..series.verify import read_series
    from ..series.verify import verify_series as run

    migration = open_migration(migration_name)
    try:
        patches = len(read_series(series_dir).patches)  # refuse a folder without patches before printing
        targets = select_targets(profile_targets(migration), target_names) if target_names \
            else default_targets(migration, required=not no_build)
    except MigratorError as e:
        fail(str(e))
    names_of = [t.name for t in targets] if not no_build else []
    header = f"{'patch':<{_SUBJECT_WIDTH + 4}} {'checkpatch':>10}  " + "  ".join(f"{n:>9}" for n in names_of) + "  seconds"
    click.echo(header)

    def row(check) -> None:
        cp = check.checkpatch
        cps = f"{cp.errors}E/{cp.warnings}W" if cp is not None and cp.ran else ("-" if cp is None else "n/a")
        if not check.applied:
            cps = "NOT APPLIED"
        cells = "  ".join(f"{_cell(check, n):>9}" for n in names_of)
        click.echo(f"{check.number:>2}  {_short(check.subject):<{_SUBJECT_WIDTH}} {cps:>10}  {cells}  {check.seconds:7.1f}")

    try:
        with progress_bar(None, "verifying patches", quiet, length=patches) as bar:
            def on_patch(check) -> None:
                row(check)
                bar.update(1)

            result = run(series_dir, repo_path, base=base, targets=targets, build=not no_build,
                         workdir=workdir, build_root=build_dir, jobs=jobs, migration=migration,
                         rules_dir=rules_dir, names=names, keep=keep, on_patch=on_patch)
    except MigratorError as e:
        fail(str(e))
    if result.final:
        cells = []
        for n in names_of:
            b = next((b for b in result.final if b.target == n), None)
            cell = "-" if b is None else "ok" if b.ok else ("fail*" if n in result.final_expected
                                                          else "n/a" if b.outcome.value == "unavailable" else "FAIL")
            cells.append(f"{cell:>9}")
        final_seconds = dict(result.timings).get("final", 0.0)
        click.echo(f"{'':>2}  {'after the series':<{_SUBJECT_WIDTH}} {'':>10}  {'  '.join(cells)}  {final_seconds:7.1f}")
    _details(result)
    sys.exit(0 if result.ok else EXIT_FAILED)


def _details(result) -> None:
    echo = click.echo
    echo("")
    for c in result.patches:
        if not c.applied:
            echo(f"patch {c.number} ({c.name}) does not apply: {c.error}")
            continue
        for m in (c.checkpatch.messages if c.checkpatch else ()):
            if m.level in ("ERROR", "WARNING"):
                echo(f"patch {c.number}: checkpatch {m.line()}")
        if c.checkpatch is not None and not c.checkpatch.ran:
            echo(f"patch {c.number}: checkpatch not run: {c.checkpatch.reason}")
        for b in c.builds:
            if not b.ok:
                label = "expected failure" if b.target in c.expected else b.outcome.value
                echo(f"patch {c.number}: {b.target} {label}: {b.reason}")
        for path in c.unbuilt:
            echo(f"patch {c.number}: {path}: no build target compiles it")
    for b in result.final:
        if not b.ok and b.target not in result.final_expected:
            echo(f"after the series: {b.target} {b.outcome.value}: {b.reason}")
    if result.final and not dict(result.timings).get("final"):
        echo(f"after the series: patch {len(result.patches)} built every target whole; those builds stand")
    for name in result.final_expected:
        echo(f"after the series: {name} is expected to fail: its sources still use the old layouts")
    if result.identical is True:
        echo("the applied series is byte-identical to the in-place rewrite")
    elif result.identical is False:
        for d in result.differences:
            echo(f"differs: {d}")
    verdict = "OK" if result.ok else "FAILED"
    spent = ", ".join(f"{k} {v:.0f} s" for k, v in result.timings)
    echo(f"{verdict}: {len(result.patches)} patches on {result.base[:12]}, {result.seconds:.0f} s ({spent})")
