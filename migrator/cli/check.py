"""migrator check: a rewrite against its original, and real modules against the model."""

from __future__ import annotations

import os
import re
import shutil
import sys

import click

from ..errors import MigratorError
from ..verify.kconfig import KERNEL_ARCH
from . import (EXIT_FAILED, cli, count, fail, migration_option, open_migration, progress, progress_bar,
               quiet_option, read_text_file)


def _git_original(path: str, api_header: str | None) -> tuple[str, list[str]]:
    """A temporary directory holding HEAD's version of the files changed in the work tree
    (and of the header that defines the new API)."""
    from ..series.repo import head_versions

    return head_versions(path, also=[api_header] if api_header else [])


def _probe_sets(model, kind: str, arches: tuple[str, ...], quiet: bool):
    from ..verify import packages as debian

    real_probe_sets, synthetic_probe_sets = model.probes.real_probe_sets, model.probes.synthetic_probe_sets

    real = ()
    if kind == "cache":
        with progress_bar(arches or tuple(sorted(debian.FLAVOURS)), "reading probe modules", quiet) as bar:
            real = tuple(p for arch in bar for p in real_probe_sets((arch,)))
    return real + synthetic_probe_sets()


def _print_source(result, verbose: bool) -> None:
    for v in result.violations:
        click.echo(str(v))
    if verbose:
        for n in result.notes:
            click.echo(str(n))
    click.echo(f"{count(len(result.files), 'file')} checked against {result.original}")
    _print_meaning(result, verbose)
    click.echo(f"  {count(len(result.violations), 'violation')}")


def _print_meaning(result, verbose: bool) -> None:
    real = [(label, n) for label, n in result.probe_sets if not label.startswith("synthetic")]
    synthetic = sum(n for label, n in result.probe_sets if label.startswith("synthetic"))
    modules = ", ".join(f"{label} {n}" for label, n in real) or "no real modules"
    click.echo(f"  plans: {count(result.reservations, 'reservation')}; {result.addresses} "
               f"addresses computed from a base and an arch offset")
    click.echo(f"  meaning: {count(result.pairs, 'rewritten expression')}: {result.judged} judged "
               f"on {result.probes} addresses ({modules}; {synthetic} synthetic modules), "
               f"{result.by_plans} left to the plans, {len(result.notes)} not judged"
               f"{'' if verbose or not result.notes else ' (-v lists them)'}")


def _print_out_of_tree(result, verbose: bool, landed_in: str) -> None:
    click.echo(f"mode: out-of-tree, against {count(len(result.sides), 'kernel')}")
    for v in result.violations:
        click.echo(str(v))
    if verbose:
        for side in result.sides:
            for n in side.notes:
                click.echo(str(n))
        for n in result.meaning.notes if result.meaning else ():
            click.echo(str(n))
    click.echo(f"{count(len(result.files), 'file')} checked against {result.original}")
    for side in result.sides:
        k = side.kernel
        click.echo(f"  kernel {k.label}: struct {k.side_struct}; "
                   f"{count(len(side.violations), 'name')} it lacks on lines it compiles, "
                   f"{len(side.notes)} under conditions it cannot evaluate"
                   f"{'' if verbose or not side.notes else ' (-v lists them)'}")
    if result.meaning is None:
        click.echo(f"  meaning: not judged: it needs a kernel before v{landed_in} and one after it")
    else:
        old, new = result.meaning_kernels
        click.echo(f"  the original as {old.release} compiles it, the code as {new.release} does:")
        _print_meaning(result.meaning, verbose)
    click.echo(f"  {count(len(result.violations), 'violation')}")


def _arch_of(source: str) -> str | None:
    m = re.search(r"_([a-z0-9]+)\.deb$", os.path.basename(source))
    return m.group(1) if m else None


