#!/usr/bin/env python3
"""Wall time of `migrator scan` over the real tree, next to grep over the same tree.

    python3 bench/scan.py [TREE] [--runs N]

Both read the same 1.5 GB from the page cache; grep only lists files, while
migrator also parses them and decides every use, so grep is the floor.
"""

import argparse
import sys

from timing import DEFAULT_TREE, compare

parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
parser.add_argument("tree", nargs="?", default=str(DEFAULT_TREE))
parser.add_argument("--runs", type=int, default=5)
args = parser.parse_args()
compare(args.tree, {
    "grep -rlE '(core|init|data)_layout'": ["grep", "-rlE", "(core|init|data)_layout", args.tree],
    "migrator scan": [sys.executable, "-m", "migrator", "scan", args.tree],
    "migrator scan --json": [sys.executable, "-m", "migrator", "scan", "--json", args.tree],
}, args.runs)
