#!/usr/bin/env python3
"""Wall time of a whole-tree `migrator rewrite --dry-run`, next to grep -rl.

    python3 bench/rewrite.py [TREE] [--runs N]

The dry run does everything a rewrite does (scan, match, regions, re-parse
of every rewritten file, the diff) except writing.
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
    "migrator rewrite --dry-run": [sys.executable, "-m", "migrator", "rewrite", "--dry-run", args.tree],
}, args.runs)
