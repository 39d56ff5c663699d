"""The command-line contract on odd input (issue 12, defects 8, 10 and 11):
one line on stderr, the documented exit code, no traceback."""

import os
import subprocess
import sys
import textwrap

import pytest

from conftest import REPO, _cache

USE = b"void f(struct module *mod)\n{\n\tvoid *p = mod->core_layout.base;\n}\n"


def migrator(*args, **kwargs):
    # Scratch trees are no kernel trees: the kernel mode is asked for by name.
    if args and args[0] in ("scan", "rewrite"):
        args = (args[0], "--mode", "kernel", *args[1:])
    return subprocess.run([sys.executable, "-m", "migrator", *map(str, args)], capture_output=True,
                          cwd=REPO, **kwargs)


def one_line(run) -> str:
    err = run.stderr.decode() if isinstance(run.stderr, bytes) else run.stderr
    assert "Traceback" not in err, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("migrator: "), err
    return lines[0]


def git(repo, *args):
    subprocess.run(["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@e", *args],
                   check=True, capture_output=True)


@pytest.fixture
def tree(tmp_path):
    root = tmp_path / "t"
    (root / "arch").mkdir(parents=True)
    (root / "arch" / "a.c").write_bytes(USE)
    return root


def test_a_usage_error_is_one_line():
    run = migrator("scan", "--frobnicate", "x")
    assert run.returncode == 2
    assert "--frobnicate" in one_line(run)


def test_ctrl_c_exits_130():
    code = textwrap.dedent("""
        import migrator.match.scan as scan
        def interrupted(*a, **k):
            raise KeyboardInterrupt
        scan.scan_tree = interrupted
        import migrator.rewrite.plan as plan
        plan.scan_tree = interrupted
        from migrator.cli import main
        main()
    """)
    run = subprocess.run([sys.executable, "-c", code, "scan", "--mode", "kernel", "."], capture_output=True, text=True, cwd=REPO)
    assert run.returncode == 130
    assert one_line(run) == "migrator: interrupted"


def test_dry_run_exits_as_the_real_run_does(tree):
    (tree / "arch" / "b.c").write_bytes(b"#define X(m) ((m)->core_layout.base)\n")
    dry = migrator("rewrite", "--mode", "kernel", "--dry-run", tree)
    real = migrator("rewrite", "--mode", "kernel", "--force", tree)
    assert dry.returncode == real.returncode == 1


def test_the_scan_summary_spells_plurals(tree):
    run = migrator("scan", "--mode", "kernel", tree)
    assert b"0 aliases" in run.stdout and b"aliass" not in run.stdout


def test_a_file_name_that_is_not_utf8_in_a_dry_run(tree):
    name = b"caf\xe9.c"
    os.rename(tree / "arch" / "a.c", os.path.join(os.fsencode(tree / "arch"), name))
    run = migrator("rewrite", "--dry-run", tree)
    assert run.returncode == 0, run.stderr
    assert b"diff --git a/arch/" + name + b" b/arch/" + name in run.stdout
    assert b"Traceback" not in run.stderr


def test_a_file_name_that_is_not_utf8_in_a_series(tree, tmp_path):
    name = b"caf\xe9.c"
    os.rename(tree / "arch" / "a.c", os.path.join(os.fsencode(tree / "arch"), name))
    git(tree, "init", "-q")
    git(tree, "add", "-A")
    git(tree, "commit", "-qm", "tree")
    run = migrator("rewrite", tree, "--series", tmp_path / "series", "--no-checkpatch")
    assert run.returncode == 0, run.stderr
    cover = (tmp_path / "series" / "0000-cover-letter.patch").read_bytes()
    assert b"arch/caf\\xe9.c" in cover


LATIN1_RECEIVER = (b'void f(void)\n{\n\tp = ((struct module *)"\xe9")->core_layout.base;\n'
                   b"\tq = mod->core_layout.base;\n}\n")
UTF8_PREDICATE_RULE = """\
id = "x"
severity = "report"
confidence = "high"
description = "d"
pattern = '(field_expression argument: (_) @recv field: (field_identifier) @f (#match? @recv "zz")) @site'
reason = "r"
"""


def test_sites_of_a_skipped_file_are_counted_as_left(tree, tmp_path):
    """A predicate meeting Latin-1 bytes skips the file: its two sites are still left ones."""
    (tree / "arch" / "a.c").write_bytes(LATIN1_RECEIVER)
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "x.toml").write_text(UTF8_PREDICATE_RULE)
    run = migrator("rewrite", "--dry-run", "--rules", rules, tree)
    err = run.stderr.decode()
    assert run.returncode == 1, err
    assert "2 sites left as they are" in err and "1 file skipped" in err, err
    scan = migrator("scan", "--rules", rules, tree)
    assert scan.returncode == 1 and b"2 sites in 1 file" in scan.stdout, scan.stdout


def test_rules_folder_of_the_project_is_accepted_and_the_help_names_the_default():
    run = migrator("test", "--rules", REPO / "migrations" / "module-memory" / "rules")
    assert run.returncode == 0, run.stderr
    help_text = migrator("scan", "--help").stdout.decode()
    assert "rules/sites" in " ".join(help_text.split())


