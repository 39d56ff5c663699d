"""migrator check on the real 6.1.192 tree rewritten by migrator, and on real modules."""

import subprocess
import sys

import pytest

from migrator.match import load_rules
from migrator.verify import packages as debian
from migrator.rewrite.plan import plan_rewrite
from migrator.match.regions import load_region_rules
from migrator.migration import load_migration
from migrator.rewrite.write import write_changes

# The module-memory pack's model plug-in, reached through the migration.
_probes = load_migration().model("probes")
cached_package, real_probe_sets, synthetic_probe_sets = _probes.cached_package, _probes.real_probe_sets, _probes.synthetic_probe_sets
check_tree = load_migration().model("source").check_tree

# The loader (kernel/module/) is migrated in a later step; gdb scripts are not C.
LATER = ("kernel/module/", "scripts/")


@pytest.fixture(scope="module")
def rewritten(linux_tree, tmp_path_factory):
    """A hard-linked copy of the tree with migrator's rewrite of arch/ and module.h written in."""
    copy = tmp_path_factory.mktemp("check") / "linux"
    subprocess.run(["cp", "-al", str(linux_tree), str(copy)], check=True)
    plan = plan_rewrite(str(copy), load_rules(), load_region_rules(load_migration().regions_dir))
    write_changes(str(copy), [c for c in plan.changes if not c.path.startswith(LATER)])
    return copy


def _mutate(tree, path, old, new):
    """Replace one file of the hard-linked copy (never write through the link)."""
    target = tree / path
    data = target.read_bytes()
    assert old in data, (path, old)
    target.unlink()
    target.write_bytes(data.replace(old, new, 1))


@pytest.mark.realtree
def test_the_real_rewrite_passes(rewritten, linux_tree):
    result = check_tree(str(rewritten), str(linux_tree), synthetic_probe_sets())
    assert "include/linux/module.h" in result.files and len(result.files) >= 9
    assert result.violations == (), [str(v) for v in result.violations]
    assert result.reservations == 4 and result.addresses == 12
    assert result.judged >= 13


@pytest.mark.realtree
def test_mutations_of_the_real_rewrite_fail(rewritten, linux_tree, tmp_path):
    copy = tmp_path / "linux"
    subprocess.run(["cp", "-al", str(rewritten), str(copy)], check=True)
    _mutate(copy, "arch/s390/kernel/module.c",
            b"plt_base = me->mem[MOD_TEXT].base + me->arch.plt_offset;",
            b"plt_base = me->mem[MOD_DATA].base + me->arch.plt_offset;")
    _mutate(copy, "arch/arm/kernel/module-plts.c", b"return within_module_init(loc, mod);",
            b"return within_module_mem_type(loc, mod, MOD_INIT_TEXT);")
    _mutate(copy, "arch/arc/kernel/unwind.c", b"module->mem[MOD_TEXT].base",
            b"module->mod_mem[MOD_TEXT].base")
    result = check_tree(str(copy), str(linux_tree), synthetic_probe_sets())
    got = {(v.path, v.invariant) for v in result.violations}
    assert got == {("arch/s390/kernel/module.c", "reservation-type"),
                   ("arch/arm/kernel/module-plts.c", "predicate-agrees"),
                   ("arch/arc/kernel/unwind.c", "api-name")}, [str(v) for v in result.violations]


@pytest.mark.realtree
@pytest.mark.realmodules
def test_the_real_rewrite_passes_on_real_modules(rewritten, linux_tree):
    sets = real_probe_sets()
    if not sets:
        pytest.skip("no module package cached (migrator check --modules fetches them)")
    result = check_tree(str(rewritten), str(linux_tree), sets + synthetic_probe_sets())
    assert result.violations == (), [str(v) for v in result.violations]
    assert result.probes > 1_000_000


