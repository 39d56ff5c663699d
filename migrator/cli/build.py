"""migrator build: compile the objects a migration touches, per architecture."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ..errors import MigratorError
from . import EXIT_FAILED, cli, fail, migration_option, open_migration, progress_bar, quiet_option


@cli.command()
@click.argument("path", type=click.Path(), required=False)
@click.option("-t", "--target", "names", multiple=True, metavar="NAME",
              help="Build only these targets (repeatable). Default: every target that builds "
                   "single objects; the others (a folder, vmlinux) take minutes to an hour. "
                   "--list shows them.")
@click.option("--list", "list_targets", is_flag=True,
              help="List the targets of the pack's profile, the default ones marked *, and exit.")
@click.option("--build-dir", type=click.Path(file_okay=False), default=None,
              help="Where the O= directories live (one per target, reused). "
                   "Default: ~/.cache/migrator/build/<tree name>.")
@migration_option
@quiet_option
def build(path: str | None, names: tuple[str, ...], list_targets: bool, build_dir: str | None,
          migration_name: str, quiet: bool) -> None:
    """Compile, with Debian's cross compilers, the objects of the tree at PATH
    that the migration touches: one defconfig per architecture, with the
    options that build each object (the targets of the pack's kernel
    profile, profiles/NAME/targets.toml).  The O= directories are kept, so a
    second run takes seconds.  Exit 1 if any target fails to build.
    """
    from ..build import (compile_targets, default_build_root, object_targets, profile_targets,
                         require_build_tree, select_targets)

    migration = open_migration(migration_name)
    try:
        known = profile_targets(migration)
        if list_targets:
            _print_targets(known, object_targets(known))
            return
        if path is None:
            raise MigratorError("missing argument PATH (the tree to build)")
        targets = select_targets(known, names) if names else object_targets(known)
        tree = Path(path)
        require_build_tree(tree, targets)
        root = Path(build_dir) if build_dir else default_build_root() / tree.resolve().name
        click.echo(f"building {len(targets)} targets of {tree} in {root}", err=True)
        results = []
        with progress_bar(targets, "building", quiet) as bar:
            for target in bar:
                [result] = compile_targets(tree, [target], root)
                results.append(result)
                _print_build(result)
    except MigratorError as e:
        fail(str(e))
    failed = [r for r in results if not r.ok]
    click.echo(f"{len(results) - len(failed)} built, {len(failed)} failed")
    sys.exit(EXIT_FAILED if failed else 0)


def _print_targets(targets, default) -> None:
    for target in targets:
        mark = "*" if target in default else " "
        click.echo(f"{mark} {target.name:16} {target.arch:8} {' '.join(target.objects)}")


def _print_build(result) -> None:
    status = "ok" if result.ok else result.outcome.value
    line = f"{result.target:16} {status:12} {result.seconds:7.1f} s  {' '.join(result.objects)}"
    click.echo(line + (f"\n{'':16} {result.reason}" if result.reason else ""))
    for warning in result.warnings:
        click.echo(f"{'':16} warning: {warning}")
