"""The engine driven through `import migrator`, without the command line.

Per-file results are values: a file whose planning fails is a FAILED result
and the other files are planned all the same.
"""

import migrator
import migrator.rewrite.plan as plan_module

USE = b"void f(struct module *mod)\n{\n\tp = mod->core_layout.base;\n}\n"
OTHER = b"void g(struct module *mod)\n{\n\tq = mod->init_layout.base;\n}\n"


def _tree(tmp_path):
    (tmp_path / "arch" / "x").mkdir(parents=True)
    (tmp_path / "arch" / "x" / "a.c").write_bytes(USE)
    (tmp_path / "arch" / "x" / "b.c").write_bytes(OTHER)
    (tmp_path / "arch" / "x" / "none.c").write_bytes(b"int core_layouts;\n")
    return tmp_path


def test_scan_plan_apply_without_the_cli(tmp_path, capsys):
    tree = _tree(tmp_path)
    m = migrator.load_migration("module-memory")
    found = migrator.scan(tree, m, mode="kernel")
    sites = [f for f in found.findings if f.occurrence.is_site]
    assert sorted((f.occurrence.path, f.occurrence.name, f.severity) for f in sites) == [
        ("arch/x/a.c", "core_layout", migrator.Decision.REWRITE),
        ("arch/x/b.c", "init_layout", migrator.Decision.REWRITE),
    ]
    assert all(f.occurrence.kind is migrator.OccurrenceKind.USE for f in sites)

    plan = migrator.plan(tree, m, mode="kernel")
    assert {f.path: f.outcome for f in plan.files} == {
        "arch/x/a.c": migrator.FileOutcome.CHANGED, "arch/x/b.c": migrator.FileOutcome.CHANGED}
    assert (tree / "arch" / "x" / "a.c").read_bytes() == USE  # planning writes nothing

    written = migrator.apply(plan)
    assert [c.path for c in written] == ["arch/x/a.c", "arch/x/b.c"]
    assert b"mod->mem[MOD_TEXT].base" in (tree / "arch" / "x" / "a.c").read_bytes()
    assert [f for f in migrator.scan(tree, m, mode="kernel").findings if f.occurrence.is_site] == []
    assert capsys.readouterr() == ("", "")  # the library never prints


def test_one_failing_file_fails_alone(tmp_path, monkeypatch):
    tree = _tree(tmp_path)
    real = plan_module.apply_edits_with_spans

    def apply_edits_with_spans(old, edits):
        if b"init_layout" in old:
            raise RuntimeError("a template that cannot render")
        return real(old, edits)

    monkeypatch.setattr(plan_module, "apply_edits_with_spans", apply_edits_with_spans)
    plan = migrator.plan(tree, mode="kernel")
    by_path = {f.path: f for f in plan.files}
    assert by_path["arch/x/a.c"].outcome is migrator.FileOutcome.CHANGED
    assert by_path["arch/x/b.c"].outcome is migrator.FileOutcome.FAILED
    assert by_path["arch/x/b.c"].reason == "RuntimeError: a template that cannot render"
    assert [c.path for c in plan.changes] == ["arch/x/a.c"]
    assert [(s.path, s.reason) for s in plan.skipped] == [("arch/x/b.c", "RuntimeError: a template that cannot render")]


def test_a_bad_root_is_an_error_value_not_a_traceback(tmp_path):
    try:
        migrator.scan(tmp_path / "missing")
    except migrator.MigratorError as e:
        assert "no such file or directory" in str(e)
    else:
        raise AssertionError("a missing root must be refused")


def test_out_of_tree_code_is_planned_behind_the_guard(tmp_path):
    (tmp_path / "drv.c").write_bytes(USE)  # no kernel Makefile: out of the tree
    plan = migrator.plan(tmp_path)
    (change,) = plan.changes
    assert plan.profile.out_of_tree
    assert change.new.startswith(b"#include <linux/version.h>\n")
    assert b"#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 4, 0)" in change.new
    assert b"mod->core_layout.base" in change.new  # the old branch kept whole


def test_apply_refuses_a_plan_with_parts_not_read(tmp_path):
    """A FIFO named like a source was never read: writing the rest could half-migrate the tree."""
    import os

    import pytest

    tree = _tree(tmp_path)
    os.mkfifo(tree / "arch" / "x" / "pipe.c")
    plan = migrator.plan(tree, mode="kernel")
    assert [(s.path, s.reason) for s in plan.not_read] == [("arch/x/pipe.c", "a FIFO, not a regular file")]
    with pytest.raises(migrator.MigratorError, match="nothing written: 1 part of the tree could not be read"):
        migrator.apply(plan)
    assert (tree / "arch" / "x" / "a.c").read_bytes() == USE
    assert [c.path for c in migrator.apply(plan, allow_unread=True)] == ["arch/x/a.c", "arch/x/b.c"]
