#!/usr/bin/env python3
"""Modules per second of the real-module check, cold and warm, per architecture.

    python3 bench/modules.py [ARCH ...] [--runs N]

cold: from the .deb with the cache bypassed: dpkg-deb/xz unpacking, ELF
      parsing (section headers, symbols, the arch's relocation counts), then
      both layouts and the invariants.
warm: from the cache file beside the .deb: loading it, then layouts and
      invariants.  No ELF byte is read.
check: layouts and invariants alone, on images already in memory.

Per architecture one process, so one of the two cores.  The last line runs
every architecture at once, cold, spread over --jobs processes (default:
all cores), which is how a machine would check them all.  The package is
fetched first if it is not cached yet; that download is not timed.  Medians
of N runs.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from migrator.migration import load_migration  # noqa: E402
from migrator.errors import MigratorError  # noqa: E402
from migrator.verify import packages as debian  # noqa: E402
from migrator.verify.kconfig import parse_config  # noqa: E402

# The module-memory pack's model plug-in, reached through the migration.
check_images = load_migration().model("check").check_images


def cold_count(arch: str) -> tuple[int, int]:
    """Check one architecture from its .deb without the cache: (modules, violations)."""
    deb = sorted(debian.module_cache(arch).glob("*.deb"))[-1]
    found = debian.read_package(deb, use_cache=False)
    results = check_images(found.images, parse_config(found.config_text, arch))
    return len(found.images), sum(len(r.violations) for r in results)


def bench_all(arches: list[str], jobs: int) -> None:
    from concurrent.futures import ProcessPoolExecutor

    for arch in arches:  # fetched before timing
        if not sorted(debian.module_cache(arch).glob("*.deb")):
            debian.fetch_package(arch)
    start = time.perf_counter()
    with ProcessPoolExecutor(jobs) as pool:
        counts = list(pool.map(cold_count, arches))
    took = time.perf_counter() - start
    n = sum(c for c, _v in counts)
    print(f"{'all':8} {n:5d} modules  cold {n / took:7.0f}/s ({took:5.2f} s) on {jobs} processes  "
          f"violations {sum(v for _c, v in counts)}")


def median_time(fn, runs: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(runs):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def bench(arch: str, runs: int) -> None:
    packages = sorted(debian.module_cache(arch).glob("*.deb"))
    deb = packages[-1] if packages else debian.fetch_package(arch)
    debian.read_package(deb)  # make sure the cache file exists

    def cold():
        found = debian.read_package(deb, use_cache=False)
        return found, check_images(found.images, parse_config(found.config_text, arch))

    def warm():
        found = debian.read_package(deb)
        return found, check_images(found.images, parse_config(found.config_text, arch))

    cold_s, (found, results) = median_time(cold, runs)
    warm_s, _ = median_time(warm, runs)
    config = parse_config(found.config_text, arch)
    check_s, _ = median_time(lambda: check_images(found.images, config), runs)
    n = len(found.images)
    bad = sum(len(r.violations) for r in results)
    print(f"{arch:8} {n:5d} modules  cold {n / cold_s:7.0f}/s ({cold_s:5.2f} s)  "
          f"warm {n / warm_s:7.0f}/s ({warm_s:5.2f} s)  check {n / check_s:7.0f}/s  "
          f"violations {bad}  [{deb.name}]")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("arch", nargs="*", default=sorted(debian.FLAVOURS))
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    try:
        for arch in args.arch:
            bench(arch, args.runs)
        bench_all(args.arch, args.jobs)
    except MigratorError as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
