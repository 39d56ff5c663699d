"""A rule's [[shape]]: a capture the pattern leaves open must have a form,
past any casts and parentheses, and the form's captures reach the fix.  The
queries may import the macros of their pack (rules/macros/)."""

import pytest

from migrator.errors import MigratorError
from migrator.match import load_rules
from migrator.ruletest import run_rule_tests

SHAPED = '''
id = "shaped"
severity = "rewrite"
confidence = "high"
description = "A returned core size becomes the text's"
pattern = """
(return_statement (_) @bound) @site
((init_declarator value: (field_expression argument: (field_expression field: (field_identifier) @layout)) @site)
 (#eq? @layout "core_layout"))
"""
# Unpeeled, the bound would be the cast or the parentheses: the fix says so.
fix.layout = "mem[{{ T.TEXT }}]{{ '' if bound is not defined or bound.type == 'field_expression' else 'WRAPPED' }}"

[[shape]]
capture = "bound"
query = """
((field_expression argument: (field_expression field: (field_identifier) @layout) field: (field_identifier) @f) @bound
 (#eq? @layout "core_layout") (#eq? @f "size"))
"""

[[tests.match]]
code = "return (size_t)(mod->core_layout.size);"
expect = "return (size_t)(mod->mem[MOD_TEXT].size);"

[[tests.match]]
code = "return ((mod->core_layout.size));"
expect = "return ((mod->mem[MOD_TEXT].size));"

[[tests.match]]
code = "int n = mod->core_layout.text_size;"
expect = "int n = mod->mem[MOD_TEXT].text_size;"

[[tests.no_match]]
code = "return mod->core_layout.size + 1;"
why = "the returned expression is a sum, not the size"

[[tests.no_match]]
code = "return mod->core_layout.text_size;"
why = "another field: the shape's predicate fails"
'''


def _write(tmp_path, text):
    (tmp_path / "shaped.toml").write_text(text)
    return tmp_path


def test_a_shape_matches_past_casts_and_parentheses(tmp_path):
    """The shaped capture holds the expression itself; its form's captures reach the fix;
    a pattern that does not capture it is not shaped (the declaration's text_size)."""
    results = run_rule_tests(load_rules(_write(tmp_path, SHAPED)))
    assert {r.status for r in results} == {"ok"}, [(r.name, r.status, r.detail) for r in results]
    assert len(results) >= 5


def test_a_wrong_form_is_no_match(tmp_path):
    # The same rule with the shape asking for another field: the returns fail their cases.
    rules = load_rules(_write(tmp_path, SHAPED.replace('(#eq? @f "size"))', '(#eq? @f "ro_size"))')))
    failed = [r for r in run_rule_tests(rules) if not r.ok]
    assert len(failed) == 2 and {r.status for r in failed} == {"missing"}


def test_a_query_imports_the_macros_of_its_pack(tmp_path):
    """rules/sites/x.toml imports from rules/macros/: one spelling of a form for many rules."""
    sites, macros = tmp_path / "rules" / "sites", tmp_path / "rules" / "macros"
    sites.mkdir(parents=True)
    macros.mkdir()
    (macros / "sizes.j2").write_text(
        '{% macro core_field(root, name) -%}\n'
        '((field_expression argument: (field_expression field: (field_identifier) @layout)'
        ' field: (field_identifier) @f) @{{ root }}\n'
        ' (#eq? @layout "core_layout") (#eq? @f "{{ name }}"))\n'
        '{%- endmacro %}\n')
    shaped = SHAPED.replace('''query = """
((field_expression argument: (field_expression field: (field_identifier) @layout) field: (field_identifier) @f) @bound
 (#eq? @layout "core_layout") (#eq? @f "size"))
"""''', '''query = """
{% from "sizes.j2" import core_field %}
{{ core_field("bound", "size") }}
"""''')
    assert shaped != SHAPED
    results = run_rule_tests(load_rules(_write(sites, shaped)))
    assert {r.status for r in results} == {"ok"}, [(r.name, r.status, r.detail) for r in results]

    _write(sites, shaped.replace("sizes.j2", "sises.j2"))
    with pytest.raises(MigratorError, match=r"shaped\.toml: shape\[0\]: field 'query': no macro file sises\.j2"):
        load_rules(sites)
