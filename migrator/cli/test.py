"""migrator test: the cases written in a pack's rule files."""

from __future__ import annotations

import sys

import click

from ..errors import MigratorError
from ..match.rules import sites_folder
from . import EXIT_FAILED, cli, fail, migration_option, open_migration, rules_option


@cli.command("test")
@migration_option
@rules_option
@click.option("-U", "--update", is_flag=True,
              help="Rewrite the region rules' snapshots from their outputs (review them as a diff).")
@click.option("-v", "--verbose", is_flag=True, help="List every case, not only failures.")
def test_rules(migration_name: str, rules_dir: str | None, update: bool, verbose: bool) -> None:
    """Run the cases written in the rule files: site, loader and region rules.

    A region rule's output on each of its match cases must equal its snapshot
    (rules/regions/snapshots/ID.snap); --update rewrites the snapshots.  With
    --rules, only the site rules of that folder are run.
    """
    from ..ruletest import pack_rule_tests

    migration = open_migration(migration_name)
    try:
        results = pack_rule_tests(migration, sites_folder(rules_dir), update=update)
    except MigratorError as e:
        fail(str(e))
    for r in results:
        if verbose or not r.ok:
            click.echo(f"{r.status.upper():8} {r.name}  {r.detail}".rstrip())
    failed = sum(1 for r in results if not r.ok)
    click.echo(f"{len(results) - failed} passed, {failed} failed")
    sys.exit(EXIT_FAILED if failed else 0)
