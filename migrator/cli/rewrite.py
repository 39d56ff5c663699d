"""migrator rewrite."""

from __future__ import annotations

import sys

import click

from ..errors import MigratorError
from ..migration import Migration
from . import (EXIT_FAILED, cli, count, fail, migration_option, names_option,
               open_migration, profile_options, read_text_file, resolve_profile, rules_option)


def _print_rewrite_summary(plan, wrote: bool, err: bool) -> None:
    from collections import Counter, defaultdict

    echo = lambda text="": click.echo(text, err=err)  # noqa: E731
    files = len(plan.changes)
    verb = "rewritten" if wrote else "to rewrite"
    guarded = sum(c.guarded for c in plan.changes)
    behind = f", {count(guarded, 'unit')} behind the guard" if plan.profile.out_of_tree else ""
    echo(f"{count(plan.sites_rewritten, 'site')} {verb} in {count(files, 'file')}{behind}")
    guards = plan.guards()
    if guards:
        echo(f"{count(len(guards), 'existing guard')} decided by a rule:")
    for path, m, done in guards:
        state = verb if done else "left as it is"
        echo(f"  {path}:{m.line}:{m.col}: {m.rule_id} ({state}): {m.message}")
    for r in plan.regions:
        detail = f": {r.reason}" if r.reason else ""
        echo(f"  recipe {r.rule.id} on {r.rule.file}: {r.status.value}{detail}")
    left = plan.left()
    echo(f"{count(len(left), 'site')} left as they are")
    # An area without rules leaves all of its sites for one reason: say it once.
    whole_areas = [a for a in plan.scope if a.rules is None]
    by_reason: dict[str, Counter] = defaultdict(Counter)
    for f in left:
        o = f.occurrence
        if any(o.path.startswith(a.path) for a in whole_areas):
            by_reason[plan.left_reason(f)][o.path] += 1
        else:
            echo(f"  {o.path}:{o.line}:{o.col}: {f.rule_id or f.severity}: {plan.left_reason(f)}")
    for reason, per_file in by_reason.items():
        echo(f"  {sum(per_file.values())} in {count(len(per_file), 'file')}: {reason}")
    echo(f"{count(len(plan.skipped), 'file')} skipped")
    for sk in plan.skipped:
        echo(f"  {sk.path}: {sk.reason}")


