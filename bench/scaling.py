#!/usr/bin/env python3
"""How the time of scan and rewrite grows with a file's size and its number of uses.

    python3 bench/scaling.py [TREE] [--sizes 1,5,10,25,50] [--uses 100,1000,5000] [--big 50:5000]

Each input is one C file in a scratch tree (drivers/big/big.c): real kernel
code from TREE (kernel/sched/core.c, which names no old layout) repeated to
the size, with the uses spread through it.  The uses are the statements of
TREE that hold one (arch/*/kernel/module*.c and the like), each in a function
of its own.  For each input it prints the time of `migrator scan`,
`migrator rewrite --dry-run` and an in-place `migrator rewrite` (CPU seconds
of each process, start-up included, so a busy machine does not blur it),
each per MB, the rewrite's time per use, and the peak memory; linear growth
shows as flat s/MB columns in the size sweep (100 uses, 1 to 50 MB) and as
time growing in step with the uses in the use sweep (10 MB, 100 to 5,000
uses); the last row is a 50 MB file with 5,000 uses.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from timing import DEFAULT_TREE

FILLER = "kernel/sched/core.c"
USE_RE = re.compile(rb"^\s+[^\n]*\b(?:core|init)_layout\.(?:base|size|text_size)\b[^\n]*;\s*$", re.M)
USE_SOURCES = ("arch/arm/kernel/module-plts.c", "arch/arm64/kernel/module-plts.c", "arch/arc/kernel/unwind.c",
               "arch/ia64/kernel/module.c", "arch/powerpc/kernel/module_32.c", "arch/s390/kernel/module.c",
               "arch/parisc/kernel/module.c")


def _uses(tree: Path) -> list[bytes]:
    """Real statements holding a use, as `void f(struct module *mod) { ... }` bodies."""
    found = []
    for rel in USE_SOURCES:
        path = tree / rel
        if path.is_file():
            found += [m.group(0).strip() for m in USE_RE.finditer(path.read_bytes())]
    if not found:
        sys.exit(f"bench: no use found in {tree} (is it linux-source-6.1?)")
    return found


def _units(filler: bytes) -> list[bytes]:
    """The filler cut after each top-level closing brace: whole definitions, so it stays C."""
    pieces, start = [], 0
    for m in re.finditer(rb"\n[}][^\n]*\n", filler):
        pieces.append(filler[start:m.end()])
        start = m.end()
    return pieces


def make_file(tree: Path, megabytes: float, uses: int) -> bytes:
    units = _units((tree / FILLER).read_bytes())
    statements = _uses(tree)
    size = int(megabytes * 1_000_000)
    step = size / (uses + 1)
    out, written, k = [], 0, 0
    for i in range(uses + 1):
        while written < step * (i + 1):
            out.append(units[k % len(units)])
            written += len(out[-1])
            k += 1
        if i < uses:
            stmt = statements[i % len(statements)]
            fn = (b"\nstatic void __maybe_unused bench_use_%d(struct module *mod, struct module *me)\n{\n\t"
                  % i + stmt + b"\n}\n")
            out.append(fn)
            written += len(fn)
    return b"".join(out)


def timed(cmd: list[str]) -> tuple[float, float]:
    """CPU seconds (user + system) of the command, and its peak memory in MB: on a shared
    machine wall time says little."""
    with tempfile.TemporaryFile() as err:
        child = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err)
        _, status, usage = os.wait4(child.pid, 0)
        child.returncode = os.waitstatus_to_exitcode(status)
        if child.returncode not in (0, 1):
            err.seek(0)
            sys.exit(f"bench: {' '.join(map(str, cmd))} failed: {err.read().decode(errors='replace').strip()}")
    return usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def measure(tree: Path, megabytes: float, uses: int) -> tuple[float, list[tuple[float, float]]]:
    """The file's size in MB, and (CPU seconds, peak MB) of scan, dry run and rewrite."""
    data = make_file(tree, megabytes, uses)
    with tempfile.TemporaryDirectory(prefix="migrator-scaling-") as tmp:
        root = Path(tmp) / "t"
        (root / "drivers" / "big").mkdir(parents=True)
        (root / "drivers" / "big" / "big.c").write_bytes(data)
        me = [sys.executable, "-m", "migrator"]
        # A scratch tree is no kernel tree: the kernel mode is asked for by name.
        runs = [timed(me + ["scan", "--mode", "kernel", str(root)]),
                timed(me + ["rewrite", "--mode", "kernel", "--dry-run", str(root)]),
                timed(me + ["rewrite", "--mode", "kernel", str(root)])]
        shutil.rmtree(root)
    return len(data) / 1e6, runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("tree", nargs="?", default=str(DEFAULT_TREE))
    parser.add_argument("--sizes", default="1,5,10,25,50", help="MB, at 100 uses")
    parser.add_argument("--uses", default="100,1000,5000", help="uses, in 10 MB")
    parser.add_argument("--big", default="50:5000", help="MB:uses of the largest case")
    args = parser.parse_args()
    tree = Path(args.tree)
    if not (tree / FILLER).is_file():
        sys.exit(f"bench: {tree}: no {FILLER} (run python3 corpus/fetch.py)")
    os.chdir(Path(__file__).resolve().parent.parent)  # run this checkout's migrator
    print(f"tree: {tree}   cores: {os.cpu_count()}   CPU seconds of one run each, start-up (~1 s) "
          "included; peak memory of the largest of the three")
    print(f"{'MB':>6} {'uses':>6} {'scan s':>8} {'dry-run s':>10} {'rewrite s':>10} "
          f"{'scan s/MB':>10} {'dry s/MB':>9} {'rewr s/MB':>10} {'ms/use':>7} {'peak MB':>8}")
    cases = [(float(mb), 100) for mb in args.sizes.split(",")]
    cases += [(10.0, int(n)) for n in args.uses.split(",")]
    mb, n = args.big.split(":")
    cases.append((float(mb), int(n)))
    for megabytes, uses in cases:
        size, runs = measure(tree, megabytes, uses)
        (scan, _), (dry, _), (real, _) = runs
        peak = max(mem for _, mem in runs)
        print(f"{size:6.1f} {uses:6} {scan:8.2f} {dry:10.2f} {real:10.2f} {scan / size:10.3f} "
              f"{dry / size:9.3f} {real / size:10.3f} {1000 * real / uses:7.2f} {peak:8.0f}", flush=True)

if __name__ == "__main__":
    main()
