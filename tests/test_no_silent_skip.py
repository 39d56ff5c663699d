"""Nothing is skipped silently (issue 12, defects 4 and 5): each is listed, counted, exit 1."""

import os
import shutil
import subprocess
import sys

import pytest

from migrator.match import load_rules
from migrator.match.scan import scan_tree

from conftest import REPO

USE = b"void f(struct module *mod)\n{\n\tvoid *p = mod->core_layout.base;\n}\n"


def migrator(*args, timeout=60):
    # Scratch trees are no kernel trees: the kernel mode is asked for by name.
    if args and args[0] in ("scan", "rewrite"):
        args = (args[0], "--mode", "kernel", *args[1:])
    return subprocess.run([sys.executable, "-m", "migrator", *map(str, args)], capture_output=True,
                          text=True, cwd=REPO, timeout=timeout)


@pytest.fixture
def tree(tmp_path):
    root = tmp_path / "t"
    (root / "kernel" / "module").mkdir(parents=True)
    (root / "arch").mkdir()
    (root / "arch" / "a.c").write_bytes(USE)
    return root


def test_a_fifo_named_like_a_source_does_not_hang(tree):
    os.mkfifo(tree / "arch" / "foo.c")
    for command in ("scan", "rewrite"):
        run = migrator(command, tree, timeout=30)  # hung forever before
        assert run.returncode == 1, run.stdout + run.stderr
        assert "arch/foo.c" in run.stdout and "a FIFO, not a regular file" in run.stdout


def test_an_unreadable_directory_is_listed(tree, monkeypatch):
    """chmod 000 does not stop root, so the directory's listing fails here by hand."""
    (tree / "kernel" / "module" / "main.c").write_bytes(USE)
    real_scandir = os.scandir

    def scandir(path="."):
        if str(path).endswith(os.path.join("kernel", "module")):
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    scan = scan_tree(str(tree), load_rules(), jobs=1)
    assert [(fs.path, fs.error) for fs in scan.skipped] == [
        ("kernel/module", "cannot read directory: Permission denied")]


def _without_root_reads() -> list[str]:
    """A prefix that makes chmod 000 bind root too: setpriv drops the capabilities that
    let root read any directory (util-linux, on every Debian)."""
    if os.geteuid() != 0:
        return []
    if shutil.which("setpriv") is None:
        pytest.skip("root reads a chmod 000 directory, and setpriv is missing")
    caps = "-dac_override,-dac_read_search"
    return ["setpriv", "--bounding-set", caps, "--inh-caps", caps]


def _run_unreadable(tree, *args):
    """migrator ARGS on the tree with kernel/module chmod 000, as a user whom that binds."""
    os.chmod(tree / "kernel" / "module", 0)
    try:
        return subprocess.run([*_without_root_reads(), sys.executable, "-m", "migrator", *map(str, args)],
                              capture_output=True, text=True, cwd=REPO, timeout=60)
    finally:
        os.chmod(tree / "kernel" / "module", 0o755)


@pytest.mark.parametrize("command", [["scan"], ["rewrite"], ["rewrite", "--dry-run"]])
def test_an_unreadable_directory_fails_the_run(tree, command):
    (tree / "kernel" / "module" / "main.c").write_bytes(USE)
    run = _run_unreadable(tree, *command, "--mode", "kernel", tree)
    assert run.returncode == 1, run.stdout + run.stderr
    listing = run.stderr if "--dry-run" in command else run.stdout
    assert "kernel/module" in listing and "cannot read directory: Permission denied" in listing
    assert b"core_layout" in (tree / "kernel" / "module" / "main.c").read_bytes()


def test_an_unreadable_directory_refuses_the_whole_write(tree):
    """The loader unseen and the rest new would be a half-migrated tree: nothing is written."""
    (tree / "kernel" / "module" / "main.c").write_bytes(USE)
    run = _run_unreadable(tree, "rewrite", "--mode", "kernel", tree)
    assert run.returncode == 1, run.stdout + run.stderr
    assert "kernel/module: cannot read directory: Permission denied" in run.stdout
    assert run.stderr.splitlines() == [
        "migrator: nothing written: 1 part of the tree could not be read (first: kernel/module), "
        "and the rest alone could be half migrated; pass --allow-unread to write it anyway"]
    assert (tree / "arch" / "a.c").read_bytes() == USE  # rewritten before the decision
    # --dry-run still shows what would change.
    dry = _run_unreadable(tree, "rewrite", "--mode", "kernel", "--dry-run", tree)
    assert dry.returncode == 1 and "+\tvoid *p = mod->mem[MOD_TEXT].base;" in dry.stdout, dry.stderr


