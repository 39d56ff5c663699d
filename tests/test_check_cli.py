"""migrator check on the command line: exit codes, the violation format, --modules."""

import subprocess
import sys

import pytest
from test_check_fixtures import build_trees
from test_model_builder import MODULE_SYMBOLS, Obj, build_object, module_sections

CONFIG = b"CONFIG_STRICT_MODULE_RWX=y\nCONFIG_MODULE_UNLOAD=y\nCONFIG_KALLSYMS=y\nCONFIG_SMP=y\n"


def migrator(*args):
    return subprocess.run([sys.executable, "-m", "migrator", *map(str, args)],
                          capture_output=True, text=True)


def assert_one_line_error(run, *words):
    assert run.returncode == 2, run
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("migrator: "), run.stderr
    for w in words:
        assert w in lines[0], lines[0]


def test_a_faithful_rewrite_passes(tmp_path):
    original, rewritten, _ = build_trees("reservation-in-text", tmp_path)
    run = migrator("check", rewritten, "--original", original, "--probes", "synthetic")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "0 violations" in run.stdout and "2 files checked" in run.stdout


@pytest.mark.parametrize("name, line, invariant", [
    ("got-addressed-from-data", 19, "reservation-type"),
    ("init-test-narrowed", 7, "predicate-agrees"),
    ("misspelled-type", 6, "api-name"),
])
def test_a_mutation_fails_naming_file_line_and_invariant(tmp_path, name, line, invariant):
    original, rewritten, meta = build_trees(name, tmp_path)
    run = migrator("check", rewritten, "--original", original, "--probes", "synthetic")
    assert run.returncode == 1, run.stdout + run.stderr
    first = run.stdout.splitlines()[0]
    assert first.startswith(f"{meta['path']}:{line}:") and f": {invariant}: " in first


def test_bad_input_is_one_line(tmp_path):
    assert_one_line_error(migrator("check"), "nothing to check")
    assert_one_line_error(migrator("check", tmp_path / "nope", "--original", tmp_path),
                          "no such file")
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    assert_one_line_error(migrator("check", tmp_path / "a", "--original", tmp_path / "b"),
                          "include/linux/module.h")
    assert_one_line_error(migrator("check", tmp_path / "a", "--original", tmp_path / "a"),
                          "same directory")
    assert_one_line_error(migrator("check", tmp_path / "a"), "not in a git repository")


def test_a_pack_without_a_model_is_refused(tmp_path):
    # class-create ships no model plug-in: nothing to check a rewrite's meaning with.
    original, rewritten, _ = build_trees("reservation-in-text", tmp_path)
    run = migrator("check", rewritten, "--original", original, "--migration", "class-create")
    assert_one_line_error(run, "the class-create pack has no model to check with")
    assert run.stdout == ""


def test_a_header_without_the_new_api_is_bad_input(tmp_path):
    original, rewritten, _ = build_trees("reservation-in-text", tmp_path)
    (rewritten / "include/linux/module.h").write_text("struct module { int x; };\n")
    assert_one_line_error(migrator("check", rewritten, "--original", original),
                          "no enum mod_mem_type")


def test_default_original_is_the_git_head(tmp_path):
    original, rewritten, _ = build_trees("init-test-narrowed", tmp_path)
    repo = tmp_path / "repo"
    subprocess.run(["cp", "-r", str(original), str(repo)], check=True)
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.org"]
    subprocess.run(git + ["init", "-q"], check=True)
    subprocess.run(git + ["add", "."], check=True)
    subprocess.run(git + ["commit", "-qm", "6.1"], check=True)
    subprocess.run(["cp", "-r", f"{rewritten}/.", str(repo)], check=True)
    run = migrator("check", repo, "--probes", "synthetic")
    assert run.returncode == 1, run.stdout + run.stderr
    assert "arch/arm64/kernel/module-plts.c:7:2: predicate-agrees" in run.stdout
    assert "checked against HEAD" in run.stdout


def test_modules_of_a_directory(tmp_path):
    (tmp_path / "x.ko").write_bytes(build_object(Obj(module_sections(), MODULE_SYMBOLS)))
    (tmp_path / "config-6.1").write_bytes(CONFIG)
    run = migrator("check", "--modules", tmp_path, "--arch", "amd64")
    assert run.returncode == 0, run.stdout + run.stderr
    header, row = run.stdout.splitlines()[0:2]
    assert header.split()[:2] == ["arch", "modules"]
    assert row.split()[:3] == ["amd64", "1", "1"] and row.split()[-1] == "0"


def test_modules_need_an_architecture(tmp_path):
    assert_one_line_error(migrator("check", "--modules", tmp_path), "--arch")
