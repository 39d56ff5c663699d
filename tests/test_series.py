"""migrator rewrite --series on small git trees made here: layout, words, refusals."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from migrator.cli import cli
from migrator.migration import load_migration
from migrator.series.prefixes import profile_table, subject_lead
from migrator.series.text import fill

ARM64 = b"""\
// SPDX-License-Identifier: GPL-2.0-only
#include <linux/module.h>

static bool in_init(const struct module *mod, void *loc)
{
\treturn (u64)loc - (u64)mod->init_layout.base < mod->init_layout.size;
}
"""

PARISC = b"""\
// SPDX-License-Identifier: GPL-2.0-or-later
#include <linux/module.h>

static inline int in_core(struct module *me, void *loc)
{
\treturn (loc >= me->core_layout.base &&
\t\tloc <= (me->core_layout.base + me->core_layout.size));
}
"""

S390 = b"""\
// SPDX-License-Identifier: GPL-2.0+
#include <linux/module.h>

static void *plt_base(struct module *me)
{
\treturn me->core_layout.base + me->arch.plt_offset;
}
"""

SIGNOFF = "Jane Hacker <jane@example.org>"


def git(cwd, *args, env=None) -> str:
    run = subprocess.run(["git", "-C", str(cwd), *args], capture_output=True, text=True,
                         env={**os.environ, **(env or {})})
    assert run.returncode == 0, run.stderr
    return run.stdout


@pytest.fixture(autouse=True)
def isolated_git(tmp_path_factory, monkeypatch):
    """No identity or settings from the machine's git config."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("MIGRATOR_CACHE", str(home / "cache"))
    for var in ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL",
                "GIT_AUTHOR_DATE", "GIT_COMMITTER_DATE", "GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE"):
        monkeypatch.delenv(var, raising=False)


def make_tree(path: Path, files: dict[str, bytes], history: list[tuple[str, str]] = ()) -> Path:
    """A git tree: optional earlier commits (path, subject), then files as one commit."""
    path.mkdir(parents=True)
    git(path, "init", "-q", "-b", "main")
    git(path, "config", "user.name", "Tree Owner")
    git(path, "config", "user.email", "owner@example.org")
    env = {"GIT_AUTHOR_DATE": "1600000000 +0000", "GIT_COMMITTER_DATE": "1600000000 +0000"}
    for i, (file, subject) in enumerate(history):
        target = path / file
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(b"/* earlier */\n" * (i + 1))
        git(path, "add", file)
        git(path, "commit", "-q", "-m", subject, env=env)
    for name, data in files.items():
        target = path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    git(path, "add", "-f", ".")
    env = {"GIT_AUTHOR_DATE": "1700000000 +0100", "GIT_COMMITTER_DATE": "1700000000 +0100"}
    git(path, "commit", "-q", "-m", "Import the tree", env=env)
    return path


@pytest.fixture
def tree(tmp_path) -> Path:
    return make_tree(tmp_path / "linux", {"arch/arm64/kernel/module-plts.c": ARM64,
                                          "arch/parisc/kernel/module.c": PARISC,
                                          "arch/s390/kernel/module.c": S390})


def rewrite(*args) -> tuple[int, str]:
    # These trees hold a few kernel files but no top Makefile: they are kernel code.
    mode = () if "--mode" in args else ("--mode", "kernel")
    result = CliRunner().invoke(cli, ["rewrite", *map(str, args), *mode])
    return result.exit_code, result.output


def series(out: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(out.iterdir())}


def state(repo: Path) -> tuple:
    """Everything a series must leave as it was: HEAD, refs, index, status, files."""
    return (git(repo, "rev-parse", "HEAD"), git(repo, "symbolic-ref", "-q", "HEAD"),
            git(repo, "for-each-ref"), (repo / ".git" / "index").read_bytes(),
            git(repo, "status", "--porcelain", "--ignored"),
            {p: (repo / p).read_bytes() for p in git(repo, "ls-files").split()})


def subject_of(patch: bytes) -> str:
    m = re.search(rb"^Subject: (.*(?:\n .*)*)", patch, re.M)
    return re.sub(r"\s*\n\s+", " ", m.group(1).decode())


# ------------------------------------------------------------ the series

