"""migrator scan on the real Linux 6.1.192 tree."""

import json
import subprocess
import sys
from collections import Counter

import pytest

from migrator.match import load_rules
from migrator.match.scan import scan_tree

pytestmark = pytest.mark.realtree

# Field uses of the old layouts in C code, per file, as counted by hand from
# the 6.1.192 sources (issue 2): 59 in arch/, 9 in module.h, 149 in kernel/module.
EXPECTED_SITES = {
    "arch/arc/kernel/unwind.c": 4,
    "arch/arm/kernel/module-plts.c": 2,
    "arch/arm64/kernel/module-plts.c": 2,
    "arch/ia64/kernel/module.c": 10,
    "arch/mips/kernel/vpe.c": 4,
    "arch/parisc/kernel/module.c": 19,
    "arch/powerpc/kernel/module_32.c": 5,
    "arch/s390/kernel/module.c": 13,
    "include/linux/module.h": 9,
    "kernel/module/kallsyms.c": 26,
    "kernel/module/kdb.c": 4,
    "kernel/module/main.c": 85,
    "kernel/module/procfs.c": 4,
    "kernel/module/strict_rwx.c": 19,
    "kernel/module/tree_lookup.c": 11,
}


@pytest.fixture(scope="module")
def scan(linux_tree):
    return scan_tree(str(linux_tree), load_rules())


def test_sites_per_file(scan):
    sites = {fs.path: fs.sites for fs in scan.files if fs.sites}
    assert sites == EXPECTED_SITES
    assert sum(sites.values()) == 217
    by_area = Counter(p.split("/")[0] for p in sites for _ in range(sites[p]))
    assert by_area["arch"] == 59 and by_area["kernel"] == 149


def test_other_kinds_are_listed_apart(scan):
    other = sorted((f.occurrence.path, f.occurrence.kind, f.occurrence.line)
                   for f in scan.findings if not f.occurrence.is_site and f.occurrence.kind != "api")
    assert other == [
        ("arch/parisc/kernel/module.c", "comment", 30),
        ("arch/parisc/kernel/module.c", "comment", 32),
        ("include/linux/module.h", "declaration", 424),
        ("include/linux/module.h", "declaration", 425),
        ("include/linux/module.h", "declaration", 427),
        ("kernel/module/internal.h", "alias", 26),
        ("kernel/module/main.c", "comment", 1516),
        ("kernel/module/main.c", "comment", 1517),
        ("scripts/gdb/linux/modules.py", "python", 76),
        ("scripts/gdb/linux/symbols.py", "python", 112),
    ]


def test_identifiers_that_contain_the_words_are_not_reported(scan, linux_tree):
    # These files do hold the words (a grep finds them) but no use of the layouts.
    lookalikes = ["fs/nfs/pnfs.c", "drivers/block/rbd.c", "include/linux/moduleloader.h",
                  "arch/mips/include/asm/octeon/cvmx-lmcx-defs.h",
                  "drivers/net/ethernet/mellanox/mlx5/core/en_stats.c",
                  "include/linux/mlx5/mlx5_ifc.h"]
    for path in lookalikes:
        text = (linux_tree / path).read_bytes()
        assert b"_layout" in text, path
    reported = {f.occurrence.path for f in scan.findings}
    assert not reported & set(lookalikes)
    assert not scan.skipped


def test_every_finding_points_at_the_name(scan, linux_tree):
    for f in scan.findings:
        o = f.occurrence
        line = (linux_tree / o.path).read_bytes().split(b"\n")[o.line - 1]
        assert line[o.col - 1:].startswith(o.name.encode()), (o.path, o.line)


def test_cli_json_matches_the_library(scan, linux_tree):
    out = subprocess.run([sys.executable, "-m", "migrator", "scan", "--json", str(linux_tree)],
                         capture_output=True, text=True, check=True)
    doc = json.loads(out.stdout)
    assert doc["totals"]["kinds"]["use"] == 217
    assert len(doc["findings"]) == len(scan.findings)
    assert {f["path"] for f in doc["findings"] if f["kind"] == "use"} == set(EXPECTED_SITES)


def test_old_loader_api_names_are_listed(scan):
    api = {(f.occurrence.path, f.occurrence.name) for f in scan.findings if f.occurrence.kind == "api"}
    assert ("kernel/module/kallsyms.c", "INIT_OFFSET_MASK") in api
    assert ("kernel/module/main.c", "strict_align") in api
    assert ("kernel/module/strict_rwx.c", "module_layout") in api
    # The octeon bitfield and rbd_init_layout() are no part of it.
    assert not {p for p, _ in api} - {"include/linux/module.h", "kernel/module/kallsyms.c",
                                       "kernel/module/main.c", "kernel/module/strict_rwx.c",
                                       "kernel/module/tree_lookup.c"}
