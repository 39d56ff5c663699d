"""Bad input is one line on stderr and exit 2, never a traceback."""

import os
import subprocess
import sys

import pytest

FUNC = b"void f(struct module *mod)\n{\n\tp = mod->core_layout.base;\n}\n"


def migrator(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "migrator", *map(str, args)],
                          capture_output=True, text=True, cwd=cwd)


def assert_one_line_error(run, *words):
    assert run.returncode == 2, run
    assert "Traceback" not in run.stderr
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("migrator: "), run.stderr
    for w in words:
        assert w in lines[0]


@pytest.fixture
def tree(tmp_path):
    (tmp_path / "arch").mkdir()
    (tmp_path / "arch" / "a.c").write_bytes(FUNC)
    return tmp_path


def test_missing_path(tmp_path):
    assert_one_line_error(migrator("scan", tmp_path / "nope"), "no such file or directory")


def test_file_instead_of_directory(tree):
    assert_one_line_error(migrator("scan", tree / "arch" / "a.c"), "not a directory")


def test_malformed_rule_names_the_field(tree, tmp_path_factory):
    rules = tmp_path_factory.mktemp("rules")
    (rules / "x.toml").write_text('id = "x"\nseverity = "sometimes"\n')
    assert_one_line_error(migrator("scan", "--rules", rules, tree), "x.toml", "'description'")
    (rules / "x.toml").write_text(
        'id = "x"\nseverity = "sometimes"\nconfidence = "high"\ndescription = "d"\npattern = "(_) @site"\n')
    assert_one_line_error(migrator("test", "--rules", rules), "x.toml", "'severity'")


def test_unreadable_file_is_skipped_with_its_reason(tree):
    # Root reads any mode, so a dangling link is the portable unreadable file.
    os.symlink(tree / "missing.c", tree / "arch" / "gone.c")
    run = migrator("scan", "--mode", "kernel", tree)
    assert run.returncode == 1, run.stderr
    assert "arch/gone.c: skipped: cannot read: No such file or directory" in run.stdout
    assert "arch/a.c:3:11: core_layout.base  core-layout-base (rewrite)" in run.stdout
    assert run.stdout.strip().endswith("1 file skipped")


def test_non_utf8_bytes_are_fine(tree):
    (tree / "arch" / "latin1.c").write_bytes(b"/* Jos\xe9 */\n" + FUNC)
    run = migrator("scan", "--mode", "kernel", tree)
    assert run.returncode == 0, run.stderr
    assert "arch/latin1.c:4:11: core_layout.base" in run.stdout


def test_help_lists_the_commands():
    run = migrator("--help")
    assert run.returncode == 0
    for command in ("scan", "test"):
        assert command in run.stdout


def test_build_refuses_bad_input(tmp_path):
    assert_one_line_error(migrator("build", tmp_path / "nope"), "does not exist")
    (tmp_path / "Makefile").write_text("all:\n")
    assert_one_line_error(migrator("build", tmp_path, "-t", "nosuch"), "unknown build target 'nosuch'")