def test_preparation_patches_per_arch_then_the_flag_day(tree, tmp_path):
    code, out = rewrite(tree, "--series", tmp_path / "out", "--signoff", SIGNOFF)
    assert code == 0, out
    files = series(tmp_path / "out")
    assert list(files) == [
        "0000-cover-letter.patch",
        "0001-arm64-module-use-within_module_init.patch",
        "0002-parisc-module-use-within_module_core.patch",
        "0003-module-replace-module_layout-with-module_memory.patch",
    ]
    subjects = [subject_of(d) for d in files.values()]
    assert subjects == [
        "[PATCH 0/3] module: replace module_layout with module_memory",
        "[PATCH 1/3] arm64: module: use within_module_init()",
        "[PATCH 2/3] parisc: module: use within_module_core()",
        "[PATCH 3/3] module: replace module_layout with module_memory",
    ]
    arm64, parisc, flag_day = list(files.values())[1:]
    assert b"arch/arm64/kernel/module-plts.c | 2 +-" in arm64
    assert b"parisc" not in arm64.split(b"\n---\n")[1] and b"s390" not in arm64
    # The flag day changes what the preparation did not: s390 only here.
    assert b"diff --git a/arch/s390/kernel/module.c" in flag_day
    assert b"diff --git a/arch/arm64" not in flag_day and b"diff --git a/arch/parisc" not in flag_day
    # The tree itself is as it was.
    assert (tree / "arch/s390/kernel/module.c").read_bytes() == S390


def test_every_patch_is_in_format_patch_form(tree, tmp_path):
    rewrite(tree, "--series", tmp_path / "out", "--signoff", SIGNOFF)
    files = series(tmp_path / "out")
    for name, data in files.items():
        text = data.decode()
        assert re.match(r"From [0-9a-f]{40} Mon Sep 17 00:00:00 2001\n", text), name
        assert f"\nFrom: {SIGNOFF}\n" in text
        assert re.search(r"^Date: \w{3}, \d+ \w{3} \d{4} \d\d:\d\d:\d\d [+-]\d{4}$", text, re.M)
        if name.startswith("0000"):
            head = git(tree, "rev-parse", "HEAD").strip()
            assert f"\nbase-commit: {head}\n" in text
            continue
        body, _, diff = text.partition("\n---\n")
        assert body.rstrip().endswith(f"Signed-off-by: {SIGNOFF}")
        assert re.search(r"^ \d+ files? changed", diff, re.M), name  # the diffstat
        assert "\ndiff --git a/" in diff
        assert "Generated by: migrator" in body


def test_bodies_explain_the_mapping_from_the_rule_descriptions(tree, tmp_path):
    from migrator.match import load_rule_book

    rules = {r.id: r for r in load_rule_book().all_rules()}
    rewrite(tree, "--series", tmp_path / "out", "--signoff", SIGNOFF)
    files = list(series(tmp_path / "out").values())
    arm64, flag_day = files[1].decode(), files[3].decode()

    def words(text):
        return " ".join(text.split())

    desc = rules["layout-offset-range-test"].description.strip().splitlines()[1:]
    assert words(" ".join(desc)) in words(arm64)
    assert "layout-offset-range-test" in arm64
    assert rules["core-layout-base"].summary in words(flag_day)
    # Wrapped for a commit message.
    for data in files[1:]:
        message = data.decode().split("\n---\n")[0].split("\n\n", 1)[1]
        assert max(len(line) for line in message.splitlines()) <= 75


def test_same_input_gives_the_same_bytes_and_leaves_the_repo_alone(tree, tmp_path):
    before = state(tree)
    for out in ("a", "b"):
        code, output = rewrite(tree, "--series", tmp_path / out, "--signoff", SIGNOFF)
        assert code == 0, output
    assert series(tmp_path / "a") == series(tmp_path / "b")
    assert state(tree) == before


def test_dates_come_from_the_base_commit_or_date(tree, tmp_path):
    rewrite(tree, "--series", tmp_path / "a", "--signoff", SIGNOFF)
    files = list(series(tmp_path / "a").values())
    assert b"\nDate: Tue, 14 Nov 2023 23:13:20 +0100\n" in files[0]  # the base commit's
    assert b"\nDate: Tue, 14 Nov 2023 23:13:21 +0100\n" in files[1]  # a second later per patch
    rewrite(tree, "--series", tmp_path / "b", "--signoff", SIGNOFF, "--date", "2023-04-24T12:00:00+02:00")
    files = list(series(tmp_path / "b").values())
    assert b"\nDate: Mon, 24 Apr 2023 12:00:00 +0200\n" in files[0]
    code, out = rewrite(tree, "--series", tmp_path / "c", "--date", "next tuesday")
    assert code == 2 and "--date" in out and not (tmp_path / "c").exists()


