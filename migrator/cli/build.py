"""migrator build: compile the objects that use module memory, per architecture."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ..errors import MigratorError
from . import EXIT_FAILED, cli, fail, migration_option, open_migration, progress_bar, quiet_option

# The object checks; the whole-kernel ones take minutes to an hour.
DEFAULT_TARGETS = ("arm64", "arm", "s390", "powerpc32", "parisc32", "mips", "arc", "x86_64")


@cli.command()
@click.argument("path", type=click.Path())
@click.option("-t", "--target", "names", multiple=True, metavar="NAME",
              help=f"Build only these targets (repeatable). Default: {', '.join(DEFAULT_TARGETS)}. "
                   "Also: x86_64-kernel (kernel/ and arch/x86/kernel/), x86_64-vmlinux.")
@click.option("--build-dir", type=click.Path(file_okay=False), default=None,
              help="Where the O= directories live (one per target, reused). "
                   "Default: ~/.cache/migrator/build/<tree name>.")
@migration_option
@quiet_option
def build(path: str, names: tuple[str, ...], build_dir: str | None, migration_name: str,
          quiet: bool) -> None:
    """Compile, with Debian's cross compilers, the objects of the tree at PATH
    that use module memory: one defconfig per architecture, with the options
    that build each object.  The O= directories are kept, so a second run
    takes seconds.  Exit 1 if any target fails to build.
    """
    from ..build import require_build_tree, compile_targets, default_build_root, load_targets, select_targets

    open_migration(migration_name)  # the build targets move into the pack's profile in phase 2
    tree = Path(path)
    try:
        targets = select_targets(load_targets(), names or DEFAULT_TARGETS)
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


def _print_build(result) -> None:
    status = "ok" if result.ok else result.outcome.value
    line = f"{result.target:16} {status:12} {result.seconds:7.1f} s  {' '.join(result.objects)}"
    click.echo(line + (f"\n{'':16} {result.reason}" if result.reason else ""))
    for warning in result.warnings:
        click.echo(f"{'':16} warning: {warning}")
