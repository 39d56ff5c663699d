"""migrator rewrite."""

from __future__ import annotations

import sys

import click

from ..errors import MigratorError
from ..match import load_rules
from . import cli, count, fail, names_option, rules_option


def _print_rewrite_summary(plan, wrote: bool, err: bool) -> None:
    from collections import Counter, defaultdict

    echo = lambda text="": click.echo(text, err=err)  # noqa: E731
    files = len(plan.changes)
    verb = "rewritten" if wrote else "to rewrite"
    echo(f"{plan.sites_rewritten} sites {verb} in {count(files, 'file')}")
    for r in plan.recipes:
        detail = f": {r.reason}" if r.reason else ""
        echo(f"  recipe {r.recipe.id} on {r.recipe.file}: {r.status}{detail}")
    left = plan.left()
    by_reason: dict[str, Counter] = defaultdict(Counter)
    for f in left:
        by_reason[plan.left_reason(f)][f.occurrence.path] += 1
    echo(f"{count(len(left), 'site')} left as they are")
    for reason, per_file in by_reason.items():
        scoped = any(f.occurrence.path.startswith(s.path) for s in plan.scope for f in left
                     if plan.left_reason(f) == reason)
        if scoped:
            echo(f"  {sum(per_file.values())} in {count(len(per_file), 'file')}: {reason}")
    for f in left:
        o = f.occurrence
        reason = plan.left_reason(f)
        if not any(o.path.startswith(s.path) for s in plan.scope):
            echo(f"  {o.path}:{o.line}:{o.col}: {f.rule_id or f.severity}: {reason}")
    echo(f"{count(len(plan.skipped), 'file')} skipped")
    for sk in plan.skipped:
        echo(f"  {sk.path}: {sk.reason}")


@cli.command()
@click.argument("path", type=click.Path())
@click.option("--dry-run", is_flag=True, help="Print the change as a unified diff; write nothing.")
@click.option("--force", is_flag=True, help="Rewrite files even if they have uncommitted changes.")
@rules_option
@names_option
def rewrite(path: str, dry_run: bool, force: bool, rules_dir: str, names: str) -> None:
    """Rewrite the uses of the old layouts in the tree at PATH.

    Every use whose meaning a rule decides becomes the module_memory API, and
    include/linux/module.h gets the new definitions.  The rest is left as it
    is and listed with the reason.  Files are replaced atomically; files with
    uncommitted changes make it refuse unless --force.  A second run changes
    nothing.
    """
    from ..rewrite.plan import load_scope, plan_rewrite
    from ..rewrite.recipes import load_recipes
    from ..rewrite.write import unified_diff, write_changes
    from ..series.repo import dirty_paths

    try:
        plan = plan_rewrite(path, load_rules(rules_dir), load_recipes(), names, scope=load_scope())
        if dry_run:
            sys.stdout.buffer.write(unified_diff(plan.changes))
            sys.stdout.flush()
            _print_rewrite_summary(plan, wrote=False, err=True)
            return
        dirty = dirty_paths(path, [c.path for c in plan.changes])
        if dirty and not force:
            fail(f"{dirty[0]}: uncommitted changes ({len(dirty)} files); commit them or use --force")
        write_changes(path, plan.changes)
    except MigratorError as e:
        fail(str(e))
    _print_rewrite_summary(plan, wrote=True, err=False)


