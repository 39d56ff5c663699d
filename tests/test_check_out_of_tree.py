"""migrator check on out-of-tree code: each kernel's headers, the branches it compiles, meaning.

The kernels are Debian's linux-headers packages of both sides of v6.4
(6.1 and 6.12 cloud-amd64), as `make -C KDIR M=...` would use them.
"""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO
from test_check_cli import assert_one_line_error

from migrator.migration import load_migration
from migrator.verify import kernel as _kernel
from migrator.verify.branches import Facts, evaluate, line_states

# The module-memory pack's words: its header and struct say a kernel's side.
VOCABULARY = load_migration().vocabulary
SIDES = VOCABULARY.sides


def read_kernel(kdir: str):
    return _kernel.read_kernel(kdir, VOCABULARY)

FIXTURE = REPO / "tests" / "fixtures" / "out-of-tree" / "textsum"
GUARD = "LINUX_VERSION_CODE >= KERNEL_VERSION(6, 4, 0) || defined(mod_mem_type_is_init)"


@pytest.fixture(scope="session")
def old_kernel(kernel_headers) -> Path:
    return kernel_headers["6.1"]


@pytest.fixture(scope="session")
def new_kernel(kernel_headers) -> Path:
    return kernel_headers["6.12"]


def migrator(*args):
    return subprocess.run([sys.executable, "-m", "migrator", *map(str, args)],
                          capture_output=True, text=True, cwd=REPO)


def trees(tmp_path, edit=None):
    original = tmp_path / "original"
    rewritten = tmp_path / "rewritten"
    shutil.copytree(FIXTURE / "original", original)
    shutil.copytree(FIXTURE / "rewritten", rewritten)
    if edit is not None:
        path = rewritten / "textsum.c"
        text = path.read_text()
        changed = edit(text)
        assert changed != text, "the mutation must change the fixture"
        path.write_text(changed)
    return original, rewritten


def check(rewritten, original, old_kernel, new_kernel, *extra):
    return migrator("check", rewritten, "--original", original, "--kernel", old_kernel,
                    "--kernel", new_kernel, "--probes", "synthetic", *extra)


def violations(run):
    return [line for line in run.stdout.splitlines() if re.match(r"^\S+:\d+:\d+: ", line)]


def test_the_guard_is_false_on_6_1_and_true_on_6_12(old_kernel, new_kernel):
    old, new = read_kernel(str(old_kernel)), read_kernel(str(new_kernel))
    assert not old.has_change and new.has_change
    assert evaluate("if", GUARD, Facts.of(old, SIDES, (old, new))) is False
    assert evaluate("if", GUARD, Facts.of(new, SIDES, (old, new))) is True
    # A project's own probe has no value for either kernel, and decides nothing.
    assert evaluate("ifdef", "STAPCONF_MODULE_LAYOUT", Facts.of(old, SIDES, (old, new))) is None
    assert evaluate("if", "LINUX_VERSION_CODE >= KERNEL_VERSION(4, 5, 0) && defined(STAPCONF_X)",
                    Facts.of(new, SIDES, (old, new))) is None
    assert evaluate("if", "LINUX_VERSION_CODE < KERNEL_VERSION(2, 6, 11) && defined(STAPCONF_X)",
                    Facts.of(new, SIDES, (old, new))) is False


def test_each_kernel_compiles_its_own_branch(old_kernel, new_kernel):
    old, new = read_kernel(str(old_kernel)), read_kernel(str(new_kernel))
    data = (FIXTURE / "rewritten" / "textsum.c").read_bytes()
    rows = data.decode().splitlines()
    new_row = rows.index("\tconst u8 *p = THIS_MODULE->mem[MOD_TEXT].base;")
    old_row = rows.index("\tconst u8 *p = THIS_MODULE->core_layout.base;")
    for kernel, compiled, skipped in ((old, old_row, new_row), (new, new_row, old_row)):
        states = line_states(data, Facts.of(kernel, SIDES, (old, new)))
        assert states[compiled] is True and states[skipped] is False


def test_a_rewrite_that_builds_on_both_sides_and_means_the_same_passes(
        tmp_path, old_kernel, new_kernel):
    original, rewritten = trees(tmp_path)
    run = check(rewritten, original, old_kernel, new_kernel)
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.splitlines()[0] == "mode: out-of-tree, against 2 kernels"
    assert "0 violations" in run.stdout and violations(run) == []
    judged = re.search(r"meaning: (\d+) rewritten expressions: (\d+) judged", run.stdout)
    assert judged and int(judged.group(2)) >= 2, run.stdout


