"""migrator rewrite on the real Linux 6.1.192 tree."""

import difflib
import os
import re
import subprocess
import sys

import pytest

from migrator.match import find_occurrences, load_rules
from migrator.parse import SourceFile, parse_c
from migrator.rewrite.plan import plan_rewrite
from migrator.match.regions import load_region_rules
from migrator.migration import load_migration

pytestmark = pytest.mark.realtree

LOADER_FILES = [
    "kernel/module/internal.h", "kernel/module/kallsyms.c", "kernel/module/kdb.c",
    "kernel/module/main.c", "kernel/module/procfs.c", "kernel/module/strict_rwx.c",
    "kernel/module/tree_lookup.c",
]
GDB_FILES = [
    "scripts/gdb/linux/constants.py.in", "scripts/gdb/linux/modules.py", "scripts/gdb/linux/symbols.py",
]
ARCH_FILES = [
    "arch/arc/kernel/unwind.c", "arch/arm/kernel/module-plts.c",
    "arch/arm64/kernel/module-plts.c", "arch/ia64/kernel/module.c",
    "arch/mips/kernel/vpe.c", "arch/parisc/kernel/module.c",
    "arch/powerpc/kernel/module_32.c", "arch/s390/kernel/module.c",
]


@pytest.fixture(scope="module")
def plan(linux_tree):
    return plan_rewrite(str(linux_tree), load_rules(), load_region_rules(load_migration().regions_dir))


@pytest.fixture
def tree_copy(linux_tree, tmp_path):
    """A hard-linked copy: cheap, and safe because rewrites replace files, never write into them."""
    copy = tmp_path / "linux"
    subprocess.run(["cp", "-al", str(linux_tree), str(copy)], check=True)
    return copy


def test_every_site_is_rewritten(plan):
    assert sorted(c.path for c in plan.changes) == sorted(
        ARCH_FILES + LOADER_FILES + GDB_FILES + ["include/linux/module.h"])
    assert plan.sites_rewritten == 217
    assert plan.left() == []
    assert sorted((r.rule.id, r.status) for r in plan.regions) == [
        ("gdb-constants", "applied"), ("gdb-scripts", "applied"), ("gdb-symbols", "applied"),
        ("module-h-api", "applied"), ("module-internal-h", "applied"),
        ("module-main-c", "applied"), ("module-procfs-c", "applied"),
        ("module-strict-rwx-c", "applied"), ("module-tree-lookup-c", "applied")]
    assert plan.skipped == ()


def test_no_old_use_remains(plan):
    for c in plan.changes:
        occ = find_occurrences(SourceFile(c.path, c.new))
        assert [o for o in occ if o.kind in ("use", "declaration", "comment", "alias", "api", "python")] == [], c.path


def test_no_new_parse_errors_outside_the_recipes(plan):
    def errors(data):
        return sum(1 for _ in _error_nodes(parse_c(data).root_node))
    for c in plan.changes:
        if not c.regions and b"for_class_mod_mem_type(" not in c.new:
            assert errors(c.new) <= errors(c.old), c.path


def _error_nodes(node):
    if node.type == "ERROR" or node.is_missing:
        yield node
    if node.has_error:
        for child in node.children:
            yield from _error_nodes(child)


def test_only_lines_with_old_uses_change(plan):
    for c in plan.changes:
        if c.regions:
            continue
        old, new = c.old.split(b"\n"), c.new.split(b"\n")
        for tag, i1, i2, _, _ in difflib.SequenceMatcher(None, old, new, autojunk=False).get_opcodes():
            if tag == "equal":
                continue
            changed = b"\n".join(old[i1:i2])
            # Every changed run held a use, or is blank lines and comments a deletion took along.
            assert re.search(rb"(core|init|data)_layout|INIT_OFFSET_MASK|strict_align", changed) \
                or not re.sub(rb"/\*.*?\*/", b"", changed).strip(), (c.path, i1)


