#!/usr/bin/env python3
"""Wall time of `migrator scan` over the real tree, next to grep over the same tree.

    python3 bench/scan.py [TREE] [--runs N]

Both read the same 1.5 GB from the page cache (a first untimed run warms it);
the median of N runs is printed.  grep only lists files; migrator also parses
them and decides every use, so grep is the floor to compare against.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

DEFAULT_TREE = Path(os.environ.get("MIGRATOR_CACHE", Path.home() / ".cache" / "migrator")) / "linux-source-6.1"


def timed(cmd: list[str]) -> tuple[float, str]:
    start = time.perf_counter()
    run = subprocess.run(cmd, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if run.returncode not in (0, 1):  # grep says 1 for "nothing found"
        sys.exit(f"bench: {' '.join(cmd)} failed: {run.stderr.strip()}")
    return elapsed, run.stdout


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("tree", nargs="?", default=str(DEFAULT_TREE))
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    if not os.path.isdir(args.tree):
        sys.exit(f"bench: {args.tree}: not a directory (run python3 corpus/fetch.py)")

    commands = {
        "grep -rlE '(core|init|data)_layout'": ["grep", "-rlE", "(core|init|data)_layout", args.tree],
        "migrator scan": [sys.executable, "-m", "migrator", "scan", args.tree],
        "migrator scan --json": [sys.executable, "-m", "migrator", "scan", "--json", args.tree],
    }
    print(f"tree: {args.tree}   cores: {os.cpu_count()}   runs: {args.runs} (median)")
    for name, cmd in commands.items():
        timed(cmd)  # warm the page cache and Python's bytecode
        times = [timed(cmd)[0] for _ in range(args.runs)]
        print(f"{name:40} {statistics.median(times):6.2f} s   (min {min(times):.2f}, max {max(times):.2f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
