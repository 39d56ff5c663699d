"""A mapping that holds only without a config option is reported where it may be set (issue 12).

With CONFIG_ARCH_WANTS_MODULES_DATA_IN_VMALLOC, 6.1's core_layout held the
text alone, and data_layout the rodata, ro_after_init and data, with offsets
of its own; core's ro_size and ro_after_init_size stayed 0.  So core base +
ro_after_init_size was no start of the data there.  powerpc's Kconfig selects
it; elsewhere only an #ifdef of it compiles such code with it.
"""

import pytest

from migrator.errors import MigratorError
from migrator.match import load_rules, match_file
from migrator.match.rules import migration_rule_book
from migrator.migration import load_migration
from migrator.parse import SourceFile

DATA_START = "\tp = mod->core_layout.base + mod->core_layout.ro_after_init_size;\n"
DATA_WINDOW = ("\tif (a >= (unsigned long)mod->core_layout.base + mod->core_layout.ro_after_init_size &&\n"
               "\t    a < (unsigned long)mod->core_layout.base + mod->core_layout.size)\n\t\thit = 1;\n")
DATA_SIZE = "\tn = mod->core_layout.size - mod->core_layout.ro_after_init_size;\n"
RODATA_START = "\tp = mod->core_layout.base + mod->core_layout.text_size;\n"
BEYOND_TEXT = "\tn = mod->core_layout.size - mod->core_layout.text_size;\n"


@pytest.fixture(scope="module")
def rules():
    return load_rules()


def decided(rules, path: str, body: str) -> list[tuple[str, str, str]]:
    code = f"void f(struct module *mod, unsigned long a)\n{{\n{body}}}\n".encode()
    result = match_file(SourceFile(path, code), rules)
    return [(m.rule_id, m.severity.value, m.message) for m in result.matches]


@pytest.mark.parametrize("body", [DATA_START, DATA_WINDOW, DATA_SIZE, RODATA_START, BEYOND_TEXT])
def test_powerpc_code_keeps_what_depends_on_the_data_layout(rules, body):
    x86 = decided(rules, "arch/x86/kernel/module.c", body)
    assert [severity for _, severity, _ in x86] == ["rewrite"], x86
    ppc = decided(rules, "arch/powerpc/kernel/module_32.c", body)
    assert [(rule, severity) for rule, severity, _ in ppc] == [(x86[0][0], "report")], ppc
    assert "holds only without CONFIG_ARCH_WANTS_MODULES_DATA_IN_VMALLOC" in ppc[0][2]
    assert "arch/powerpc/Kconfig selects it" in ppc[0][2]


@pytest.mark.parametrize("body, rule", [
    ("\tp = mod->init_layout.base + mod->init_layout.text_size;\n", "base-plus-offset"),
    ("\tvoid *text_end = mod->core_layout.base + mod->core_layout.text_size;\n", "text-range-end"),
])
def test_what_does_not_depend_on_it_is_mapped_in_powerpc_code_too(rules, body, rule):
    """The init layout was the same with the option, and core's text ended at text_size either way."""
    ppc = decided(rules, "arch/powerpc/kernel/module_32.c", body)
    assert [(r, severity) for r, severity, _ in ppc] == [(rule, "rewrite")]


@pytest.mark.parametrize("guard, reported", [
    ("#ifdef CONFIG_ARCH_WANTS_MODULES_DATA_IN_VMALLOC", True),
    ("#if defined(CONFIG_ARCH_WANTS_MODULES_DATA_IN_VMALLOC) && defined(CONFIG_X)", True),
    ("#ifndef CONFIG_ARCH_WANTS_MODULES_DATA_IN_VMALLOC", False),
    ("#ifdef CONFIG_X", False),
])
def test_an_ifdef_of_the_option_decides_elsewhere(rules, guard, reported):
    got = decided(rules, "drivers/x/y.c", f"{guard}\n{DATA_START}#endif\n")
    assert [severity for _, severity, _ in got] == ["report" if reported else "rewrite"], got


def test_the_folders_named_are_those_whose_kconfig_selects_it(linux_tree):
    """The vocabulary's list agrees with the real 6.1 tree's Kconfig files."""
    import re

    tree = linux_tree
    option = load_migration().vocabulary.old.config("CONFIG_ARCH_WANTS_MODULES_DATA_IN_VMALLOC")
    name = option.name.removeprefix("CONFIG_")
    selecting = sorted(f"arch/{p.relative_to(tree / 'arch').parts[0]}/"
                       for p in (tree / "arch").rglob("Kconfig*")
                       if re.search(rf"^\s*select\s+{name}\b", p.read_text(errors="replace"), re.M))
    assert selecting == sorted(option.selected_in)


def test_a_row_without_an_option_the_vocabulary_lacks_is_refused(tmp_path):
    rule = (load_migration().sites_dir / "base-plus-offset.toml").read_text()
    assert 'without = "CONFIG_ARCH_WANTS_MODULES_DATA_IN_VMALLOC"' in rule
    (tmp_path / "base-plus-offset.toml").write_text(
        rule.replace("CONFIG_ARCH_WANTS_MODULES_DATA_IN_VMALLOC", "CONFIG_ARCH_WANTS_MODULES_DATA_IN_VMALOC"))
    with pytest.raises(MigratorError, match=r"base-plus-offset\.toml: when\[0\]: .*VMALOC"):
        migration_rule_book(load_migration(), tmp_path)
    assert migration_rule_book(load_migration(), load_migration().sites_dir).all_rules()