RULE = """\
id = "x"
severity = "rewrite"
confidence = "high"
description = "d"
pattern = '(field_expression field: (field_identifier) @f (#eq? @f "core_layout")) @site'
fix = "{{ typo }}"
"""


@pytest.mark.parametrize("change, words", [
    ({}, ("field 'fix'", "'typo'")),
    ({"fix = \"{{ typo }}\"": "fix = \"{{ f }}\"", "#eq?": "#frobnicate?"}, ("#frobnicate?",)),
])
def test_rules_are_validated_at_load(tree, tmp_path, change, words):
    rules = tmp_path / "rules"
    rules.mkdir()
    text = RULE
    for old, new in change.items():
        text = text.replace(old, new)
    (rules / "x.toml").write_text(text)
    for command in (("scan", tree), ("rewrite", "--dry-run", tree)):
        run = migrator(*command, "--rules", rules)
        assert run.returncode == 2
        line = one_line(run)
        assert "x.toml" in line and all(w in line for w in words), line


def test_check_names_a_missing_modules_path(tmp_path):
    run = migrator("check", "--modules", tmp_path / "missing")
    assert run.returncode == 2
    assert f"{tmp_path / 'missing'}: no such file or directory" in one_line(run)


def test_check_refuses_an_unknown_arch(tmp_path):
    (tmp_path / "config-6.1").write_text("CONFIG_MODULES=y\n")
    run = migrator("check", "--modules", tmp_path, "--arch", "foo")
    assert run.returncode == 2 and "'foo' is not one of" in one_line(run)


def test_check_fails_when_no_module_could_be_read(tmp_path):
    (tmp_path / "lib" / "modules").mkdir(parents=True)
    (tmp_path / "lib" / "modules" / "a.ko").write_bytes(b"not an ELF file")
    (tmp_path / "boot").mkdir()
    (tmp_path / "boot" / "config-6.1.0-x").write_text("CONFIG_MODULES=y\nCONFIG_STRICT_MODULE_RWX=y\n")
    run = migrator("check", "--modules", tmp_path, "--arch", "amd64")
    assert run.returncode == 1, run.stderr


def _one_real_module(tmp_path):
    from conftest import real_input
    from migrator.verify.packages import iter_package

    deb = real_input(next(iter(sorted((_cache() / "modules" / "amd64").glob("*.deb"))), _cache() / "none.deb"),
                     "the amd64 linux-image package")
    config = module = None
    for name, data in iter_package(deb):
        if name.startswith("boot/config-") and config is None:
            config = (name, data)
        elif name.endswith(".ko.xz") or name.endswith(".ko"):
            module = module or (name, data)
        if config and module:
            break
    return config, module


def test_check_takes_a_dpkg_x_tree_and_a_config_option(tmp_path):
    """A package unpacked with dpkg -x: modules under lib/modules, the config under boot/."""
    (name, config), (ko, data) = _one_real_module(tmp_path)
    unpacked = tmp_path / "unpacked"
    for path, content in ((name, config), (ko, data)):
        (unpacked / path).parent.mkdir(parents=True, exist_ok=True)
        (unpacked / path).write_bytes(content)
    run = migrator("check", "--modules", unpacked, "--arch", "amd64")
    assert run.returncode == 0, run.stderr
    assert b"amd64          1       1" in run.stdout
    os.rename(unpacked / name, tmp_path / "config")
    run = migrator("check", "--modules", unpacked, "--arch", "amd64", "--config", tmp_path / "config")
    assert run.returncode == 0, run.stderr


def _stderr_on_a_terminal(*args) -> str:
    import pty

    master, slave = pty.openpty()
    run = subprocess.run([sys.executable, "-m", "migrator", *map(str, args)], stdout=subprocess.PIPE,
                         stderr=slave, cwd=REPO)
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    assert run.returncode in (0, 1)
    return b"".join(chunks).decode(errors="replace")


def test_long_work_shows_progress_only_on_a_terminal(tmp_path):
    (tmp_path / "a.ko").write_bytes(b"not an ELF file")
    (tmp_path / "config-6.1").write_text("CONFIG_MODULES=y\n")
    args = ("check", "--modules", tmp_path, "--arch", "amd64")
    assert "checking modules" in _stderr_on_a_terminal(*args)
    assert "checking modules" not in _stderr_on_a_terminal(*args, "--quiet")
    assert "checking modules" not in migrator(*args).stderr.decode()


def test_boot_shows_its_steps_only_on_a_terminal(tmp_path):
    # A tree whose kernel fails to configure: boot gets as far as its first step at once.
    tree = tmp_path / "linux"
    (tree / "scripts").mkdir(parents=True)
    (tree / "Makefile").write_text("%:\n\t@echo 'no kernel here' >&2; false\n")
    (tree / "Kconfig").write_text("")
    (tree / "scripts" / "config").write_text("#!/bin/sh\nexit 1\n")
    args = ("boot", tree, "--build-dir", tmp_path / "build")
    shown = _stderr_on_a_terminal(*args)
    assert "boot (x86_64)" in shown and "building the kernel" in shown
    assert "building the kernel" not in _stderr_on_a_terminal(*args, "--quiet")
    run = migrator(*args)
    assert run.returncode == 1 and "building the kernel" not in run.stderr.decode()
    assert b"build failed" in run.stdout and b"| check | linux |" in run.stdout