@pytest.mark.realtree
def test_cli_on_the_real_rewrite(rewritten, linux_tree):
    run = subprocess.run([sys.executable, "-m", "migrator", "check", str(rewritten),
                          "--original", str(linux_tree), "--probes", "synthetic"],
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "0 violations" in run.stdout


@pytest.mark.realmodules
def test_modules_of_every_architecture():
    arches = sorted(debian.FLAVOURS)
    if any(cached_package(a) is None for a in arches):
        pytest.skip("not every module package is cached")
    run = subprocess.run([sys.executable, "-m", "migrator", "check", "--modules"],
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
    rows = {line.split()[0]: line.split() for line in run.stdout.splitlines()
            if line.split() and line.split()[0] in arches}
    assert sorted(rows) == arches
    for arch, row in rows.items():
        assert int(row[2]) > 1000 and row[-1] == "0", row
        # pages and allocations, before and after
        assert int(row[6]) <= int(row[5]) and int(row[8]) >= int(row[7])


@pytest.fixture(scope="module")
def fully_rewritten(linux_tree, tmp_path_factory):
    """The whole tree rewritten by the CLI, the loader included."""
    copy = tmp_path_factory.mktemp("full") / "linux"
    subprocess.run(["cp", "-al", str(linux_tree), str(copy)], check=True)
    run = subprocess.run([sys.executable, "-m", "migrator", "rewrite", str(copy)],
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    return copy


# One mutation per class the model once missed, each on the real rewrite:
# (file, rewritten text, mutated text, the invariants it must break there).
ARITHMETIC_MUTATIONS = [
    ("arch/s390/kernel/module.c", b"me->arch.plt_offset = me->mem[MOD_TEXT].size;",
     b"me->arch.plt_offset = me->mem[MOD_DATA].size;", {"reservation-offset"}),
    ("kernel/module/kallsyms.c",
     b"mod->mem[MOD_INIT_DATA].size = ALIGN(mod->mem[MOD_INIT_DATA].size,",
     b"mod->mem[MOD_INIT_DATA].size = ALIGN(mod->mem[MOD_DATA].size,", {"size-from-other-type"}),
    ("arch/ia64/kernel/module.c", b"gp = mod->mem[MOD_DATA].size / 2;",
     b"gp = mod->mem[MOD_TEXT].size / 2;", {"gp-small-data"}),
    ("kernel/module/kdb.c", b'kdb_printf("/%8u", mod->mem[MOD_RODATA].size);',
     b'kdb_printf("/%8u", mod->mem[MOD_RODATA].size - mod->mem[MOD_TEXT].size);',
     {"size-difference"}),
    ("kernel/module/kallsyms.c",
     b"nextval = (unsigned long)mod->mem[MOD_TEXT].base + mod->mem[MOD_TEXT].size;",
     b"nextval = (unsigned long)mod->mem[MOD_TEXT].base + mod->mem[MOD_RODATA].size;",
     {"offset-other-type", "address-agrees"}),
]


@pytest.mark.realtree
def test_the_full_rewrite_passes(fully_rewritten, linux_tree):
    result = check_tree(str(fully_rewritten), str(linux_tree), synthetic_probe_sets())
    assert result.violations == (), [str(v) for v in result.violations]


@pytest.mark.realtree
@pytest.mark.parametrize("path,old,new,invariants", ARITHMETIC_MUTATIONS,
                         ids=[sorted(m[3])[0] for m in ARITHMETIC_MUTATIONS])
def test_arithmetic_mutations_of_the_real_rewrite_fail(fully_rewritten, linux_tree, tmp_path,
                                                       path, old, new, invariants):
    copy = tmp_path / "linux"
    subprocess.run(["cp", "-al", str(fully_rewritten), str(copy)], check=True)
    line = fully_rewritten.joinpath(path).read_bytes().split(old)[0].count(b"\n") + 1
    _mutate(copy, path, old, new)
    result = check_tree(str(copy), str(linux_tree), synthetic_probe_sets())
    got = {(v.path, v.line, v.invariant) for v in result.violations}
    assert got == {(path, line, invariant) for invariant in invariants}, \
        [str(v) for v in result.violations]