def _check_modules(model, source: str, arches: tuple[str, ...], verbose: bool, config_file: str | None,
                   quiet: bool) -> int:
    from ..verify import packages as debian
    from ..verify.kconfig import parse_config

    if source == "cache":
        if config_file is not None:
            raise MigratorError("--config goes with --modules DEB or DIR, not the cached packages")
        unknown = [a for a in arches if a not in debian.FLAVOURS]
        if unknown:
            raise MigratorError(f"--arch {unknown[0]}: no Debian package is fetched for it; "
                                f"one of {', '.join(sorted(debian.FLAVOURS))}")
        jobs = [(None if not _cached(model, arch) else _cached(model, arch), arch)
                for arch in (arches or tuple(sorted(debian.FLAVOURS)))]
    else:
        if not os.path.exists(source):
            raise MigratorError(f"{source}: no such file or directory")
        arch = arches[0] if len(arches) == 1 else _arch_of(source)
        if arch is None:
            raise MigratorError(f"{source}: which architecture? pass --arch")
        jobs = [(source, arch)]
    config_text = read_text_file(config_file)
    header = (f"{'arch':8} {'modules':>7} {'checked':>7} {'refused':>7} {'unread':>6} "
              f"{'pages before':>12} {'after':>7} {'allocs before':>13} {'after':>7} "
              f"{'violations':>10}")
    reports = []
    with progress_bar(jobs, "checking modules", quiet, length=len(jobs)) as bar:
        for path, arch in bar:
            config = parse_config(config_text, arch) if config_text is not None else None
            reports.append(model.check_modules(path, arch, table=_reference_table(model), config=config))
    bad = 0
    for r in reports:
        # A module that could not be read was not checked: that is no pass.
        bad += len(r.unreadable)
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


def _real_loader():
    """Where corpus/fetch.py unpacks Debian's linux-source-6.12 loader."""
    from ..verify.packages import cache_root

    return cache_root() / "linux-source-6.12"


def _reference_table(model):
    """The placement table of the real v6.x loader when its source is cached, else the model's default."""
    source = _real_loader()
    if (source / "kernel/module/main.c").exists():
        return model.loader_table.tree_table(source, source.name)
    return model.DEFAULT_TABLE