def test_signoff_from_git_config(tree, tmp_path):
    code, out = rewrite(tree, "--series", tmp_path / "out")
    assert code == 0, out
    patch = list(series(tmp_path / "out").values())[1]
    assert b"\nFrom: Tree Owner <owner@example.org>\n" in patch
    assert b"\nSigned-off-by: Tree Owner <owner@example.org>\n" in patch


def test_atomic_split_is_one_patch(tree, tmp_path):
    code, out = rewrite(tree, "--series", tmp_path / "out", "--split", "atomic", "--signoff", SIGNOFF)
    assert code == 0, out
    files = series(tmp_path / "out")
    assert list(files) == ["0000-cover-letter.patch",
                           "0001-module-replace-module_layout-with-module_memory.patch"]
    patch = files["0001-module-replace-module_layout-with-module_memory.patch"]
    assert subject_of(patch) == "[PATCH 1/1] module: replace module_layout with module_memory"
    for path in ("arch/arm64/kernel/module-plts.c", "arch/parisc/kernel/module.c", "arch/s390/kernel/module.c"):
        assert f"diff --git a/{path}".encode() in patch
    assert b"at once" in patch


def test_the_series_ends_where_the_in_place_rewrite_does(tree, tmp_path):
    """git am of the series on a clone gives the bytes `migrator rewrite` writes."""
    rewrite(tree, "--series", tmp_path / "out", "--signoff", SIGNOFF)
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(tree), str(clone))
    patches = sorted(str(p) for p in (tmp_path / "out").iterdir() if not p.name.startswith("0000"))
    git(clone, "-c", "user.name=T", "-c", "user.email=t@example.org", "am", "-q", "--keep-cr", *patches)
    code, out = rewrite(tree, "--mode", "kernel")  # in place
    assert code == 0, out
    for path in ("arch/arm64/kernel/module-plts.c", "arch/parisc/kernel/module.c", "arch/s390/kernel/module.c"):
        assert (clone / path).read_bytes() == (tree / path).read_bytes()
    assert (clone / "arch/s390/kernel/module.c").read_bytes() != S390


def test_apply_advances_the_branch(tree, tmp_path):
    head = git(tree, "rev-parse", "HEAD").strip()
    code, out = rewrite(tree, "--series", tmp_path / "out", "--signoff", SIGNOFF, "--apply")
    assert code == 0, out
    assert git(tree, "rev-parse", "HEAD~3").strip() == head
    assert git(tree, "symbolic-ref", "HEAD").strip() == "refs/heads/main"
    assert git(tree, "status", "--porcelain") == ""
    assert b"within_module_init((unsigned long)loc, mod)" in (tree / "arch/arm64/kernel/module-plts.c").read_bytes()
    log = git(tree, "log", "--format=%s", "-3").splitlines()
    assert log[0] == "module: replace module_layout with module_memory"


def test_subject_prefixes_come_from_history_first(tmp_path):
    tree = make_tree(tmp_path / "linux", {"arch/arm64/kernel/module-plts.c": ARM64,
                                          "arch/s390/kernel/module.c": S390},
                     history=[("arch/arm64/kernel/module-plts.c", "arm64: module-plts: one"),
                              ("arch/arm64/kernel/module-plts.c", "treewide: sweep"),
                              ("arch/arm64/kernel/module-plts.c", "arm64: module-plts: two"),
                              ("arch/arm64/kernel/module-plts.c", "arm64: kaslr: three")])
    rewrite(tree, "--series", tmp_path / "a", "--signoff", SIGNOFF)
    assert "0001-arm64-module-plts-use-within_module_init.patch" in series(tmp_path / "a")
    rewrite(tree, "--series", tmp_path / "b", "--signoff", SIGNOFF, "--prefixes", "table")
    assert "0001-arm64-module-use-within_module_init.patch" in series(tmp_path / "b")


