"""Out-of-tree mode on a real tracer: systemtap-common 4.8's runtime and tapsets.

systemtap 4.8 predates v6.4: its runtime reads core_layout behind its own
probe macro (STAPCONF_MODULE_LAYOUT), inside #define values, in argument
lists split by #ifdef, and in the embedded C of a tapset.
"""

import difflib
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from migrator.match import load_rules
from migrator.profile import OUT_OF_TREE
from migrator.rewrite.plan import plan_rewrite
from migrator.rewrite.write import unified_diff

SNAPSHOT = Path(__file__).parent / "snapshots" / "systemtap-4.8.diff"

# Every use in the package, as `grep -n` finds them: file and line.
USES = {
    ("runtime/linux/alloc.c", 273),
    ("runtime/linux/print.c", 360), ("runtime/linux/print.c", 361), ("runtime/linux/print.c", 362),
    ("runtime/transport/symbols.c", 388),
    ("tapset/linux/context.stp", 407), ("tapset/linux/context.stp", 408),
}


@pytest.fixture(scope="module")
def plan(systemtap_tree):
    return plan_rewrite(str(systemtap_tree), load_rules(), (), profile=OUT_OF_TREE)


@pytest.fixture
def copy(systemtap_tree, tmp_path):
    dest = tmp_path / "systemtap"
    shutil.copytree(systemtap_tree, dest)
    return dest


def grep_uses(root: Path) -> set:
    found = set()
    for path in sorted(root.rglob("*")):
        if path.is_file() and path.suffix in (".c", ".h", ".stp", ".py"):
            for n, line in enumerate(path.read_bytes().split(b"\n"), 1):
                if re.search(rb"\b(core|init|data)_layout\b", line):
                    found.add((str(path.relative_to(root)), n))
    return found


def test_every_use_is_found_and_decided(systemtap_tree, plan):
    assert grep_uses(systemtap_tree) == USES
    sites = [f for f in plan.scan.findings if f.occurrence.is_site]
    assert {(f.occurrence.path, f.occurrence.line) for f in sites} == USES
    assert all(f.severity in ("rewrite", "report") for f in sites)
    assert plan.left() == [] and plan.skipped == ()
    assert plan.sites_rewritten == len(sites) == 9


def test_the_old_branches_keep_every_line(plan):
    for change in plan.changes:
        old, new = change.old.decode().splitlines(), change.new.decode().splitlines()
        for tag, i1, i2, _, _ in difflib.SequenceMatcher(None, old, new, autojunk=False).get_opcodes():
            if tag in ("delete", "replace"):
                # Only preprocessor conditionals change: `#ifdef X` became `#elif defined(X)`.
                assert all(line.startswith("#if") for line in old[i1:i2]), (change.path, old[i1:i2])


def test_text_comes_from_mod_text_and_the_core_is_not_narrowed(plan):
    new = {c.path: c.new.decode() for c in plan.changes}
    alloc = new["runtime/linux/alloc.c"]
    define = re.search(r"#if LINUX_VERSION_CODE[^\n]*\n(#define _STP_MODULE_CORE_SIZE.*?)\n#elif", alloc, re.S)
    for t in ("MOD_TEXT", "MOD_DATA", "MOD_RODATA", "MOD_RO_AFTER_INIT"):
        assert f"THIS_MODULE->mem[{t}].size" in define.group(1)
    assert "#elif defined(STAPCONF_MODULE_LAYOUT)\n#define _STP_MODULE_CORE_SIZE (THIS_MODULE->core_layout.size)" in alloc
    print_c = new["runtime/linux/print.c"]
    assert "(unsigned long) THIS_MODULE->mem[MOD_TEXT].base," in print_c
    assert "(unsigned long) (THIS_MODULE->mem[MOD_TEXT].size)/1024," in print_c
    symbols = new["runtime/transport/symbols.c"]
    assert "_stp_module_self.sections[1].size = mod->mem[MOD_TEXT].size;" in symbols
    stp = new["tapset/linux/context.stp"]
    assert "(unsigned long) (THIS_MODULE->mem[MOD_TEXT].size)/1024," in stp
    assert "#include <linux/version.h>" not in stp  # tapset C is compiled inside the runtime


def test_exact_output_is_pinned(plan):
    # Regenerate with: python3 -c 'from tests.test_systemtap_real import write_snapshot; write_snapshot()'
    assert unified_diff(plan.changes).decode() == SNAPSHOT.read_text()


def test_cli_rewrites_then_a_second_run_changes_nothing(copy):
    def run(*args):
        return subprocess.run([sys.executable, "-m", "migrator", *map(str, args)], capture_output=True, text=True)

    first = run("rewrite", "--force", copy)
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith("mode: out-of-tree (not a kernel source tree: no top Makefile)")
    assert "9 sites rewritten in 4 files, 4 units behind the guard" in first.stdout
    second = run("rewrite", "--force", copy)
    assert second.returncode == 0 and "0 sites rewritten in 0 files" in second.stdout
    scan = run("scan", copy)
    assert scan.returncode == 0 and "by kind: 9 supports-both" in scan.stdout


def write_snapshot():
    from migrator.profile import OUT_OF_TREE as profile
    from tests.conftest import _manifest_path

    root = _manifest_path("systemtap-common") / "usr" / "share" / "systemtap"
    SNAPSHOT.write_bytes(unified_diff(plan_rewrite(str(root), load_rules(), (), profile=profile).changes))