def _check_against_loader(migration, count_: int, loader_source: str | None) -> int:
    """Boot both Debian kernels; print and count every section the model places elsewhere."""
    from pathlib import Path

    model, oracle = migration.model(), migration.model("oracle")
    source = Path(loader_source) if loader_source else _real_loader()
    if not (source / "kernel/module/main.c").exists():
        raise MigratorError(f"no loader source at {source} "
                            "(fetch it: python3 corpus/fetch.py linux-source-6_12)")
    table = model.loader_table.tree_table(source, source.name)
    click.echo(f"placement table: {table.source}")
    bad = 0
    for key in oracle.KERNELS:
        progress(f"booting {key} with {count_} of its modules")
        r = oracle.compare_with_loader(key, table, count_)
        click.echo(f"{r.release} ({r.api_label}): "
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


def _cached(model, arch: str):
    return model.probes.cached_package(arch)


@cli.command()
@click.argument("path", required=False, type=click.Path())
@click.option("--original", type=click.Path(file_okay=False),
              help="The tree PATH was rewritten from (default: HEAD of PATH's git repository).")
@click.option("--modules", "modules", is_flag=False, flag_value="cache", default=None,
              metavar="[DEB|DIR]",
              help="Check real modules against the model: the cached (or fetched) Debian "
                   "packages, or one .deb or directory of .ko files.")
@click.option("--arch", "arches", multiple=True, type=click.Choice(sorted(KERNEL_ARCH)),
              help="Debian architecture(s) for --modules and the probes (default: all five; with "
                   "--kernel, the kernels' own).")
@click.option("--config", "config_file", type=click.Path(dir_okay=False), metavar="FILE",
              help="The kernel config the modules of --modules DEB|DIR were built with "
                   "(default: the config-* or boot/config-* found in it).")
@click.option("--probes", type=click.Choice(["cache", "synthetic"]), default="cache",
              show_default=True,
              help="Modules the source check judges expressions on: the cached packages plus "
                   "synthetic ones, or synthetic ones only.")
@click.option("--kernel", "kernels", multiple=True, type=click.Path(),
              help="Out-of-tree code: a kernel's headers or build directory (KDIR of make -C "
                   "KDIR M=...) to check it against; give one before the migration's change and "
                   "one after.")
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
@quiet_option
def check(path: str | None, original: str | None, modules: str | None, arches: tuple[str, ...],
          config_file: str | None, probes: str, kernels: tuple[str, ...],
          against_loader: bool, count: int,
          loader_source: str | None, verbose: bool, migration_name: str, quiet: bool) -> None:
    """Check a rewritten tree against its original, and real modules against the model.

    With PATH: every file that differs from the original is checked for names
    its module.h lacks, reservations addressed from another memory type or
    lacking the permissions their use needs, and address tests or addresses
    that classify real modules' sections differently from the original.
    Each violation is FILE:LINE:COL: INVARIANT: MESSAGE.

    With --kernel (out-of-tree code): on the lines each kernel compiles
    (its #if branches evaluated for its version, config and module.h), the
    names of the module API that kernel lacks; then the original as the old
    kernel compiles it and the code as the new one does, judged by meaning
    as above with each kernel's module.h.

    With --modules: every .ko of Debian's kernel packages is laid out as the
    loaders before and after the change do and checked against the model's
    invariants; per-architecture
    pages and allocations before and after are printed.

    With --against-loader: the real loader is the oracle.  Debian's 6.1 and
    6.12 kernels load COUNT of their own modules under qemu; each section's
    address is compared with the model (6.1: the offset in its layout; 6.12:
    offsets within each memory type, by the table read from the real
    loader's source, and one allocation per type).  Every disagreement is
    listed.

    Exit 0 when nothing is violated, 1 when something is, 2 on bad input.
    """
    migration = open_migration(migration_name)

    if path is None and modules is None and not against_loader:
        fail("nothing to check: give a PATH, --modules or --against-loader")
    if kernels and path is None:
        fail("--kernel checks out-of-tree code: give its PATH")
    bad = 0
    temp = None
    try:
        model = migration.model()  # a pack without a model plug-in is refused here
        if path is not None:
            if not os.path.exists(path):
                raise MigratorError(f"{path}: no such file or directory")
            paths = None
            if original is None:
                temp, paths = _git_original(path, migration.vocabulary.new.api_header)
                original_dir = temp
            else:
                original_dir = original
            if kernels:
                from ..verify.kernel import read_kernel

                found = tuple(read_kernel(k, migration.vocabulary) for k in kernels)
                own = arches or _debian_arches(found)
                result = model.out_of_tree.check_out_of_tree(path, original_dir, found,
                                                             lambda: _probe_sets(model, probes, own, quiet),
                                                             table=_reference_table(model))
            else:
                result = model.source.check_tree(path, original_dir,
                                                 lambda: _probe_sets(model, probes, arches, quiet),
                                                 table=_reference_table(model), paths=paths)
            if temp is not None:
                result = _relabel(result, "HEAD")
            if kernels:
                _print_out_of_tree(result, verbose, migration.landed_in)
            else:
                _print_source(result, verbose)
            bad += len(result.violations)
        if modules is not None:
            bad += _check_modules(model, modules, arches, verbose, config_file, quiet)
        if against_loader:
            bad += _check_against_loader(migration, count, loader_source)
    except MigratorError as e:
        fail(str(e))
    finally:
        if temp is not None:
            shutil.rmtree(temp, ignore_errors=True)
    sys.exit(EXIT_FAILED if bad else 0)


def _debian_arches(kernels) -> tuple[str, ...]:
    """The Debian architectures of the kernels' own (their modules judge the code)."""
    from ..verify import packages as debian
    from ..verify.kconfig import KERNEL_ARCH

    wanted = {k.arch for k in kernels}
    return tuple(a for a in sorted(debian.FLAVOURS) if KERNEL_ARCH.get(a) in wanted)


def _relabel(result, original: str):
    from dataclasses import replace

    return replace(result, original=original)