def test_cover_letter_reports_what_is_left_and_the_verdict(tmp_path):
    left = b"""\
#include <linux/module.h>

static bool below_end(struct module *mod, unsigned long off)
{
\treturn off < mod->core_layout.size;
}
"""
    tree = make_tree(tmp_path / "linux", {"arch/s390/kernel/module.c": S390,
                                          "drivers/misc/sizes.c": left})
    verdict = tmp_path / "verdict.txt"
    verdict.write_text("every placement kept: 12 modules, 0 differences\n")
    code, out = rewrite(tree, "--series", tmp_path / "out", "--signoff", SIGNOFF, "--verdict", verdict)
    assert code == 0, out
    cover = series(tmp_path / "out")["0000-cover-letter.patch"].decode()
    assert "every placement kept: 12 modules, 0 differences" in cover
    assert "drivers/misc/sizes.c: 1" in cover  # left, with its reason above it
    assert "drivers/misc/sizes.c still uses the old layouts" in cover
    assert "arch/s390/kernel/module.c" in cover and "core-layout-base" in cover
    assert "checkpatch.pl:" in cover and "not run: no scripts/checkpatch.pl" in cover


# ------------------------------------------------------------ refusals

def refused(args, expect: str, tmp_path) -> None:
    code, out = rewrite(*args)
    assert code == 2, out
    lines = out.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("migrator: "), out
    assert expect in out


def test_refuses_a_tree_outside_git(tmp_path):
    plain = tmp_path / "plain"
    (plain / "arch/s390/kernel").mkdir(parents=True)
    (plain / "arch/s390/kernel/module.c").write_bytes(S390)
    refused([plain, "--series", tmp_path / "out", "--signoff", SIGNOFF], "not a git repository", tmp_path)
    assert not (tmp_path / "out").exists()


def test_refuses_a_dirty_tree_and_changes_nothing(tree, tmp_path):
    (tree / "arch/s390/kernel/module.c").write_bytes(S390 + b"/* local change */\n")
    before = state(tree)
    refused([tree, "--series", tmp_path / "out", "--signoff", SIGNOFF],
            "arch/s390/kernel/module.c: uncommitted changes", tmp_path)
    assert state(tree) == before and not (tmp_path / "out").exists()
    # --force does not override it: the series would not be the tree's.
    refused([tree, "--series", tmp_path / "out", "--signoff", SIGNOFF, "--force"], "uncommitted", tmp_path)


def test_a_part_not_read_refuses_the_series(tree, tmp_path):
    """A committed link out of the tree is never followed: the series would miss its uses."""
    outside = tmp_path / "elsewhere.c"
    outside.write_bytes(S390)
    (tree / "arch/s390/kernel/extra.c").symlink_to(outside)
    git(tree, "add", "arch/s390/kernel/extra.c")
    git(tree, "commit", "-q", "-m", "link")
    code, out = rewrite(tree, "--series", tmp_path / "out", "--signoff", SIGNOFF)
    assert code == 1, out
    assert "arch/s390/kernel/extra.c: a link to a file outside the tree" in out
    assert out.strip().splitlines()[-1].startswith("migrator: nothing written: 1 part of the tree")
    assert not (tmp_path / "out").exists()
    code, out = rewrite(tree, "--series", tmp_path / "out", "--signoff", SIGNOFF, "--allow-unread")
    assert code == 1 and len(list((tmp_path / "out").glob("*.patch"))) > 1, out


def test_a_dirty_file_the_series_does_not_read_is_fine(tree, tmp_path):
    (tree / "README").write_text("notes\n")
    code, out = rewrite(tree, "--series", tmp_path / "out", "--signoff", SIGNOFF)
    assert code == 0, out


def test_refuses_an_output_folder_with_patches_unless_force(tree, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "0001-old.patch").write_text("old\n")
    refused([tree, "--series", out, "--signoff", SIGNOFF], "already holds 1 patch files", tmp_path)
    assert [p.name for p in out.iterdir()] == ["0001-old.patch"]
    code, output = rewrite(tree, "--series", out, "--signoff", SIGNOFF, "--force")
    assert code == 0, output
    assert "0001-old.patch" not in [p.name for p in out.iterdir()]


