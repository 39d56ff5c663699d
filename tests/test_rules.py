"""Every case written in a pack's rule files, run through the harness `migrator test` uses."""

import pytest
from click.testing import CliRunner

from migrator.cli import cli
from migrator.match import load_rule_book, load_rules
from migrator.match.regions import load_region_rules
from migrator.migration import load_migration
from migrator.ruletest import pack_rule_tests, run_rule_tests

# Every rule folder: the site rules, each area's own (the loader's) and the region rules.
RESULTS = pack_rule_tests(load_migration())


@pytest.mark.parametrize("result", RESULTS, ids=[r.name for r in RESULTS])
def test_rule_case(result):
    assert result.ok, f"{result.status}: {result.detail}"


def test_every_rule_has_match_and_no_match_cases():
    regions = load_region_rules(load_migration().regions_dir)
    assert regions
    for rule in load_rule_book().all_rules() + regions:
        assert rule.match_cases, rule.id
        # Every rule is checked against code it must leave, report rules too.
        assert rule.no_match_cases, rule.id


def test_cli_runs_the_same_cases():
    out = CliRunner().invoke(cli, ["test", "-v"])
    failed = sum(1 for r in RESULTS if not r.ok)
    assert out.output.strip().endswith(f"{len(RESULTS) - failed} passed, {failed} failed")
    listed = {line.split()[1] for line in out.output.splitlines()[:-1]}
    assert listed == {r.name for r in RESULTS}
    assert out.exit_code == (1 if failed else 0)


def test_harness_reports_missing_and_noisy(tmp_path):
    """A rule whose cases are wrong must fail in the harness, not pass quietly."""
    (tmp_path / "bad-cases.toml").write_text('''
id = "bad-cases"
severity = "rewrite"
confidence = "low"
description = "A rule whose cases contradict it"
pattern = """(field_expression field: (field_identifier) @f (#eq? @f "core_layout")) @site"""
fix.f = "mem[{{ T.TEXT }}]"
[[tests.match]]
code = "x = mod->init_layout.base;"
expect = "x = mod->mem[MOD_INIT_TEXT].base;"
[[tests.match]]
code = "x = mod->core_layout.base;"
expect = "x = mod->mem[MOD_DATA].base;"
[[tests.no_match]]
code = "x = mod->core_layout.size;"
why = "deliberately noisy"
''')
    statuses = [r.status for r in run_rule_tests(load_rules(tmp_path))]
    assert "missing" in statuses and "wrong" in statuses and "noisy" in statuses


def test_a_rule_without_cases_of_its_own_fails_its_test(tmp_path):
    """Every rule carries must-match and must-not-match cases; a rule lacking either fails."""
    from migrator.match import load_rule
    from migrator.ruletest import CaseStatus, run_rule_tests

    shipped = sorted(load_migration().sites_dir.glob("*.toml"))[0]
    text = shipped.read_text()
    bare = text[:text.index("[[tests.")]
    path = tmp_path / shipped.name
    path.write_text(bare)
    results = run_rule_tests([load_rule(path)])
    assert {(r.kind, r.status) for r in results} == {("match", CaseStatus.MISSING),
                                                    ("no_match", CaseStatus.MISSING)}