def test_allow_unread_writes_what_was_read(tree):
    (tree / "kernel" / "module" / "main.c").write_bytes(USE)
    run = _run_unreadable(tree, "rewrite", "--mode", "kernel", "--allow-unread", tree)
    assert run.returncode == 1, run.stdout + run.stderr  # a part is still unread: a script must see it
    assert "1 site rewritten in 1 file" in run.stdout and "kernel/module: cannot read directory" in run.stdout
    assert b"mem[MOD_TEXT]" in (tree / "arch" / "a.c").read_bytes()
    assert (tree / "kernel" / "module" / "main.c").read_bytes() == USE


def test_a_directory_link_out_of_the_tree_is_listed(tree, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "b.c").write_bytes(USE)
    (tree / "drivers").symlink_to(elsewhere)
    run = migrator("scan", "--mode", "kernel", tree)
    assert run.returncode == 1, run.stdout
    assert "drivers: skipped: a link to a directory outside the tree: not followed" in run.stdout
    # Not followed on purpose, but what it holds is unknown: the write is refused all the same.
    rewrite = migrator("rewrite", tree)
    assert rewrite.returncode == 1 and "nothing written" in rewrite.stderr, rewrite.stdout + rewrite.stderr
    assert (tree / "arch" / "a.c").read_bytes() == USE and (elsewhere / "b.c").read_bytes() == USE


def test_a_directory_link_inside_the_tree_is_no_skip(tree):
    (tree / "arch2").symlink_to("arch")
    run = migrator("scan", "--mode", "kernel", tree)
    assert run.returncode == 0, run.stdout
    assert run.stdout.count("a.c:3:17:") == 1 and "arch2" not in run.stdout  # once, where it is
    rewrite = migrator("rewrite", tree)
    assert rewrite.returncode == 0, rewrite.stdout + rewrite.stderr
    assert b"mem[MOD_TEXT]" in (tree / "arch" / "a.c").read_bytes()


@pytest.mark.parametrize("code, kind", [
    (b"void f(struct module *mod)\n{\n\tp = mod->core_\\\nlayout.base;\n}\n", "split by a backslash-newline"),
    (b"#define TEXT_OF(m) ((m)->core_layout.base)\n", "could not read"),
    (b"void f(struct module *mod)\n{\n\tmod->\n#if A\ncore_layout.base = 0;\n#endif\n}\n", "could not read"),
])
def test_uses_the_parser_cannot_see_are_sites_left_with_the_reason(tree, code, kind):
    (tree / "arch" / "a.c").write_bytes(code)
    run = migrator("scan", "--mode", "kernel", tree)
    assert run.returncode == 1, run.stdout
    assert "1 site in 1 file" in run.stdout and "undecided (1 of them where the parser could not read)" in run.stdout
    rewrite = migrator("rewrite", "--mode", "kernel", "--dry-run", tree)
    assert rewrite.returncode == 1
    assert "arch/a.c" in rewrite.stderr and kind in rewrite.stderr
    assert (tree / "arch" / "a.c").read_bytes() == code


def test_names_in_strings_and_other_identifiers_are_no_uses(tree):
    (tree / "arch" / "a.c").write_bytes(
        b'static const char *s = "core_layout";\nint init_layout;\n#include "data_layout.h"\n')
    run = migrator("scan", "--mode", "kernel", tree)
    assert run.returncode == 0 and "0 sites in 0 files" in run.stdout, run.stdout


def test_the_workers_find_what_one_process_finds(tmp_path):
    """A tree big enough for worker processes gives the same files and reasons as one process."""
    from migrator.parse.tree import _PARTS_FOR_WORKERS, _parts, candidate_paths

    use = b"void f(struct module *m) { g(m->core_layout.base); }\n"
    for i in range(12):
        d = tmp_path / f"d{i}" / "sub" / "deep"
        d.mkdir(parents=True)
        (d / "a.c").write_bytes(use if i % 3 == 0 else b"int x;\n")
        (tmp_path / f"d{i}" / "top.h").write_bytes(use if i % 4 == 0 else b"\n")
    os.mkfifo(tmp_path / "d1" / "pipe.c")
    (tmp_path / "d2" / "gone.c").symlink_to(tmp_path / "nowhere.c")
    # The same file reached through a link from another part: listed once, under its own path.
    (tmp_path / "d5" / "again.c").symlink_to(tmp_path / "d0" / "sub" / "deep" / "a.c")
    (tmp_path / "root.c").write_bytes(use)
    assert len(_parts(str(tmp_path))) >= _PARTS_FOR_WORKERS
    one = candidate_paths(str(tmp_path), rb"\bcore_layout\b", b"_layout", jobs=1)
    two = candidate_paths(str(tmp_path), rb"\bcore_layout\b", b"_layout", jobs=2)
    assert two == one
    assert [p for p, why in one if why is None] == [
        "d0/sub/deep/a.c", "d0/top.h", "d3/sub/deep/a.c", "d4/top.h", "d6/sub/deep/a.c",
        "d8/top.h", "d9/sub/deep/a.c", "root.c"]
    assert {p for p, why in one if why is not None} == {"d1/pipe.c", "d2/gone.c"}