def test_refuses_apply_on_a_detached_head(tree, tmp_path):
    git(tree, "checkout", "-q", "--detach")
    refused([tree, "--series", tmp_path / "out", "--signoff", SIGNOFF, "--apply"], "detached", tmp_path)
    # Without --apply a detached HEAD is a fine base.
    code, out = rewrite(tree, "--series", tmp_path / "out", "--signoff", SIGNOFF)
    assert code == 0, out


def test_refuses_a_shallow_clone_for_history_prefixes(tree, tmp_path):
    git(tree, "commit", "-q", "--allow-empty", "-m", "second")
    shallow = tmp_path / "shallow"
    git(tmp_path, "clone", "-q", "--depth", "1", f"file://{tree}", str(shallow))
    refused([shallow, "--series", tmp_path / "out", "--signoff", SIGNOFF], "shallow clone", tmp_path)
    code, out = rewrite(shallow, "--series", tmp_path / "out", "--signoff", SIGNOFF, "--prefixes", "table")
    assert code == 0, out


def test_refuses_without_an_identity(tree, tmp_path):
    git(tree, "config", "--unset", "user.name")
    git(tree, "config", "--unset", "user.email")
    refused([tree, "--series", tmp_path / "out"], "no identity", tmp_path)
    refused([tree, "--series", tmp_path / "out", "--signoff", "nobody"], "expected 'Name <mail>'", tmp_path)


def test_series_options_need_series(tree, tmp_path):
    refused([tree, "--split", "atomic"], "--split needs --series", tmp_path)
    refused([tree, "--series", tmp_path / "out", "--dry-run"], "exclude each other", tmp_path)


