"""The placement table read back from a rewritten loader, checked on real modules."""

import subprocess
import sys

import pytest

from migrator.errors import MigratorError
from migrator.migration import load_migration

# The module-memory pack's model plug-in, reached through the migration.
_loader_table = load_migration().model("loader_table")
placement_table, tree_table = _loader_table.placement_table, _loader_table.tree_table
MAINLINE_V6_4 = load_migration().model("table").MAINLINE_V6_4

EARLY_NAMES = b"""
static void __layout_sections(struct module *mod, struct load_info *info, bool is_init)
{
	static const unsigned long masks[][2] = {
		{ SHF_EXECINSTR | SHF_ALLOC, ARCH_SHF_SMALL },
		{ SHF_ALLOC, SHF_WRITE | ARCH_SHF_SMALL },
		{ SHF_RO_AFTER_INIT | SHF_ALLOC, ARCH_SHF_SMALL },
		{ SHF_WRITE | SHF_ALLOC, ARCH_SHF_SMALL },
		{ ARCH_SHF_SMALL | SHF_ALLOC, 0 }
	};
	static const int core_m_to_mem_type[] = {
		MOD_MEM_TYPE_TEXT, MOD_MEM_TYPE_RODATA, MOD_MEM_TYPE_RO_AFTER_INIT,
		MOD_MEM_TYPE_DATA, MOD_MEM_TYPE_DATA,
	};
	static const int init_m_to_mem_type[] = {
		MOD_MEM_TYPE_INIT_TEXT, MOD_MEM_TYPE_INIT_RODATA, MOD_MEM_TYPE_INVALID,
		MOD_MEM_TYPE_INIT_DATA, MOD_MEM_TYPE_INIT_DATA,
	};
}
"""
EARLY_HEADER = b"""enum mod_mem_type { MOD_MEM_TYPE_TEXT = 0, MOD_MEM_TYPE_DATA, MOD_MEM_TYPE_RODATA,
	MOD_MEM_TYPE_RO_AFTER_INIT, MOD_MEM_TYPE_INIT_TEXT, MOD_MEM_TYPE_INIT_DATA,
	MOD_MEM_TYPE_INIT_RODATA, MOD_MEM_NUM_TYPES, MOD_MEM_TYPE_INVALID = -1, };"""


def test_reads_the_tables_in_any_spelling():
    table = placement_table(EARLY_NAMES, module_h=EARLY_HEADER)
    assert table.masks == MAINLINE_V6_4.masks
    assert table.core_types == MAINLINE_V6_4.core_types
    assert table.init_types == MAINLINE_V6_4.init_types


def test_a_name_outside_the_enum_is_an_error():
    with pytest.raises(MigratorError, match="'MOD_MEM_TYPE_SMALL', which is no enum mod_mem_type"):
        placement_table(EARLY_NAMES.replace(b"MOD_MEM_TYPE_DATA, MOD_MEM_TYPE_DATA,",
                                            b"MOD_MEM_TYPE_DATA, MOD_MEM_TYPE_SMALL,"), module_h=EARLY_HEADER)


def test_a_loader_without_the_tables_is_an_error():
    with pytest.raises(MigratorError, match="no function lays out sections"):
        placement_table(b"static void layout_sections(void) { }")


@pytest.fixture(scope="module")
def rewritten(linux_tree, tmp_path_factory):
    copy = tmp_path_factory.mktemp("t") / "linux"
    subprocess.run(["cp", "-al", str(linux_tree), str(copy)], check=True)
    run = subprocess.run([sys.executable, "-m", "migrator", "rewrite", str(copy)], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    return copy


def loader_table(tree, main_c=None):
    read = lambda p: (tree / p).read_bytes()  # noqa: E731
    return placement_table(main_c or read("kernel/module/main.c"), read("kernel/module/kallsyms.c"),
                           read("include/linux/module.h"))


@pytest.fixture(scope="module")
def real_v6_loader():
    """The placement table of Debian's linux-source-6.12: the real loader, not our templates."""
    from tests.conftest import _cache, real_input

    root = real_input(_cache() / "linux-source-6.12" / "kernel/module/main.c",
                      "the linux-source-6.12 loader (python3 corpus/fetch.py linux-source-6_12)")
    return tree_table(root.parents[2], "linux-source-6.12")


def test_the_real_loader_is_read(real_v6_loader):
    assert real_v6_loader.source == "linux-source-6.12: __layout_sections()"
    assert len(real_v6_loader.masks) == 5
    assert real_v6_loader.core_types[0] == "MOD_TEXT"


def test_the_default_table_is_the_real_loaders(real_v6_loader):
    # The table the model falls back on when no loader source is cached is
    # written out in table.py; the real loader is its reference, field by field.
    fields = ("masks", "core_types", "init_types", "kallsyms_core", "kallsyms_init", "arch_reserved")
    default = load_migration().model().DEFAULT_TABLE
    assert [getattr(default, f) for f in fields] == [getattr(real_v6_loader, f) for f in fields]


@pytest.mark.realtree
def test_rewritten_loader_places_like_the_real_one(rewritten, real_v6_loader):
    table = loader_table(rewritten)
    fields = ("masks", "core_types", "init_types", "kallsyms_core", "kallsyms_init", "arch_reserved")
    assert [getattr(table, f) for f in fields] == [getattr(real_v6_loader, f) for f in fields]


def _modules_or_skip(arch):
    from tests.conftest import real_input
    from migrator.verify.packages import cache_root

    check_modules = load_migration().model().check_modules

    real_input(cache_root() / "modules" / arch, f"Debian's {arch} module package")
    return lambda table: check_modules(None, arch, table=table)


@pytest.mark.realtree
@pytest.mark.realmodules
def test_rewritten_loader_on_real_modules(rewritten):
    check = _modules_or_skip("arm64")
    report = check(loader_table(rewritten))
    assert report.ok and report.totals.checked > 3000


@pytest.mark.realtree
@pytest.mark.realmodules
def test_a_wrong_loader_is_caught_on_real_modules(rewritten):
    # Upstream's first version put small data in no real type (ia64 broke);
    # here ro_after_init lands in data: both must show on real modules.
    check = _modules_or_skip("arm64")
    main_c = (rewritten / "kernel/module/main.c").read_bytes()
    wrong = main_c.replace(b"\t\tMOD_RO_AFTER_INIT,\n\t\tMOD_DATA,", b"\t\tMOD_DATA,\n\t\tMOD_DATA,", 1)
    assert wrong != main_c
    report = check(loader_table(rewritten, wrong))
    assert not report.ok
    assert {v.invariant for v in report.violations} >= {"permission-class"}