def _series_options(fn):
    """The options of --series; they mean nothing without it."""
    options = [
        click.option("--series", "series_dir", metavar="DIR", type=click.Path(file_okay=False),
                     help="Write the change as a patch series (git format-patch files) into DIR, "
                          "based on the last commit; the tree, index and branch stay as they are."),
        click.option("--split", type=click.Choice(["arch", "atomic"]), default="arch", show_default=True,
                     help="arch: preparation patches per architecture, then the flag-day patch; "
                          "atomic: everything in one patch."),
        click.option("--signoff", metavar="'NAME <MAIL>'",
                     help="Author and Signed-off-by of the patches (default: git config user.name/email)."),
        click.option("--date", metavar="DATE",
                     help="Date of the series, ISO 8601 or @EPOCH (default: the base commit's date)."),
        click.option("--prefixes", type=click.Choice(["history", "table"]), default="history",
                     show_default=True,
                     help="Where subject prefixes come from: the touched files' git history "
                          "(falling back to the table of the pack's profile, profiles/NAME/prefixes.toml), "
                          "or only that table."),
        click.option("--verdict", type=click.Path(exists=True, dir_okay=False),
                     help="A text file with the semantic model's verdict (migrator check), "
                          "quoted in the cover letter."),
        click.option("--no-checkpatch", is_flag=True,
                     help="Do not run the tree's scripts/checkpatch.pl for the cover letter."),
        click.option("--apply", is_flag=True,
                     help="Also put the series on the current branch (a fast-forward), "
                          "which rewrites the files in place."),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def _refuse_unread(plan, mode_line: str | None) -> None:
    """A writing run over a tree it could not read all of: list it, write nothing, exit 1."""
    if mode_line:
        click.echo(mode_line)
    _print_rewrite_summary(plan, wrote=False, err=False)
    click.echo(f"migrator: {plan.unread_refusal()}; pass --allow-unread to write it anyway", err=True)
    sys.exit(EXIT_FAILED)


def _write_series(path: str, series_dir: str, force: bool, migration: Migration,
                  rules_dir: str | None, names: str, split: str, signoff: str | None,
                  date: str | None, prefixes: str, verdict: str | None, no_checkpatch: bool,
                  apply: bool, mode: str | None, guard: str, allow_unread: bool) -> None:
    from ..rewrite.plan import load_pack, plan_rewrite
    from ..series.make import SeriesOptions, apply_series, make_series, open_for_series, write_series

    try:
        verdict_text = read_text_file(verdict)
        # Out-of-tree code gets one patch in its project's subject style.
        profile, mode_line = resolve_profile(path, mode, guard, migration)
        options = SeriesOptions(split=split, signoff=signoff, date=date, prefixes=prefixes,
                                verdict=verdict_text, checkpatch=not no_checkpatch, apply=apply,
                                mode=profile.mode.value)
        tree_repo, ident = open_for_series(path, options, series_dir, force)
        # The same plan as an in-place rewrite, so the series ends where it would.
        rules, regions = load_pack(migration, rules_dir, profile)
        plan = plan_rewrite(path, rules, regions, names, vocabulary=migration.vocabulary, profile=profile)
        if plan.not_read and not allow_unread:
            _refuse_unread(plan, mode_line)
        series = make_series(tree_repo, ident, plan, rules, regions, options, migration)
        written = write_series(series, series_dir, force)
        if apply:
            apply_series(tree_repo, series)
    except MigratorError as e:
        fail(str(e))
    if mode_line:
        click.echo(mode_line)
    n = len(series.patches)
    cover = " and a cover letter" if len(series.files) > n else ""
    click.echo(f"{n} {'patch' if n == 1 else 'patches'}{cover} on {series.base[:12]} in {series_dir}:")
    for f, path_written in zip(series.files, written):
        check = f"  [checkpatch: {f.checkpatch.summary()}]" if f.checkpatch is not None else ""
        click.echo(f"  {path_written.name}{check}")
    if apply:
        click.echo(f"applied: {tree_repo.branch} is now at {series.tip[:12]}")
    _print_rewrite_summary(plan, wrote=apply, err=False)
    sys.exit(_rewrite_status(plan))


@cli.command()
@click.argument("path", type=click.Path())
@click.option("--dry-run", is_flag=True, help="Print the change as a unified diff; write nothing.")
@click.option("--force", is_flag=True,
              help="Rewrite files even if they have uncommitted changes; with --series, replace "
                   "the patches already in DIR.")
@migration_option
@rules_option
@names_option
@profile_options
@click.option("--allow-unread", is_flag=True,
              help="Write even when a directory or source file could not be read (listed as "
                   "skipped: unreadable, not a regular file, a link out of the tree); what it "
                   "holds stays old.  Without it such a run writes nothing.")
@_series_options
def rewrite(path: str, dry_run: bool, force: bool, allow_unread: bool, migration_name: str,
            rules_dir: str | None, names: str, mode: str | None, guard: str, series_dir: str | None,
            split: str, signoff: str | None, date: str | None, prefixes: str, verdict: str | None,
            no_checkpatch: bool, apply: bool) -> None:
    """Rewrite the uses of the old API in the tree at PATH.

    Every use whose meaning a rule decides becomes the new API, and the
    migration's regions rewrite the definitions.  The rest is left as it
    is and listed with the reason.  Files are replaced atomically; files with
    uncommitted changes make it refuse unless --force.  A second run changes
    nothing.

    With --series DIR the tree must be a git tree: the change becomes a patch
    series on its last commit (preparation patches per architecture, then
    the flag-day patch, and a cover letter), written to DIR; the tree itself
    is left as it is unless --apply.

    Out of the kernel tree (--mode), the code must keep building on older
    kernels too: each rewritten unit (a statement, a declaration, a #define,
    a ladder's branch) gets a new branch under --guard, and the old code
    stays byte for byte in the other.  Uses tied together are rewritten
    together or left together.

    A directory or source file that could not be read (unreadable, not a
    regular file, a link out of the tree, which is never followed) may hold
    uses nobody saw: then nothing is written, neither in place nor as a
    series, unless --allow-unread.  The parts are listed, and --dry-run
    still shows the change.

    Exit 0 when done, 1 when a file had to be skipped (listed with the
    reason; with a part not read, nothing was written) or, out of the tree, a
    use is left undecided, 2 on bad input or a refusal.
    """
    from ..parse.source import printable
    from ..rewrite.plan import load_pack, plan_rewrite
    from ..rewrite.diff import unified_diff
    from ..rewrite.write import Interrupted, tree_lock, write_changes
    from ..series.repo import dirty_paths

    migration = open_migration(migration_name)
    if series_dir is not None:
        if dry_run:
            fail("--dry-run and --series exclude each other")
        _write_series(path, series_dir, force, migration, rules_dir, names, split, signoff, date,
                      prefixes, verdict, no_checkpatch, apply, mode, guard, allow_unread)
        return
    ctx = click.get_current_context()
    given = [f"--{name.replace('_', '-')}" for name in ("split", "signoff", "date", "prefixes", "verdict",
                                                         "no_checkpatch", "apply")
             if ctx.get_parameter_source(name) is not click.core.ParameterSource.DEFAULT]
    if given:
        fail(f"{given[0]} needs --series DIR")
    try:
        profile, mode_line = resolve_profile(path, mode, guard, migration)
        rules, regions = load_pack(migration, rules_dir, profile)
        if dry_run:
            plan = plan_rewrite(path, rules, regions, names, vocabulary=migration.vocabulary, profile=profile)
            if mode_line:
                click.echo(mode_line, err=True)
            sys.stdout.buffer.write(unified_diff(plan.changes))
            sys.stdout.flush()
            _print_rewrite_summary(plan, wrote=False, err=True)
            sys.exit(_rewrite_status(plan))
        # One run at a time; a write step an earlier run left half done is settled first.
        with tree_lock(path) as recovery:
            if recovery is not None:
                click.echo(f"migrator: {recovery}", err=True)
            plan = plan_rewrite(path, rules, regions, names, vocabulary=migration.vocabulary, profile=profile)
            if plan.not_read and not allow_unread:
                _refuse_unread(plan, mode_line)
            dirty = dirty_paths(path, [c.path for c in plan.changes])
            if dirty and not force:
                fail(f"{printable(dirty[0])}: uncommitted changes ({len(dirty)} files); "
                     "commit them or use --force")
            write_changes(path, plan.changes)
    except MigratorError as e:
        fail(str(e))
    except Interrupted as e:
        click.echo(f"migrator: {e}", err=True)
        sys.exit(128 + e.signum)
    if mode_line:
        click.echo(mode_line)
    _print_rewrite_summary(plan, wrote=True, err=False)
    sys.exit(_rewrite_status(plan))


def _rewrite_status(plan) -> int:
    """1 when a file was skipped, a site could not be read, or (out of the tree) a use is
    undecided: written what could be, but a script must see it; the same for --dry-run as
    for the real run."""
    return EXIT_FAILED if plan.skipped or plan.scan.unread or _undecided(plan) else 0


def _undecided(plan) -> bool:
    """Out of the tree, a use no rule decides keeps the job unfinished."""
    return plan.profile.out_of_tree and any(f.severity == "undecided" for f in plan.left())