def test_refuses_a_repository_without_commits(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    git(empty, "init", "-q")
    refused([empty, "--series", tmp_path / "out", "--signoff", SIGNOFF], "no commit", tmp_path)


# ------------------------------------------------------------ pieces

def test_subject_leads():
    assert subject_lead("arm64: module: rework module VA range selection") == "arm64: module:"
    assert subject_lead("ARM: 9140/1: module: fix the plt count") == "ARM: module:"
    assert subject_lead("s390/module: fix loading") == "s390/module:"
    assert subject_lead("Linux 6.1.192") is None
    assert subject_lead('Revert "arm64: module: x"') is None


def test_prefix_table_longest_path_wins():
    table = profile_table(load_migration())
    assert table.prefix_for(["arch/powerpc/kernel/module_32.c"]) == "powerpc/module_32:"
    assert table.prefix_for(["arch/powerpc/kernel/module.c"]) == "powerpc/module:"
    assert table.prefix_for(["arch/newarch/kernel/module.c"]) == "newarch: module:"
    assert table.prefix_for(["drivers/misc/x.c"]) == "drivers:"


def test_a_profile_without_prefixes_has_the_fallbacks_alone():
    table = profile_table(load_migration("class-create"))
    assert table.paths == {}
    assert table.prefix_for(["arch/powerpc/kernel/module_32.c"]) == "powerpc: module:"
    assert table.prefix_for(["drivers/misc/x.c"]) == "drivers:"


def test_fill_keeps_code_and_sentence_spacing():
    text = "One sentence.\nAnother one that goes on.\n\n    code(stays);\n"
    assert fill(text, width=72) == "One sentence.  Another one that goes on.\n\n    code(stays);"


def test_verify_series_on_a_small_tree(tree, tmp_path):
    from migrator.series.verify import verify_series

    rewrite(tree, "--series", tmp_path / "out", "--signoff", SIGNOFF)
    result = verify_series(tmp_path / "out", tree, build=False, workdir=tmp_path / "work")
    assert [c.applied for c in result.patches] == [True, True, True]
    assert result.identical is True, result.differences
    assert result.patches[0].touched == ("arch/arm64/kernel/module-plts.c",)
    # No checkpatch.pl in this tree: it is not run, and that is not a pass.
    assert not result.patches[0].checkpatch.ran and not result.ok
    # A patch that no longer applies is reported, not raised.
    patch = next((tmp_path / "out").glob("0003-*"))
    patch.write_bytes(patch.read_bytes().replace(b"me->core_layout.base + me", b"me->core_layout.base - me"))
    result = verify_series(tmp_path / "out", tree, build=False, workdir=tmp_path / "work")
    assert [c.applied for c in result.patches] == [True, True, False]
    assert result.identical is None and not result.ok


def test_a_kernel_tree_inside_a_larger_repository(tmp_path):
    """Paths in the patches are the repository's: git am applies them at its top."""
    repo = make_tree(tmp_path / "work", {"linux/arch/arm64/kernel/module-plts.c": ARM64,
                                         "linux/arch/s390/kernel/module.c": S390,
                                         "notes.txt": b"not kernel code\n"})
    code, out = rewrite(repo / "linux", "--series", tmp_path / "out", "--signoff", SIGNOFF)
    assert code == 0, out
    files = series(tmp_path / "out")
    assert b"diff --git a/linux/arch/arm64/kernel/module-plts.c" in files[
        "0001-arm64-module-use-within_module_init.patch"]
    from migrator.series.verify import verify_series

    result = verify_series(tmp_path / "out", repo / "linux", build=False, workdir=tmp_path / "verify")
    assert result.identical is True, result.differences
    assert result.patches[1].touched == ("arch/s390/kernel/module.c",)


def test_verify_series_prints_a_table(tree, tmp_path):
    rewrite(tree, "--series", tmp_path / "out", "--signoff", SIGNOFF)
    result = CliRunner().invoke(cli, ["verify-series", str(tmp_path / "out"), "--repo", str(tree),
                                      "--no-build", "--workdir", str(tmp_path / "verify")])
    lines = result.output.splitlines()
    assert lines[0].split() == ["patch", "checkpatch", "seconds"]
    assert lines[1].split()[:4] == ["1", "arm64:", "module:", "use"]
    assert "the applied series is byte-identical to the in-place rewrite" in result.output
    # checkpatch.pl is not in this tree: not a pass.
    assert "checkpatch not run" in result.output and result.exit_code == 1
    missing = CliRunner().invoke(cli, ["verify-series", str(tmp_path / "none"), "--repo", str(tree)])
    assert missing.exit_code == 2 and "no such folder" in missing.output


def test_code_left_on_the_old_api_is_named_with_the_targets_it_breaks(tmp_path):
    kdb = b"#include <linux/module.h>\n\nstatic unsigned int whole(struct module *mod)\n{\n" \
          b"\treturn mod->core_layout.size + mod->init_layout.text_size;\n}\n"
    tree = make_tree(tmp_path / "linux", {"arch/s390/kernel/module.c": S390, "kernel/module/kdb.c": kdb})
    code, out = rewrite(tree, "--series", tmp_path / "out", "--signoff", SIGNOFF)
    assert code == 0, out
    files = series(tmp_path / "out")
    cover = " ".join(files["0000-cover-letter.patch"].decode().split())
    assert "kernel/module/kdb.c still uses the old layouts at 2 sites" in cover
    assert "does not compile after patch 1" in cover
    assert "Build target x86_64 (kernel/module/kdb.o) fails until then." in cover
    patch = " ".join(files["0001-module-replace-module_layout-with-module_memory.patch"].decode().split())
    assert "left for a human: - 2 sites in kernel/module/kdb.c" in patch
    assert "every use of the old layouts that a rule maps" in patch


def test_what_each_patch_builds():
    from migrator.build import profile_targets
    from migrator.series.make import default_targets
    from migrator.series.verify import targets_for_patch

    targets = default_targets()
    assert {t.name for t in targets} == {"arm64", "arm", "s390", "powerpc32", "parisc32", "mips", "arc", "x86_64"}
    assert all(all(o.endswith(".o") for o in t.objects) for t in targets)
    assert len(targets) < len(profile_targets(load_migration()))  # whole-kernel targets are left to `migrator build`
    planned, unbuilt = targets_for_patch(targets, ["arch/s390/kernel/module.c", "arch/ia64/kernel/module.c"])
    assert [(t.name, t.objects) for t in planned] == [("s390", ("arch/s390/kernel/module.o",))]
    assert unbuilt == ("arch/ia64/kernel/module.c",)
    planned, _ = targets_for_patch(targets, ["include/linux/module.h", "scripts/gdb/linux/modules.py"])
    assert [t.name for t in planned] == [t.name for t in targets]
    planned, _ = targets_for_patch(targets, ["arch/arm64/include/asm/module.h"])
    assert [t.name for t in planned] == ["arm64"]
    planned, _ = targets_for_patch(targets, ["kernel/module/internal.h"])
    assert [t.name for t in planned] == ["x86_64"]