def test_generated_api(plan):
    header = next(c for c in plan.changes if c.path == "include/linux/module.h").new
    for name in ("MOD_TEXT = 0", "MOD_DATA", "MOD_RODATA", "MOD_RO_AFTER_INIT", "MOD_INIT_TEXT",
                 "MOD_INIT_DATA", "MOD_INIT_RODATA", "MOD_MEM_NUM_TYPES", "MOD_INVALID = -1",
                 "struct module_memory {", "struct module_memory mem[MOD_MEM_NUM_TYPES] __module_memory_align;",
                 "#define mod_mem_type_is_init(type)", "#define mod_mem_type_is_core(type)",
                 "#define mod_mem_type_is_text(type)", "#define mod_mem_type_is_data(type)",
                 "#define mod_mem_type_is_core_data(type)", "#define for_each_mod_mem_type(type)",
                 "#define for_class_mod_mem_type(type, class)", "within_module_mem_type(unsigned long addr",
                 "for_class_mod_mem_type(type, core)", "for_class_mod_mem_type(type, init)"):
        assert name.encode() in header, name
    assert b"module_layout" not in header
    # The !CONFIG_MODULES stubs of within_module_core/init are kept.
    assert header.count(b"static inline bool within_module_core(") == 2


def migrator(*args):
    return subprocess.run([sys.executable, "-m", "migrator", *map(str, args)], capture_output=True, text=True)


def test_cli_rewrites_in_place_and_a_second_run_changes_nothing(tree_copy, linux_tree):
    first = migrator("rewrite", tree_copy)
    assert first.returncode == 0, first.stderr
    mode, summary = first.stdout.split("\n", 1)
    assert mode == "mode: kernel (a kernel source tree)"
    assert summary.startswith("217 sites rewritten in 19 files")
    second = migrator("rewrite", tree_copy)
    assert second.stdout.split("\n", 1)[1].startswith("0 sites rewritten in 0 files")
    for path in ARCH_FILES + LOADER_FILES + GDB_FILES:
        assert not re.search(rb"(core|init|data)_layout\b", (tree_copy / path).read_bytes()), path
    for path in ARCH_FILES:
        # The pristine tree shares no inode with what was rewritten.
        assert b"core_layout" in (linux_tree / path).read_bytes() or b"init_layout" in (linux_tree / path).read_bytes()


def test_dry_run_is_a_diff_and_writes_nothing(tree_copy):
    before = (tree_copy / "arch/s390/kernel/module.c").stat().st_ino
    run = migrator("rewrite", "--dry-run", tree_copy)
    assert run.returncode == 0
    assert run.stdout.count("diff --git a/") == 19
    assert "+	me->mem[MOD_TEXT].size += me->arch.got_size;" in run.stdout
    assert "217 sites to rewrite in 19 files" in run.stderr
    assert (tree_copy / "arch/s390/kernel/module.c").stat().st_ino == before


@pytest.mark.cross
def test_rewritten_arch_objects_compile(tree_copy):
    from migrator.build import compile_targets, default_build_root, profile_targets, select_targets

    assert migrator("rewrite", tree_copy).returncode == 0
    # Two architectures' arch objects, and the loader itself (kernel/module/*.o).
    targets = select_targets(profile_targets(load_migration()), ["arm64", "s390", "x86_64"])
    results = compile_targets(tree_copy, targets, default_build_root() / "patched")
    for r in results:
        if r.outcome.name == "UNAVAILABLE" and not os.environ.get("MIGRATOR_REQUIRE_REAL_INPUTS"):
            pytest.skip(r.reason)
        assert r.ok, f"{r.target}: {r.reason}"


def test_no_use_is_left_anywhere_in_the_tree(tree_copy):
    """After the rewrite a scan finds no old field use, C or Python, in the whole tree."""
    from migrator.match.scan import scan_tree

    assert migrator("rewrite", tree_copy).returncode == 0
    kinds = scan_tree(str(tree_copy), load_rules()).kind_counts()
    assert {k: n for k, n in kinds.items() if k in ("use", "declaration", "alias", "python", "api")} == {}


def _difflib_diff(changes) -> bytes:
    """The whole-file difflib diff --dry-run printed before it was built from the edits."""
    out = []
    for c in changes:
        name = c.path.encode()
        out.append(b"diff --git a/" + name + b" b/" + name + b"\n")
        out += difflib.diff_bytes(difflib.unified_diff, c.old.splitlines(keepends=True),
                                  c.new.splitlines(keepends=True), b"a/" + name, b"b/" + name, n=3)
    return b"".join(line if line.endswith(b"\n") else line + b"\n\\ No newline at end of file\n"
                    for line in out)


def test_dry_run_diff_from_the_edits_is_difflibs_diff(plan):
    from migrator.rewrite.diff import unified_diff

    assert all(c.changed for c in plan.changes)  # built from the edits, not by searching
    assert unified_diff(plan.changes) == _difflib_diff(plan.changes)
