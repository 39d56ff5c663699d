"""migrator check: a rewrite against its original, and real modules against the model."""

from __future__ import annotations

import os
import re
import shutil
import sys

import click

from ..errors import MigratorError
from . import EXIT_FAILED, cli, count, fail, migration_option, open_migration, progress


def _git_original(path: str, api_header: str | None) -> tuple[str, list[str]]:
    """A temporary directory holding HEAD's version of the files changed in the work tree
    (and of the header that defines the new API)."""
    from ..series.repo import head_versions

    return head_versions(path, also=[api_header] if api_header else [])


def _probe_sets(kind: str, arches: tuple[str, ...]):
    from ..model.probes import real_probe_sets, synthetic_probe_sets

    real = real_probe_sets(arches or None) if kind == "cache" else ()
    return real + synthetic_probe_sets()


def _print_source(result, verbose: bool) -> None:
    for v in result.violations:
        click.echo(str(v))
    if verbose:
        for n in result.notes:
            click.echo(str(n))
    real = [(label, n) for label, n in result.probe_sets if not label.startswith("synthetic")]
    synthetic = sum(n for label, n in result.probe_sets if label.startswith("synthetic"))
    modules = ", ".join(f"{label} {n}" for label, n in real) or "no real modules"
    click.echo(f"{count(len(result.files), 'file')} checked against {result.original}")
    click.echo(f"  plans: {count(result.reservations, 'reservation')}; {result.addresses} "
               f"addresses computed from a base and an arch offset")
    click.echo(f"  meaning: {count(result.pairs, 'rewritten expression')}: {result.judged} judged "
               f"on {result.probes} addresses ({modules}; {synthetic} synthetic modules), "
               f"{result.by_plans} left to the plans, {len(result.notes)} not judged"
               f"{'' if verbose or not result.notes else ' (-v lists them)'}")
    click.echo(f"  {count(len(result.violations), 'violation')}")


def _arch_of(source: str) -> str | None:
    m = re.search(r"_([a-z0-9]+)\.deb$", os.path.basename(source))
    return m.group(1) if m else None


def _check_modules(source: str, arches: tuple[str, ...], verbose: bool) -> int:
    from ..model import check_modules
    from ..model import modules as debian

    if source == "cache":
        jobs = [(None if not _cached(arch) else _cached(arch), arch)
                for arch in (arches or tuple(sorted(debian.FLAVOURS)))]
    else:
        arch = arches[0] if len(arches) == 1 else _arch_of(source)
        if arch is None:
            raise MigratorError(f"{source}: which architecture? pass --arch")
        jobs = [(source, arch)]
    header = (f"{'arch':8} {'modules':>7} {'checked':>7} {'refused':>7} {'unread':>6} "
              f"{'pages before':>12} {'after':>7} {'allocs before':>13} {'after':>7} "
              f"{'violations':>10}")
    reports = []
    for path, arch in jobs:
        reports.append(check_modules(path, arch))
    bad = 0
    for r in reports:
        for v in r.violations[: None if verbose else 20]:
            click.echo(f"{r.arch}: {v}")
        if len(r.violations) > 20 and not verbose:
            click.echo(f"{r.arch}: ... {len(r.violations) - 20} more (-v lists them)")
        bad += len(r.violations)
    click.echo(header)
    for r in reports:
        t = r.totals
        click.echo(f"{r.arch:8} {t.modules:7} {t.checked:7} {t.refused:7} {t.unreadable:6} "
                   f"{t.pages_before:12} {t.pages_after:7} {t.allocations_before:13} "
                   f"{t.allocations_after:7} {t.violations:10}")
    for r in reports:
        click.echo(f"  {r.arch}: {os.path.basename(r.source)}"
                   f"{' (cached images)' if r.from_cache else ''}")
        if verbose:
            for name, why in r.refused:
                click.echo(f"    refused {name}: {why}")
            for name, why in r.unreadable:
                click.echo(f"    unreadable {name}: {why}")
    return bad


