"""The write step is as careful as git with the user's files (issue 12, defects 1-3, 9).

Nothing outside the tree is opened for writing, links stay links, mode and
owner stay, one run at a time, and a signal or a kill leaves the tree all
old or all new.
"""

import os
import shutil
import signal
import stat
import subprocess
import sys
import textwrap

import pytest

from migrator.errors import MigratorError
from migrator.rewrite.plan import FileChange
from migrator.rewrite.write import JOURNAL_NAME, LOCK_NAME, Interrupted, tree_lock, write_changes

from conftest import REPO

USE = b"void f(struct module *mod)\n{\n\tvoid *p = mod->core_layout.base;\n}\n"
NEW = b"void f(struct module *mod)\n{\n\tvoid *p = mod->mem[MOD_TEXT].base;\n}\n"


def migrator(*args, **kwargs):
    # Scratch trees are no kernel trees: the kernel mode is asked for by name.
    if args and args[0] in ("scan", "rewrite"):
        args = (args[0], "--mode", "kernel", *args[1:])
    return subprocess.run([sys.executable, "-m", "migrator", *map(str, args)], capture_output=True,
                          text=True, cwd=REPO, **kwargs)


def one_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("migrator: "), stderr
    return lines[0]


def tree_of(root, n: int = 1):
    """A tree with n files under drivers/x holding one use each."""
    d = root / "s" / "drivers" / "x"
    d.mkdir(parents=True)
    for i in range(n):
        (d / f"f{i:02}.c").write_bytes(USE.replace(b"void f(", f"void f{i}(".encode()))
    return root / "s"


def files_of(tree) -> dict:
    return {str(p.relative_to(tree)): p.read_bytes() for p in sorted(tree.rglob("*")) if p.is_file()}


def test_a_link_at_the_old_temp_name_is_not_followed(tmp_path):
    tree = tree_of(tmp_path)
    outside = tmp_path / "outside"
    outside.mkdir()
    victim = outside / "victim.txt"
    victim.write_text("precious\n")
    planted = tree / "drivers" / "x" / "f00.c.migrator-new"
    planted.symlink_to(victim)
    run = migrator("rewrite", tree)
    assert run.returncode == 0, run.stderr
    assert victim.read_text() == "precious\n"
    assert planted.is_symlink() and os.readlink(planted) == str(victim)
    target = tree / "drivers" / "x" / "f00.c"
    assert not target.is_symlink() and target.read_bytes() == NEW.replace(b"void f(", b"void f0(")


def test_a_file_at_the_old_temp_name_is_not_clobbered(tmp_path):
    tree = tree_of(tmp_path)
    mine = tree / "drivers" / "x" / "f00.c.migrator-new"
    mine.write_bytes(b"my notes\n")
    assert migrator("rewrite", tree).returncode == 0
    assert mine.read_bytes() == b"my notes\n"


def test_a_linked_source_stays_a_link_and_its_target_is_rewritten(tmp_path):
    tree = tree_of(tmp_path)
    link = tree / "drivers" / "x" / "b.c"
    link.symlink_to("f00.c")
    run = migrator("rewrite", tree)
    assert run.returncode == 0, run.stdout + run.stderr
    assert link.is_symlink() and os.readlink(link) == "f00.c"
    assert b"mem[MOD_TEXT]" in (tree / "drivers" / "x" / "f00.c").read_bytes()
    assert "1 sites rewritten in 1 file" in run.stdout or "1 site rewritten" in run.stdout


def test_a_link_to_a_file_outside_the_tree_is_listed_and_left(tmp_path):
    tree = tree_of(tmp_path)
    outside = tmp_path / "outside.c"
    outside.write_bytes(USE)
    (tree / "drivers" / "x" / "ext.c").symlink_to(outside)
    run = migrator("rewrite", tree)
    assert run.returncode == 1, run.stdout + run.stderr
    assert "drivers/x/ext.c: a link to a file outside the tree" in run.stdout
    assert outside.read_bytes() == USE
    # Its uses, if any, were never seen: nothing in the tree is written either.
    f00 = tree / "drivers" / "x" / "f00.c"
    assert "nothing written" in run.stderr and b"core_layout" in f00.read_bytes()
    run = migrator("rewrite", "--allow-unread", tree)
    assert run.returncode == 1 and b"mem[MOD_TEXT]" in f00.read_bytes()
    assert outside.read_bytes() == USE