def test_new_code_outside_a_guard_fails_on_6_1_only(tmp_path, old_kernel, new_kernel):
    # The hash loop's guard dropped: 6.1 now compiles mem[MOD_TEXT].
    def unguard(text):
        head, rest = text.split("static u32 textsum_hash(void)\n{\n", 1)
        new, _old = rest.split("#else\n", 1)
        body = new.split("\n", 1)[1]
        return head + "static u32 textsum_hash(void)\n{\n" + body + _old.split("#endif\n", 1)[1]

    original, rewritten = trees(tmp_path, unguard)
    run = check(rewritten, original, old_kernel, new_kernel)
    assert run.returncode == 1, run.stdout + run.stderr
    found = violations(run)
    assert found and all("kernel-name: 6.1." in v for v in found), found
    assert any(re.match(r"textsum\.c:27:\d+: kernel-name: .*lacks `MOD_TEXT`", v) for v in found)
    assert any("lacks `mem` (member of struct module)" in v for v in found)


def test_old_code_left_unguarded_fails_on_6_12_only(tmp_path, old_kernel, new_kernel):
    # A #define body left on core_layout (runtime/linux/alloc.c's shape).
    def leave(text):
        return text.replace("#endif\n\nstatic bool", "#endif\n#define TEXTSUM_OLD_SIZE "
                            "(THIS_MODULE->core_layout.size)\n\nstatic bool", 1)

    original, rewritten = trees(tmp_path, leave)
    run = check(rewritten, original, old_kernel, new_kernel)
    assert run.returncode == 1, run.stdout + run.stderr
    found = violations(run)
    assert len(found) == 1, found
    assert re.match(r"textsum\.c:17:\d+: kernel-name: 6\.12\..* lacks `core_layout`", found[0])


def test_a_project_probe_gives_notes_not_violations(tmp_path, old_kernel, new_kernel):
    # systemtap's shape: #ifdef STAPCONF_... decides, which only its own configure knows.
    def probe(text):
        return text.replace("#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 4, 0) || "
                            "defined(mod_mem_type_is_init)\n\tconst u8",
                            "#ifndef STAPCONF_MODULE_LAYOUT\n\tconst u8", 1)

    original, rewritten = trees(tmp_path, probe)
    run = check(rewritten, original, old_kernel, new_kernel, "-v")
    assert run.returncode == 0, run.stdout + run.stderr
    assert re.search(r"kernel 6\.1\.\S+ .*0 names it lacks on lines it compiles, "
                     r"[1-9]\d* under conditions it cannot evaluate", run.stdout), run.stdout
    assert re.search(r"textsum\.c:28: `MOD_TEXT`: not judged: 6\.1\.\S+ \(\S+\) lacks it, and "
                     r"compiles this line only if `#ifndef STAPCONF_MODULE_LAYOUT` holds", run.stdout)


def test_a_narrowed_range_test_fails_by_meaning(tmp_path, old_kernel, new_kernel):
    original, rewritten = trees(tmp_path, lambda t: t.replace(
        "within_module_core(addr, mod)", "within_module_mem_type(addr, mod, MOD_TEXT)"))
    run = check(rewritten, original, old_kernel, new_kernel)
    assert run.returncode == 1, run.stdout + run.stderr
    # Named on 6.1 (which lacks the helper) and judged on real addresses.
    assert [v.split(": ")[0:2] for v in violations(run) if "predicate-agrees" in v] == \
        [["textsum.c:22:9", "predicate-agrees"]]


def test_one_kernel_checks_names_and_says_meaning_was_not_judged(tmp_path, new_kernel):
    original, rewritten = trees(tmp_path)
    run = migrator("check", rewritten, "--original", original, "--kernel", new_kernel)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "meaning: not judged: it needs a kernel before v6.4 and one after it" in run.stdout


def test_out_of_tree_code_without_a_kernel_is_refused(tmp_path):
    original, rewritten = trees(tmp_path)
    assert_one_line_error(migrator("check", rewritten, "--original", original),
                          "no such file: not a kernel tree", "--kernel")


def test_a_kernel_directory_without_headers_is_refused(tmp_path):
    original, rewritten = trees(tmp_path)
    empty = tmp_path / "kdir"
    (empty / "include" / "linux").mkdir(parents=True)
    assert_one_line_error(migrator("check", rewritten, "--original", original, "--kernel", empty),
                          "include/linux/module.h", "include/generated")