def _check_against_loader(count_: int, loader_source: str | None) -> int:
    """Boot both Debian kernels; print and count every section the model places elsewhere."""
    from pathlib import Path

    from ..boot.oracle import KERNELS, compare_with_loader
    from ..model.loader_table import tree_table
    from ..model.modules import cache_root

    source = Path(loader_source) if loader_source else cache_root() / "linux-source-6.12"
    if not (source / "kernel/module/main.c").exists():
        raise MigratorError(f"no loader source at {source} "
                            "(fetch it: python3 corpus/fetch.py linux-source-6_12)")
    table = tree_table(source, source.name)
    click.echo(f"placement table: {table.source}")
    bad = 0
    for key in KERNELS:
        progress(f"booting {key} with {count_} of its modules")
        r = compare_with_loader(key, table, count_)
        click.echo(f"{r.release} ({'mem[] types' if r.new_api else 'module_layout'}): "
                   f"boot {r.ending} in {r.boot_seconds:.0f} s; {r.loaded} of {r.requested} "
                   f"modules loaded, {r.modules_compared} compared, "
                   f"{count(r.sections_compared, 'section')} compared, "
                   f"{count(len(r.disagreements), 'disagreement')}")
        for name, why in r.failed:
            click.echo(f"  not loaded: {name}: {why}")
        for d in r.disagreements:
            click.echo(f"  {d}")
        bad += 0 if r.ok else max(1, len(r.disagreements))
    return bad


def _cached(arch: str):
    from ..model.probes import cached_package

    return cached_package(arch)


@cli.command()
@click.argument("path", required=False, type=click.Path())
@click.option("--original", type=click.Path(file_okay=False),
              help="The tree PATH was rewritten from (default: HEAD of PATH's git repository).")
@click.option("--modules", "modules", is_flag=False, flag_value="cache", default=None,
              metavar="[DEB|DIR]",
              help="Check real modules against the model: the cached (or fetched) Debian "
                   "packages, or one .deb or directory of .ko files.")
@click.option("--arch", "arches", multiple=True,
              help="Debian architecture(s) for --modules and the probes (default: all five).")
@click.option("--probes", type=click.Choice(["cache", "synthetic"]), default="cache",
              show_default=True,
              help="Modules the source check judges expressions on: the cached packages plus "
                   "synthetic ones, or synthetic ones only.")
@click.option("--against-loader", is_flag=True,
              help="Boot Debian's real 6.1 and 6.12 cloud-amd64 kernels in qemu, load their own "
                   "modules and compare every section's address with the model's layout.")
@click.option("--count", type=click.IntRange(1, 2000), default=300, show_default=True,
              help="With --against-loader: modules asked for per kernel (their dependencies "
                   "load too).")
@click.option("--loader-source", type=click.Path(file_okay=False), default=None,
              help="With --against-loader: the v6.x tree whose loader gives the placement table "
                   "(default: Debian's linux-source-6.12 in the cache).")
@click.option("-v", "--verbose", is_flag=True, help="Also list what was not judged.")
@migration_option
def check(path: str | None, original: str | None, modules: str | None, arches: tuple[str, ...],
          probes: str, against_loader: bool, count: int, loader_source: str | None,
          verbose: bool, migration_name: str) -> None:
    """Check a rewritten tree against its original, and real modules against the model.

    With PATH: every file that differs from the original is checked for names
    its module.h lacks, reservations addressed from another memory type or
    lacking the permissions their use needs, and address tests or addresses
    that classify real modules' sections differently from the original.
    Each violation is FILE:LINE:COL: INVARIANT: MESSAGE.

    With --modules: every .ko of Debian's kernel packages is laid out as 6.1
    and v6.4 do and checked against the model's invariants; per-architecture
    pages and allocations before and after are printed.

    With --against-loader: the real loader is the oracle.  Debian's 6.1 and
    6.12 kernels load COUNT of their own modules under qemu; each section's
    address is compared with the model (6.1: the offset in its layout; 6.12:
    offsets within each memory type, by the table read from the real
    loader's source, and one allocation per type).  Every disagreement is
    listed.

    Exit 0 when nothing is violated, 1 when something is, 2 on bad input.
    """
    from ..model.source import check_tree

    migration = open_migration(migration_name)  # the model moves into the pack's plug-in in phase 2

    if path is None and modules is None and not against_loader:
        fail("nothing to check: give a PATH, --modules or --against-loader")
    bad = 0
    temp = None
    try:
        if path is not None:
            if not os.path.exists(path):
                raise MigratorError(f"{path}: no such file or directory")
            paths = None
            if original is None:
                temp, paths = _git_original(path, migration.vocabulary.new.api_header)
                original_dir = temp
            else:
                original_dir = original
            result = check_tree(path, original_dir, lambda: _probe_sets(probes, arches),
                                paths=paths)
            if temp is not None:
                result = _relabel(result, "HEAD")
            _print_source(result, verbose)
            bad += len(result.violations)
        if modules is not None:
            bad += _check_modules(modules, arches, verbose)
        if against_loader:
            bad += _check_against_loader(count, loader_source)
    except MigratorError as e:
        fail(str(e))
    finally:
        if temp is not None:
            shutil.rmtree(temp, ignore_errors=True)
    sys.exit(EXIT_FAILED if bad else 0)


def _relabel(result, original: str):
    from dataclasses import replace

    return replace(result, original=original)
