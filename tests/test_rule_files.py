"""A broken rule file is a one-line error that names the file and the field."""

import pytest

from migrator.errors import MigratorError
from migrator.match import load_rule, load_rules

GOOD = '''
id = "demo"
severity = "rewrite"
confidence = "high"
description = "Demo rule"
pattern = """(field_expression field: (field_identifier) @f (#eq? @f "core_layout")) @site"""
fix = "x"
'''


def write(tmp_path, text, name="demo.toml"):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_good_rule_loads(tmp_path):
    rule = load_rule(write(tmp_path, GOOD))
    assert rule.id == "demo" and rule.severity == "rewrite" and rule.summary == "Demo rule"


@pytest.mark.parametrize("change, field", [
    (lambda s: s + 'colour = "red"\n', "'colour'"),
    (lambda s: s.replace('severity = "rewrite"', 'severity = "fix"'), "'severity'"),
    (lambda s: s.replace('confidence = "high"', 'confidence = 3'), "'confidence'"),
    (lambda s: s.replace('id = "demo"', 'id = "other"'), "'id'"),
    (lambda s: s.replace('id = "demo"', 'id = "Demo_Rule"'), "'id'"),
    (lambda s: s.replace('fix = "x"\n', ''), "'fix'"),
    (lambda s: s.replace('@site', ''), "'pattern'"),
    (lambda s: s.replace('field:', 'feld:'), "'pattern'"),
    (lambda s: s.replace('fix = "x"', 'fix = "{{ x"'), "'fix'"),
    (lambda s: s.replace('fix = "x"', 'fix.nosuch = "x"'), "'fix.nosuch'"),
    (lambda s: s.replace('fix = "x"', 'fix = "{{ x | nosuchfilter }}"'), "'fix'"),
    (lambda s: s + '[[inside]]\nname = "f"\n', "'kind'"),
    (lambda s: s + '[[tests.match]]\ncode = "x"\n', "'expect'"),
    (lambda s: s + '[tests]\nmust = []\n', "'must'"),
    (lambda s: s + '[[shape]]\ncapture = "g"\nquery = "(identifier) @g"\n', "'capture'"),
    (lambda s: s + '[[shape]]\ncapture = "f"\nquery = "(identifier) @g"\n', "'query'"),
    (lambda s: s + '[[shape]]\ncapture = "f"\nquery = "(identifier) @f"\n' * 2, "'capture'"),
    (lambda s: s + '[[shape]]\ncapture = "f"\n', "'query'"),
    (lambda s: s + 'same = [["f"]]\n', "'same'"),
    (lambda s: s + 'same = [["f", "g"]]\n', "'same'"),
])
def test_bad_field_is_named(tmp_path, change, field):
    path = write(tmp_path, change(GOOD))
    with pytest.raises(MigratorError) as e:
        load_rule(path)
    message = str(e.value)
    assert str(path) in message and field in message
    assert "\n" not in message


def test_bad_toml_and_empty_folder(tmp_path):
    with pytest.raises(MigratorError, match="not valid TOML"):
        load_rule(write(tmp_path, "id = ", "broken.toml"))
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(MigratorError, match="holds no rule files"):
        load_rules(empty)
    with pytest.raises(MigratorError, match="no rules folder"):
        load_rules(tmp_path / "missing")


def test_shipped_rules_load_and_are_named_by_id():
    rules = load_rules()
    assert len({r.id for r in rules}) == len(rules)
    for r in rules:
        assert r.path.endswith(f"/{r.id}.toml")
