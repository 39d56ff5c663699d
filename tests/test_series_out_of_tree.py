"""rewrite --series on out-of-tree code: one patch, in the project's own subject style.

The project is Debian's systemtap-common 4.8 (runtime/ and tapset/), made a
git repository with commits whose subjects follow systemtap's habits: a
folder prefix, sometimes a mail tag or a PR number in front.
"""

import os
import shutil
import subprocess
import sys

import pytest
from conftest import REPO

from migrator.series.prefixes import project_lead
from migrator.migration import load_migration
from migrator.series.text import Texts

FLAG_DAY_SUBJECT = load_migration().vocabulary.series.flag_day_subject

SIGNOFF = "Stap Dev <dev@example.org>"
COMMITS = (
    ("tapset", "tapset: import the linux tapsets of release 4.8"),
    ("runtime/transport", "PR29807: runtime: transport: symbol data for the kernel side"),
    ("runtime/linux", "runtime: linux: allocation and print buffers"),
    (".", "[PATCH] runtime: remaining helpers of release 4.8"),
)


def git(repo, *args, date="2023-01-10T12:00:00+00:00"):
    env = dict(os.environ, GIT_AUTHOR_NAME="Stap Dev", GIT_AUTHOR_EMAIL="dev@example.org",
               GIT_COMMITTER_NAME="Stap Dev", GIT_COMMITTER_EMAIL="dev@example.org",
               GIT_AUTHOR_DATE=date, GIT_COMMITTER_DATE=date)
    return subprocess.run(["git", *args], cwd=repo, env=env, check=True, capture_output=True,
                          text=True).stdout


@pytest.fixture()
def stap_repo(tmp_path, systemtap_tree):
    repo = tmp_path / "systemtap"
    shutil.copytree(systemtap_tree, repo)
    git(repo, "init", "-q")
    for i, (folder, subject) in enumerate(COMMITS):
        git(repo, "add", folder)
        git(repo, "commit", "-qm", subject, date=f"2023-01-1{i}T12:00:00+00:00")
    return repo


def series(repo, out):
    return subprocess.run([sys.executable, "-m", "migrator", "rewrite", repo, "--series", out,
                           "--signoff", SIGNOFF], capture_output=True, text=True, cwd=REPO)


@pytest.mark.parametrize("subject, lead", [
    ("[PATCH] runtime: fix the print buffer", "runtime:"),
    ("PR29807: runtime: transport: symbol data", "runtime: transport:"),
    ("[PATCH v2] PR123: tapset: context", "tapset:"),
    ("Update the NEWS file", None),
])
def test_a_project_lead_drops_mail_tags_and_bug_numbers(subject, lead):
    assert project_lead(subject) == lead


def test_out_of_tree_code_gets_one_patch_in_its_own_style(tmp_path, stap_repo):
    run = series(stap_repo, tmp_path / "out")
    assert run.returncode == 0, run.stdout + run.stderr
    names = sorted(os.listdir(tmp_path / "out"))
    assert len(names) == 1 and not names[0].startswith("0000-"), names
    patch = (tmp_path / "out" / names[0]).read_text()
    subject = next(line for line in patch.splitlines() if line.startswith("Subject: "))
    # The prefix of the newest commit touching print.c; never the kernel's flag-day title.
    assert subject.startswith("Subject: [PATCH] runtime: linux: build on kernels with"), subject
    assert FLAG_DAY_SUBJECT not in patch
    # The date is the base commit's (one second later), the sign-off the one given.
    assert "Date: Fri, 13 Jan 2023 12:00:01 +0000" in patch
    assert f"Signed-off-by: {SIGNOFF}" in patch
    assert run.stdout.splitlines()[0].startswith("mode: out-of-tree")
    # The body says what changed and where, per rule; the guard it adds, on a line of its
    # own; and that systemtap's own probe became the ladder's next rung.
    body = patch.split("\n---\n", 1)[0]
    flat = " ".join(body.split())
    assert "Linux v6.4 replaced struct module_layout" in body
    assert "runtime/linux/print.c" in body and "(rule core-layout-base;" in body
    assert ("\n  #if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 4, 0) || "
            "defined(mod_mem_type_is_init)\n") in body
    assert ("Where the code already tested `#ifdef STAPCONF_MODULE_LAYOUT`, that test is now "
            "the next rung, `#elif defined(STAPCONF_MODULE_LAYOUT)`") in flat
    assert "include <linux/version.h>" in flat
    # The same input gives the same bytes.
    again = series(stap_repo, tmp_path / "again")
    assert again.returncode == 0, again.stderr
    assert (tmp_path / "again" / names[0]).read_bytes() == (tmp_path / "out" / names[0]).read_bytes()
    # The project's tree and branch stay as they were.
    assert git(stap_repo, "status", "--porcelain") == ""


