"""migrator boot: build a tree's kernel, boot it in qemu, load modules, check them."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from ..errors import MigratorError
from . import EXIT_FAILED, cli, fail, migration_option, open_migration, progress_bar, quiet_option


@cli.command("boot")
@click.argument("trees", nargs=-1, required=True, type=click.Path(exists=True, file_okay=False))
@click.option("--arch", type=click.Choice(["x86_64", "arm64"]), default="x86_64", show_default=True,
              help="The kernel's architecture (qemu runs it without KVM).")
@click.option("--build-dir", type=click.Path(file_okay=False), default=None,
              help="Where the kernel is built (reused: a second run rebuilds only what changed). "
                   "With several trees, each gets a folder inside. "
                   "Default: ~/.cache/migrator/boot-build/<tree>-<hash>.")
@click.option("--modules", "external", multiple=True, type=click.Path(exists=True, file_okay=False),
              metavar="SRC", help="An out-of-tree module folder, built against TREE and loaded too "
                                  "(repeatable); its modules must print 'FOLDER: self-check PASS' at "
                                  "load, FOLDER being the folder's name.")
@click.option("--cycles", type=click.IntRange(0, 100), default=3, show_default=True,
              help="Unload and reload every module this many times, watching vmalloc use.")
@click.option("--log", "log_file", type=click.Path(dir_okay=False), default=None,
              help="Write the guest's console here (one file per tree: FILE, FILE.2, ...).")
@migration_option
@quiet_option
def boot_command(trees: tuple[str, ...], arch: str, build_dir: str | None,
                 external: tuple[str, ...], cycles: int, log_file: str | None,
                 migration_name: str, quiet: bool) -> None:
    """Build a small kernel from each TREE (tinyconfig plus what the checks
    need, with in-tree self-test modules and migrator's probe module), boot
    it in qemu, load every module and check, in the guest: loading, sysfs
    sections, kallsyms both ways, init memory freed, page permissions from
    the page-table dump, load/unload cycles against vmalloc use, kmemleak,
    and the self-tests.  Where each section should be comes from the pack's
    model.  Several TREEs are checked the same way and shown side by side.
    Exit 0 when every check holds on every tree, 1 otherwise.
    """
    from ..boot.run import STEPS, boot_tree

    migration = open_migration(migration_name)
    os.nice(10)  # kernel builds share the machine
    reports = []
    try:
        # A step of a tree is done when its next one begins, or the tree is done.
        with progress_bar(None, f"boot ({arch})", quiet, length=len(trees) * len(STEPS)) as bar:
            for index, tree in enumerate(trees):
                where = None
                if build_dir:
                    where = Path(build_dir) / (Path(tree).resolve().name if len(trees) > 1 else "")
                begun: list[str] = []

                def on_step(step: str, tree: str = tree, begun: list[str] = begun) -> None:
                    bar.update(1 if begun else 0, f"{tree}: {step}")
                    begun.append(step)

                report = boot_tree(Path(tree), arch, where, tuple(Path(e) for e in external), cycles,
                                   on_step=on_step, migration=migration)
                bar.update(len(STEPS) - max(len(begun) - 1, 0), f"{tree}: done")
                reports.append(report)
                if log_file and report.log is not None:
                    target = Path(log_file if index == 0 else f"{log_file}.{index + 1}")
                    target.write_text(report.log.console)
    except MigratorError as e:
        fail(str(e))
    for report in reports:
        build, log = report.build, report.log
        boot_time = f", boot {log.seconds:.0f} s" if log else ""
        if report.boots > 1:  # the earlier boots put a module within branch range (arm64)
            boot_time += f" (boot {report.boots}: the module region fell within branch range before)"
        click.echo(f"{report.tree}: build {build.seconds:.0f} s"
                   f"{' (configured)' if build.configured else ''}{boot_time}"
                   f"{', ' + report.failure if report.failure else ''}")
    click.echo(table(reports))
    for report in reports:
        for row in report.rows:
            for failure in row.failures[:5]:
                click.echo(f"{report.tree}: {row.check.value}: {failure}")
    sys.exit(0 if all(r.ok for r in reports) else EXIT_FAILED)


def table(reports) -> str:
    """A markdown table: one row per check, one column per tree."""
    from ..boot.checks import Check

    head = "| check | " + " | ".join(Path(r.tree).name for r in reports) + " |"
    lines = [head, "|---|" + "---|" * len(reports)]
    for check in Check:
        cells = []
        for report in reports:
            row = next((r for r in report.rows if r.check is check), None)
            cells.append(row.cell() if row else "not run")
        lines.append(f"| {check.value} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