def test_a_build_directory_without_its_source_is_refused(tmp_path, old_kernel):
    original, rewritten = trees(tmp_path)
    build = tmp_path / "build"
    shutil.copytree(old_kernel / "include" / "generated", build / "include" / "generated")
    (build / "Makefile").write_text("include /nonexistent/linux-headers-common/Makefile\n")
    assert_one_line_error(migrator("check", rewritten, "--original", original, "--kernel", build),
                          "build directory", "source tree")


def test_a_helper_the_project_defines_itself_is_not_missing(tmp_path, old_kernel, new_kernel):
    # A compat helper for old kernels, the way DKMS packages carry them.
    def compat(text):
        helper = ("#ifndef mod_mem_type_is_init\n"
                  "static inline bool within_module_mem_type(unsigned long addr,\n"
                  "\t\t\t\t\t  const struct module *mod, int type)\n"
                  "{\n\treturn within_module_core(addr, mod);\n}\n#endif\n\n")
        text = text.replace("static bool textsum_in_core", helper + "static bool textsum_in_core", 1)
        return text.replace("within_module_core(addr, mod);\n}\n\nstatic u32",
                            "within_module_mem_type(addr, mod, 0);\n}\n\nstatic u32", 1)

    original, rewritten = trees(tmp_path, compat)
    run = check(rewritten, original, old_kernel, new_kernel)
    assert re.search(r"kernel 6\.1\.\S+ .*; 0 names it lacks", run.stdout), run.stdout
    assert not [v for v in violations(run) if "kernel-name" in v], run.stdout
    # Type 0 is MOD_TEXT on 6.12: the helper's call now tests text only, and meaning says so.
    assert [v.split(": ")[1] for v in violations(run)] == ["predicate-agrees"]


def _rewrite_copy(source: Path, dest: Path) -> Path:
    shutil.copytree(source, dest)
    run = migrator("rewrite", dest)
    assert run.returncode == 0, run.stdout + run.stderr
    return dest


def test_the_rewritten_corpus_builds_on_both_sides_and_means_the_same(
        tmp_path, old_kernel, new_kernel):
    corpus = REPO / "corpus" / "out-of-tree"
    rewritten = _rewrite_copy(corpus, tmp_path / "corpus")
    run = check(rewritten, corpus, old_kernel, new_kernel, "-v")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "0 names it lacks on lines it compiles, 0 under conditions" in run.stdout
    # Every scenario's file is read; every rewritten address test and address is judged.
    scenarios = [d for d in corpus.iterdir() if d.is_dir()]
    assert f"{len(scenarios)} files checked" in run.stdout, run.stdout
    m = re.search(r"meaning: (\d+) rewritten expressions?: (\d+) judged .* (\d+) not judged",
                  run.stdout)
    assert m and int(m.group(1)) >= len(scenarios) - 1 and m.group(1) == m.group(2), run.stdout
    # supports-both changes only its #if (version-only-guard): its branches are its
    # author's own, which the meaning check does not pair up, and says so.
    not_judged = [line for line in run.stdout.splitlines() if ": not judged: " in line]
    assert m.group(3) == str(len(not_judged)) == "1", run.stdout
    assert not_judged[0].startswith("supports-both/fipskm.c:"), not_judged


def test_rewritten_systemtap_builds_on_both_sides(tmp_path, systemtap_tree, old_kernel,
                                                   new_kernel):
    rewritten = _rewrite_copy(systemtap_tree, tmp_path / "systemtap")
    run = check(rewritten, systemtap_tree, old_kernel, new_kernel, "-v")
    assert run.returncode == 0, run.stdout + run.stderr
    # Its new code sits before `#elif defined(STAPCONF_MODULE_LAYOUT)`: each kernel's
    # branch is decided, so nothing hangs on systemtap's own probes.
    assert run.stdout.count("0 names it lacks on lines it compiles, 0 under conditions") == 2
    assert ": not judged: " not in run.stdout, run.stdout
    for name in ("runtime/linux/alloc.c", "runtime/linux/print.c",
                 "runtime/transport/symbols.c", "tapset/linux/context.stp"):
        assert name in _checked_files(rewritten, systemtap_tree, old_kernel, new_kernel)


def _checked_files(rewritten, original, old_kernel, new_kernel):
    check_out_of_tree = load_migration().model("out_of_tree").check_out_of_tree
    synthetic_probe_sets = load_migration().model("probes").synthetic_probe_sets

    kernels = (read_kernel(str(old_kernel)), read_kernel(str(new_kernel)))
    return check_out_of_tree(str(rewritten), str(original), kernels, synthetic_probe_sets).files