def test_the_body_names_the_guard_the_patch_adds_and_what_was_left():
    from migrator.series.split import FLAG_DAY, FileDiff, Patch

    fixture = REPO / "tests" / "fixtures" / "out-of-tree" / "textsum"
    old = (fixture / "original" / "textsum.c").read_bytes()
    new = (fixture / "rewritten" / "textsum.c").read_bytes()
    # As the guarded emitter writes it: the rewrite also adds <linux/version.h>.
    old = old.replace(b"#include <linux/version.h>\n", b"")
    patch = Patch(FLAG_DAY, "", (FileDiff("textsum.c", old, new,
                                          (("core-layout-base", 1), ("layout-text-size", 1)), ()),))
    left = [{"reason": "a pointer window spans several allocations", "count": 1,
             "files": [("textsum.c", 1)]}]
    msg = Texts(load_migration()).out_of_tree_message(patch, "textsum: build on kernels with struct module_memory (v6.4)",
                              [], signoff=SIGNOFF, left=left, generator="migrator rewrite --series")
    # The guard on a line of its own, as the code has it.
    assert ("2 times:\n\n"
            "  #if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 4, 0) || defined(mod_mem_type_is_init)"
            "\n\nand the old code stays as it was in the other branch.") in msg
    flat = " ".join(msg.split())
    assert "The new code sits under this guard, 2 times:" in flat
    assert "textsum.c now includes <linux/version.h>" in flat
    assert "- 1 site in textsum.c: a pointer window spans several allocations." in flat
    assert msg.endswith(f"Signed-off-by: {SIGNOFF}\n")


def scenario_repo(tmp_path, scenario, subject):
    """A corpus scenario as a small project of one commit."""
    repo = tmp_path / scenario
    shutil.copytree(REPO / "corpus" / "out-of-tree" / scenario, repo)
    git(repo, "init", "-q")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", subject)
    return repo


def the_patch(repo, out):
    """The one patch `rewrite --series` writes for out-of-tree code, and the run."""
    run = series(repo, out)
    assert run.returncode == 0, run.stdout + run.stderr
    [name] = os.listdir(out)
    return (out / name).read_text(), run


def test_a_history_without_prefixes_gives_a_plain_sentence(tmp_path):
    # A corpus scenario as a small project whose subjects name no subsystem.
    repo = scenario_repo(tmp_path, "unguarded-text-hash", "Seal the module's own text at load time")
    git(repo, "commit", "-q", "--allow-empty", "-m", "Print the seal in hex",
        date="2023-02-01T09:30:00+00:00")
    patch, _ = the_patch(repo, tmp_path / "out")
    assert "\nSubject: [PATCH] Build on kernels with struct module_memory (v6.4)\n" in patch
    assert "Date: Wed, 1 Feb 2023 09:30:01 +0000" in patch


def test_a_widened_version_test_is_named_as_such(tmp_path):
    # The supports-both scenario: nothing but its version-only guard changes.
    repo = scenario_repo(tmp_path, "supports-both", "fipskm: power-on self-test over the module's own text")
    patch, run = the_patch(repo, tmp_path / "out")
    assert ("  #if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 4, 0)\n  becomes\n"
            "  #if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 4, 0) || defined(mod_mem_type_is_init)\n") in patch
    flat = " ".join(patch.split())
    assert "Kernels with the change backported (vendor kernels)" in flat
    assert "changes 0 uses" not in flat and "the old code stays as it was" not in flat
    assert "fipskm.c:39:1: version-only-guard (to rewrite): `#if LINUX_VERSION_CODE" in run.stdout


def test_a_series_speaks_the_words_of_the_pack_it_ran(tmp_path):
    """--migration class-create: the patch's subject and body are that pack's, not the default's."""
    repo = tmp_path / "chardev"
    repo.mkdir()
    (repo / "chardev.c").write_text('static int __init chardev_init(void)\n{\n'
                                    '\tcls = class_create(THIS_MODULE, "chardev");\n\treturn 0;\n}\n')
    git(repo, "init", "-q")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "chardev: a character device of its own")
    out = tmp_path / "out"
    run = subprocess.run([sys.executable, "-m", "migrator", "rewrite", "--migration", "class-create", repo,
                          "--series", out, "--signoff", SIGNOFF], capture_output=True, text=True, cwd=REPO)
    assert run.returncode == 0, run.stdout + run.stderr
    [name] = os.listdir(out)
    patch = (out / name).read_text().replace("\n (v6.4)", " (v6.4)")  # git folds a long subject
    summary = load_migration("class-create").vocabulary.series.out_of_tree_summary
    assert f"Subject: [PATCH] chardev: {summary}\n" in patch
    assert "#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 4, 0) || !defined(class_create)\n" in patch
    assert "module_memory" not in patch and "mod_mem" not in patch and 'class_create("chardev")' in patch
