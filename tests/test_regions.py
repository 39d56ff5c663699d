"""Region rules: loaded with every field checked, matched with tree-sitter, pinned by snapshots."""

import shutil

import pytest

from migrator.errors import MigratorError
from migrator.match.regions import RegionStatus, load_region_rule, load_region_rules, match_regions
from migrator.migration import load_migration
from migrator.parse.source import SourceFile, parse_c
from migrator.ruletest import pack_rule_tests, region_output

from test_cli import assert_one_line_error, migrator

PACK = load_migration()
type_names = PACK.vocabulary.new.type_names
RULES = {r.id: r for r in load_region_rules(PACK.regions_dir)}


def _result(rule_id: str, code: str):
    data = code.encode()
    return match_regions(RULES[rule_id], SourceFile(RULES[rule_id].file, data), parse_c(data), type_names())


def test_every_shipped_region_rule_is_loaded():
    assert sorted(RULES) == [
        "gdb-constants", "gdb-scripts", "gdb-symbols", "module-h-api", "module-internal-h",
        "module-main-c", "module-procfs-c", "module-strict-rwx-c", "module-tree-lookup-c"]


def test_a_name_in_a_comment_is_not_the_shape():
    """`has` is a token, not a substring: the name in a comment does not count."""
    code = RULES["module-procfs-c"].match_cases[0]
    assert _result("module-procfs-c", code).status is RegionStatus.APPLIED
    moved = """
/* module_total_size() lives elsewhere; do not call it here. */
static int m_show(struct seq_file *m, void *p)
{
	return 0;
}
"""
    assert _result("module-procfs-c", moved).status is RegionStatus.APPLIED
    bounds = "static inline bool within_module_core(unsigned long a, const struct module *mod)\n" \
             "{\n\treturn helper(a, mod); /* was mod->core_layout */\n}\n"
    result = _result("module-h-api", bounds)
    assert result.status is RegionStatus.REFUSED
    assert "within_module_core() does not use core_layout" in result.reason


def test_a_refusal_names_every_region_that_differs_and_changes_nothing():
    code = RULES["module-main-c"].match_cases[0].replace("INIT_OFFSET_MASK", "INIT_MARK")
    result = _result("module-main-c", code)
    assert result.status is RegionStatus.REFUSED and not result.replacements
    assert "layout_sections() does not use INIT_OFFSET_MASK" in result.reason
    assert "move_module() does not use INIT_OFFSET_MASK" in result.reason


def test_sites_inside_a_region_are_decided_by_its_rule_at_scan_time(tmp_path):
    (tmp_path / "kernel" / "module").mkdir(parents=True)
    (tmp_path / "kernel" / "module" / "procfs.c").write_text(
        "static int m_show(struct seq_file *m, void *p)\n{\n"
        "\treturn mod->core_layout.size;\n}\n")
    (tmp_path / "kernel" / "module" / "main.c").write_text(RULES["module-main-c"].match_cases[0])
    run = migrator("scan", "--mode", "kernel", tmp_path)
    lines = [line for line in run.stdout.splitlines() if "main.c:" in line and "core_layout" in line]
    assert lines and all("module-main-c" in line for line in lines), run.stdout


@pytest.mark.parametrize("change, words", [
    (("kind = \"region\"", "kind = \"site\""), ("module-procfs-c.toml", "'kind'")),
    (("@site", "@place"), ("module-procfs-c.toml", "region[0]", "@site")),
    (("anchor = \"insert-before\"", "anchor = \"above\""), ("region[0]", "'anchor'")),
    (("template = \"loader/module-total-size.c.j2\"", "template = \"loader/none.j2\""),
     ("region[0]", "'template'", "none.j2")),
    (("label = ", "name = "), ("region[0]", "'name'")),
])
def test_a_broken_region_rule_is_a_one_line_error(tmp_path, change, words):
    pack = tmp_path / "module-memory"
    shutil.copytree(PACK.root, pack)
    rule = pack / "rules" / "regions" / "module-procfs-c.toml"
    text = rule.read_text()
    assert change[0] in text
    rule.write_text(text.replace(change[0], change[1], 1))
    with pytest.raises(MigratorError):
        load_region_rule(rule)
    assert_one_line_error(migrator("test", "--migration", pack), *words)


def test_a_template_change_shows_as_a_snapshot_diff(tmp_path):
    pack_dir = tmp_path / "module-memory"
    shutil.copytree(PACK.root, pack_dir)
    template = pack_dir / "rules" / "regions" / "loader" / "module-total-size.c.j2"
    template.write_text(template.read_text().replace("unsigned int size = 0;", "unsigned int size = 0U;"))
    pack = load_migration(str(pack_dir))
    wrong = [r for r in pack_rule_tests(pack) if not r.ok]
    assert [(r.name, r.status) for r in wrong] == [("module-procfs-c:match[0]", "wrong")]
    pack_rule_tests(pack, update=True)
    snapshot = (pack_dir / "rules" / "regions" / "snapshots" / "module-procfs-c.snap").read_text()
    assert "unsigned int size = 0U;" in snapshot
    assert all(r.ok for r in pack_rule_tests(pack))


def test_a_text_region_must_match_exactly_once():
    rule = RULES["gdb-symbols"]
    twice = rule.match_cases[0] + rule.match_cases[0]
    status, reason = region_output(rule, twice, type_names())
    assert status is RegionStatus.REFUSED and "2 times, not once" in reason