def test_a_directory_link_on_the_way_is_refused(tmp_path):
    """A directory swapped for a link after planning: nothing is written through it."""
    tree = tree_of(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    shutil.copytree(tree / "drivers", elsewhere)
    shutil.rmtree(tree / "drivers")
    (tree / "drivers").symlink_to(elsewhere)
    change = FileChange("drivers/x/f00.c", (elsewhere / "x" / "f00.c").read_bytes(), b"new", (), ())
    with pytest.raises(MigratorError, match="outside the tree"):
        write_changes(str(tree), [change])
    assert (elsewhere / "x" / "f00.c").read_bytes() == change.old


def test_mode_owner_and_group_are_kept(tmp_path):
    tree = tree_of(tmp_path)
    f = tree / "drivers" / "x" / "f00.c"
    os.chmod(f, 0o640)
    if os.geteuid() == 0:
        os.chown(f, 1234, 5678)
    before = f.stat()
    assert migrator("rewrite", tree).returncode == 0
    after = f.stat()
    assert after.st_ino != before.st_ino  # replaced, not written into
    assert stat.S_IMODE(after.st_mode) == 0o640
    assert (after.st_uid, after.st_gid) == (before.st_uid, before.st_gid)


def test_a_second_run_refuses_while_one_holds_the_tree(tmp_path):
    tree = tree_of(tmp_path)
    with tree_lock(str(tree)):
        run = migrator("rewrite", tree)
    assert run.returncode == 2
    assert "another migrator run" in one_line(run.stderr)
    assert (tree / "drivers" / "x" / "f00.c").read_bytes().count(b"core_layout") == 1
    assert not (tree / LOCK_NAME).exists()


def test_a_signal_during_the_renames_restores_every_file(tmp_path, monkeypatch):
    tree = tree_of(tmp_path, 19)
    before = files_of(tree)
    changes = [FileChange(f"drivers/x/{name}", data, data.replace(b"core_layout", b"mem[MOD_TEXT]"), (), ())
               for name, data in ((p.name, p.read_bytes()) for p in sorted((tree / "drivers" / "x").iterdir()))]
    real_rename, calls = os.rename, []

    def rename_then_signal(src, dst, **kw):
        real_rename(src, dst, **kw)
        calls.append(dst)
        if len(calls) == 9:  # past the journal's writes, among the files
            os.kill(os.getpid(), signal.SIGTERM)

    monkeypatch.setattr(os, "rename", rename_then_signal)
    with pytest.raises(Interrupted) as info:
        write_changes(str(tree), changes)
    assert info.value.signum == signal.SIGTERM
    assert files_of(tree) == before  # every file old, no temporary file, no journal
    assert sorted(os.listdir(tree / "drivers" / "x")) == sorted(p.rsplit("/", 1)[-1] for p in before)


def _strace():
    path = shutil.which("strace")
    if path is None:
        if os.environ.get("MIGRATOR_REQUIRE_REAL_INPUTS"):
            pytest.fail("strace is missing (make apt installs it)")
        pytest.skip("strace is missing")
    probe = subprocess.run([path, "-o", "/dev/null", "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip("strace cannot trace here (no ptrace)")
    return path


@pytest.mark.parametrize("sig, code", [("SIGINT", 130), ("SIGTERM", 143)])
def test_strace_signal_injection_leaves_the_tree_old(tmp_path, sig, code):
    """The issue's reproduction: a signal delivered at the 6th rename."""
    strace = _strace()
    tree = tree_of(tmp_path, 19)
    before = files_of(tree)
    run = subprocess.run(
        [strace, "-f", "-o", "/dev/null", "-e", "trace=rename,renameat,renameat2",
         "-e", f"inject=rename,renameat,renameat2:signal={sig}:when=6",
         sys.executable, "-m", "migrator", "rewrite", "--mode", "kernel", str(tree)],
        capture_output=True, text=True, cwd=REPO)
    assert run.returncode == code, run.stdout + run.stderr
    assert "interrupted by" in one_line(run.stderr)
    assert files_of(tree) == before


KILL_AT_RENAME = textwrap.dedent("""
    import os, signal, sys
    from migrator.rewrite.plan import FileChange
    from migrator.rewrite.write import tree_lock, write_changes
    root, at = sys.argv[1], int(sys.argv[2])
    names = sorted(os.listdir(os.path.join(root, "drivers/x")))
    changes = []
    for n in names:
        old = open(os.path.join(root, "drivers/x", n), "rb").read()
        changes.append(FileChange("drivers/x/" + n, old, old.replace(b"core_layout", b"mem[MOD_TEXT]"), (), ()))
    real, calls = os.rename, []
    def rename(src, dst, **kw):
        real(src, dst, **kw)
        calls.append(dst)
        if len(calls) == at:
            os.kill(os.getpid(), signal.SIGKILL)
    os.rename = rename
    with tree_lock(root):
        write_changes(root, changes)
""")


@pytest.mark.parametrize("at, action", [(6, "undone"), (22, "finished")])
def test_the_next_run_settles_a_killed_write(tmp_path, at, action):
    """SIGKILL mid-step (6: among the renames; 22: after the journal says done) leaves a journal."""
    tree = tree_of(tmp_path, 19)
    killed = subprocess.run([sys.executable, "-c", KILL_AT_RENAME, str(tree), str(at)], cwd=REPO)
    assert killed.returncode == -signal.SIGKILL
    assert (tree / JOURNAL_NAME).exists()
    run = migrator("rewrite", tree)
    assert run.returncode == 0, run.stderr
    assert f"cut short; {action} it" in one_line(run.stderr)
    files = files_of(tree)
    assert all(b"mem[MOD_TEXT]" in data and b"core_layout" not in data for data in files.values()), files
    assert sorted(files) == [f"drivers/x/f{i:02}.c" for i in range(19)]
