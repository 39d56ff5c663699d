"""What the bench scripts share: the default tree and timing a command."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

DEFAULT_TREE = Path(os.environ.get("MIGRATOR_CACHE", Path.home() / ".cache" / "migrator")) / "linux-source-6.1"


def timed(cmd: list[str]) -> float:
    start = time.perf_counter()
    run = subprocess.run(cmd, capture_output=True)
    elapsed = time.perf_counter() - start
    if run.returncode not in (0, 1):  # grep says 1 for "nothing found"
        sys.exit(f"bench: {' '.join(cmd)} failed: {run.stderr.decode(errors='replace').strip()}")
    return elapsed


def compare(tree: str, commands: dict[str, list[str]], runs: int) -> None:
    """Print the median wall time of each command after one untimed warm-up run."""
    if not os.path.isdir(tree):
        sys.exit(f"bench: {tree}: not a directory (run python3 corpus/fetch.py)")
    print(f"tree: {tree}   cores: {os.cpu_count()}   runs: {runs} (median)")
    for name, cmd in commands.items():
        timed(cmd)  # warm the page cache and Python's bytecode
        times = [timed(cmd) for _ in range(runs)]
        print(f"{name:42} {statistics.median(times):6.2f} s   (min {min(times):.2f}, max {max(times):.2f})")
