"""Results are values: one file's failure is its own result, and the run goes on."""

import pytest

import migrator.match.scan as scan_module
import migrator.rewrite.plan as plan_module
from migrator.match import Decision, load_rules
from migrator.match.scan import scan_tree
from migrator.rewrite.plan import FileOutcome, plan_rewrite
from migrator.ruletest import CaseStatus, run_rule_tests

USE = "void *f(struct module *mod)\n{\n\treturn mod->core_layout.base;\n}\n"


@pytest.fixture
def tree(tmp_path):
    for name in ("a.c", "b.c"):
        (tmp_path / name).write_text(USE)
    return tmp_path


def _fail_on(path, real):
    def planned(root, p, *args, **kwargs):
        if p == path:
            raise RuntimeError("a bug met in one file")
        return real(root, p, *args, **kwargs)
    return planned


def test_a_file_whose_planning_raises_fails_alone(tree, monkeypatch):
    monkeypatch.setattr(plan_module, "_plan_file", _fail_on("a.c", plan_module._plan_file))
    plan = plan_rewrite(str(tree), load_rules())
    outcomes = {f.path: (f.outcome, f.reason) for f in plan.files}
    assert outcomes["a.c"] == (FileOutcome.FAILED, "RuntimeError: a bug met in one file")
    assert outcomes["b.c"][0] is FileOutcome.CHANGED
    assert [c.path for c in plan.changes] == ["b.c"]
    assert [s.path for s in plan.skipped] == ["a.c"]
    assert plan.outcome_counts() == {FileOutcome.FAILED: 1, FileOutcome.CHANGED: 1}


def test_a_file_whose_matching_raises_is_skipped_with_its_sites_left(tree, monkeypatch):
    real = scan_module.match_file

    def match(src, *args, **kwargs):
        if src.path == "b.c":
            raise KeyError("odd")
        return real(src, *args, **kwargs)

    monkeypatch.setattr(scan_module, "match_file", match)
    scan = scan_tree(str(tree), load_rules(), jobs=1)
    (skipped,) = scan.skipped
    assert (skipped.path, skipped.error) == ("b.c", "KeyError: 'odd'")
    # Its site still counts, as undecided, with the reason.
    assert [(f.occurrence.path, f.severity) for f in scan.findings if f.occurrence.is_site] == [
        ("a.c", Decision.REWRITE), ("b.c", Decision.UNDECIDED)]


def test_statuses_are_closed_sets():
    (rule,) = [r for r in load_rules() if r.id == "layout-footprint"] or load_rules()[:1]
    results = run_rule_tests([rule])
    assert results and all(isinstance(r.status, CaseStatus) for r in results)
    with pytest.raises(ValueError):
        Decision("rewritten")
