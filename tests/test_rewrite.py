"""Rewriting in place: refusals, atomicity, and the write path."""

import os
import subprocess
import sys

import pytest

from migrator.errors import MigratorError
from migrator.rewrite.plan import FileChange
from migrator.rewrite.write import write_changes

ARM = b"""static bool in_init(const struct module *mod, unsigned long loc)
{
	return loc - (u32)mod->init_layout.base < mod->init_layout.size;
}
"""


def migrator(*args):
    return subprocess.run([sys.executable, "-m", "migrator", *map(str, args)], capture_output=True, text=True)


def git(repo, *args):
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)


@pytest.fixture
def repo(tmp_path):
    (tmp_path / "arch").mkdir()
    (tmp_path / "arch" / "a.c").write_bytes(ARM)
    (tmp_path / "arch" / "b.c").write_bytes(ARM.replace(b"in_init", b"in_init2"))
    git(tmp_path, "init", "-q")
    git(tmp_path, "-c", "user.name=t", "-c", "user.email=t@e", "commit", "-q", "--allow-empty", "-m", "root")
    git(tmp_path, "add", "-A")
    git(tmp_path, "-c", "user.name=t", "-c", "user.email=t@e", "commit", "-q", "-m", "tree")
    return tmp_path


def test_refuses_uncommitted_changes_and_changes_nothing(repo):
    dirty = ARM + b"/* local edit */\n"
    (repo / "arch" / "b.c").write_bytes(dirty)
    run = migrator("rewrite", "--mode", "kernel", repo)
    assert run.returncode == 2
    assert run.stderr.strip() == "migrator: arch/b.c: uncommitted changes (1 files); commit them or use --force"
    assert (repo / "arch" / "a.c").read_bytes() == ARM
    assert (repo / "arch" / "b.c").read_bytes() == dirty


def test_force_rewrites_dirty_files(repo):
    (repo / "arch" / "b.c").write_bytes(ARM.replace(b"in_init", b"in_init2") + b"/* local */\n")
    run = migrator("rewrite", "--mode", "kernel", "--force", repo)
    assert run.returncode == 0, run.stderr
    assert b"within_module_init(loc, mod)" in (repo / "arch" / "b.c").read_bytes()


def test_untracked_ignored_files_count_as_uncommitted(repo):
    # Debian's kernel tree ignores everything: an ignored file has no committed copy.
    (repo / ".gitignore").write_text("*\n")
    (repo / "arch" / "c.c").write_bytes(ARM)
    run = migrator("rewrite", "--mode", "kernel", repo)
    assert run.returncode == 2 and "arch/c.c: uncommitted changes" in run.stderr


def test_clean_repo_is_rewritten(repo):
    run = migrator("rewrite", "--mode", "kernel", repo)
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("mode: kernel (chosen with --mode)\n4 sites rewritten in 2 files")


def test_failed_write_restores_every_file(tmp_path, monkeypatch):
    a, b = tmp_path / "a.c", tmp_path / "b.c"
    a.write_bytes(b"old a")
    b.write_bytes(b"old b")
    changes = [FileChange("a.c", b"old a", b"new a", (), ()), FileChange("b.c", b"old b", b"new b", (), ())]
    real_replace = os.replace
    calls = []

    def failing_replace(src, dst):
        calls.append(dst)
        if len(calls) == 2:
            raise OSError(28, "No space left on device", dst)
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(MigratorError, match="the tree is as it was"):
        write_changes(str(tmp_path), changes)
    assert a.read_bytes() == b"old a" and b.read_bytes() == b"old b"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.c", "b.c"]


def test_file_changed_since_planning_is_refused(tmp_path):
    (tmp_path / "a.c").write_bytes(b"changed meanwhile")
    with pytest.raises(MigratorError, match="changed on disk"):
        write_changes(str(tmp_path), [FileChange("a.c", b"old", b"new", (), ())])
    assert (tmp_path / "a.c").read_bytes() == b"changed meanwhile"


def test_rewrite_bad_path(tmp_path):
    run = migrator("rewrite", tmp_path / "nope")
    assert run.returncode == 2 and run.stderr.startswith("migrator: ") and "Traceback" not in run.stderr


def test_a_skipped_file_makes_the_exit_code_1(tmp_path):
    # A module.h of a shape the recipe refuses is left whole, and said so.
    (tmp_path / "include/linux").mkdir(parents=True)
    (tmp_path / "include/linux/module.h").write_bytes(
        b"struct module { struct module_layout core_layout; };\n"
        b"static inline bool within_module_core(unsigned long a, const struct module *m)\n"
        b"{\n\treturn other(a, m);\n}\n")
    run = migrator("rewrite", "--mode", "kernel", tmp_path)
    assert run.returncode == 1, run
    assert "include/linux/module.h: recipe module-h-api refused" in run.stdout
