"""Out-of-tree mode: modes, the preprocessor's conditionals, every kind of use, guards.

Fixtures are small pieces written in the idioms of out-of-tree module code
(tracers' runtimes, debuggers' readers, DKMS drivers).
"""

import subprocess
from pathlib import Path
import sys

import pytest

from migrator.errors import MigratorError
from migrator.match import load_rules
from migrator.migration import load_migration
from migrator.parse.preproc import evaluate, read_conditionals
from migrator.profile import GUARDS, KERNEL, OUT_OF_TREE, Mode, detect_mode, guard_expression
from migrator.rewrite.plan import load_pack, plan_rewrite


@pytest.mark.parametrize("directive, condition, old, new", [
    ("if", "LINUX_VERSION_CODE >= KERNEL_VERSION(6, 4, 0)", False, True),
    ("if", "LINUX_VERSION_CODE < KERNEL_VERSION(6,4,0)", True, False),
    ("if", "LINUX_VERSION_CODE >= KERNEL_VERSION(4, 5, 0)", True, True),
    ("if", "LINUX_VERSION_CODE >= KERNEL_VERSION(2,6,11)", True, True),
    ("if", "LINUX_VERSION_CODE < KERNEL_VERSION(6, 5, 0)", True, None),  # 6.4+ may be 6.4 or later
    ("if", "defined(CONFIG_KALLSYMS) && LINUX_VERSION_CODE >= KERNEL_VERSION(2,6,11)", None, None),
    ("if", "defined(CONFIG_X) && LINUX_VERSION_CODE < KERNEL_VERSION(6, 4, 0)", None, False),
    ("ifdef", "mod_mem_type_is_init", False, True),
    ("ifndef", "mod_mem_type_is_init", True, False),
    ("ifdef", "STAPCONF_MODULE_LAYOUT", None, None),
    ("if", GUARDS["both"], False, True),
    ("if", "0", False, False),
    ("else", "", True, True),
])
def test_conditions_are_evaluated_for_both_kernels(directive, condition, old, new):
    sides = load_migration().vocabulary.sides  # module-memory's: 6.1 and 6.4+
    assert evaluate(directive, condition, sides.old) is old
    assert evaluate(directive, condition, sides.new) is new


def test_conditionals_are_read_from_lines_even_inside_an_argument_list():
    data = (b"\tpr_info(\"%lx\\n\",\n#ifdef HAVE_LAYOUT /* probe */\n\t\tmod->core_layout.base);\n"
            b"#else\n\t\tmod->module_core);\n#endif\n"
            b"#define WINDOW(m) \\\n\t((m)->core_layout.base)\n")
    conds = read_conditionals(data)
    (block,) = conds.blocks
    assert [b.directive for b in block.branches] == ["ifdef", "else"]
    assert block.branches[0].condition == "HAVE_LAYOUT"
    assert [(b, i) for b, i in conds.enclosing(data.index(b"mod->core_layout"))] == [(block, 0)]
    (define,) = conds.defines
    assert define.name == "WINDOW" and data[define.value_start:define.value_end].strip().endswith(b"base)")


def test_a_kernel_tree_is_told_from_out_of_tree_code(tmp_path):
    assert detect_mode(str(tmp_path))[0] is Mode.OUT_OF_TREE
    (tmp_path / "Makefile").write_text("VERSION = 6\nPATCHLEVEL = 1\nSUBLEVEL = 192\n")
    mode, why = detect_mode(str(tmp_path))
    assert mode is Mode.OUT_OF_TREE and "include/linux/module.h" in why
    (tmp_path / "include/linux").mkdir(parents=True)
    (tmp_path / "include/linux/module.h").write_text("struct module;\n")
    assert detect_mode(str(tmp_path))[0] is Mode.KERNEL


def test_out_of_the_tree_the_region_rules_are_not_loaded():
    # They are written for the kernel's own files; loading them cost an
    # out-of-tree scan a tenth of its time.
    kernel_book, kernel_regions = load_pack(load_migration(), profile=KERNEL)
    book, regions = load_pack(load_migration(), profile=OUT_OF_TREE)
    assert kernel_regions and regions == ()
    assert [r.id for r in book.all_rules()] == [r.id for r in kernel_book.all_rules()]


def test_guards():
    assert guard_expression("probe") == "defined(mod_mem_type_is_init)"
    assert guard_expression(" defined(STAPCONF_MODULE_MEMORY) ") == "defined(STAPCONF_MODULE_MEMORY)"
    with pytest.raises(MigratorError, match="--guard"):
        guard_expression("defined(X")


KINDS = {
    # A tracer's runtime: a #define value, behind its own probe macro.
    "runtime/alloc.c": b"""\
#ifdef HAVE_MODULE_LAYOUT
#define MODULE_FOOTPRINT (THIS_MODULE->core_layout.size)
#else
#define MODULE_FOOTPRINT (THIS_MODULE->core_size)
#endif
""",
    # A tapset's embedded C.
    "tapset/mod.stp": b"""\
function text_kb:long() %{ /* pure */
\tSTAP_RETVALUE = THIS_MODULE->core_layout.text_size / 1024;
%}
""",
    # A crash-style reader looks the member up by name.
    "reader/offsets.c": b"""\
void init_offsets(void)
{
\tMODULE_CORE_LAYOUT = MEMBER_OFFSET("module", "core_layout");
}
""",
    # A drgn-style helper.
    "helpers/module.py": b"""\
def module_text(mod):
    return mod.core_layout.base, mod.core_layout.text_size
""",
    # Code the C parser cannot read as a field access.
    "broken/odd.c": b"""\
#define ACCESS(m, f) ((m)->f)
static void *p = ACCESS(THIS_MODULE, core_layout);
""",
    # A use inside an unrelated, old version test is still a use.
    "runtime/symbols.c": b"""\
#if defined(CONFIG_KALLSYMS) && LINUX_VERSION_CODE >= KERNEL_VERSION(2,6,11)
static unsigned long text_size(struct module *mod)
{
\treturn mod->core_layout.text_size;
}
#endif
""",
    # Code that no 6.4+ kernel compiles, by its version alone: a kernel with
    # the change backported compiles it, so the guard gains the probe.
    "old/only.c": b"""\
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 4, 0)
static void *text(void) { return THIS_MODULE->core_layout.base; }
#endif
""",
}


@pytest.fixture
def kinds_tree(tmp_path):
    for path, data in KINDS.items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_bytes(data)
    return tmp_path


def test_every_kind_of_use_is_listed_and_decided(kinds_tree):
    plan = plan_rewrite(str(kinds_tree), load_rules(), (), profile=OUT_OF_TREE)
    found = {(f.occurrence.path, f.occurrence.kind, f.rule_id, f.severity) for f in plan.findings()}
    assert found == {
        ("runtime/alloc.c", "use", "layout-footprint", "rewrite"),
        ("tapset/mod.stp", "use", "layout-text-size", "rewrite"),
        ("reader/offsets.c", "string", "member-name-string", "report"),
        ("helpers/module.py", "python-reader", "python-reader", "report"),
        ("broken/odd.c", "text", "unread-code", "report"),
        ("runtime/symbols.c", "use", "layout-text-size", "rewrite"),
        ("old/only.c", "guarded", "version-only-guard", "rewrite"),
    }
    assert {f.occurrence.path for f in plan.left()} == {"reader/offsets.c", "helpers/module.py", "broken/odd.c"}
    assert "fall back" in plan.left_reason(next(f for f in plan.left() if f.occurrence.kind == "python-reader"))
    new = {c.path: c.new for c in plan.changes}
    assert set(new) == {"runtime/alloc.c", "tapset/mod.stp", "runtime/symbols.c", "old/only.c"}
    assert new["old/only.c"] == KINDS["old/only.c"].replace(
        b"KERNEL_VERSION(6, 4, 0)\n", b"KERNEL_VERSION(6, 4, 0) && !defined(mod_mem_type_is_init)\n")
    assert b"#elif defined(HAVE_MODULE_LAYOUT)\n#define MODULE_FOOTPRINT (THIS_MODULE->core_layout.size)\n" \
        in new["runtime/alloc.c"]
    assert new["tapset/mod.stp"] == (
        b"function text_kb:long() %{ /* pure */\n"
        b"#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 4, 0) || defined(mod_mem_type_is_init)\n"
        b"\tSTAP_RETVALUE = THIS_MODULE->mem[MOD_TEXT].size / 1024;\n#else\n"
        b"\tSTAP_RETVALUE = THIS_MODULE->core_layout.text_size / 1024;\n#endif\n%}\n")
    # The unrelated 2.6.11 test is no guard: the return gets one of its own.
    assert b"#else\n\treturn mod->core_layout.text_size;\n#endif\n}\n#endif\n" in new["runtime/symbols.c"]
    assert new["runtime/symbols.c"].startswith(b"#include <linux/version.h>\n#if defined(CONFIG_KALLSYMS)")


def migrator(*args):
    return subprocess.run([sys.executable, "-m", "migrator", *map(str, args)], capture_output=True, text=True)


def test_cli_names_the_mode_and_takes_a_guard_of_the_projects_own(kinds_tree):
    run = migrator("rewrite", "--dry-run", "--guard", "defined(STAPCONF_MODULE_MEMORY)", kinds_tree)
    assert run.returncode == 0, run.stderr
    assert run.stderr.splitlines()[0] == ("mode: out-of-tree (not a kernel source tree: no top Makefile); "
                                          "guard: #if defined(STAPCONF_MODULE_MEMORY)")
    assert "+#if defined(STAPCONF_MODULE_MEMORY)\n" in run.stdout
    assert "linux/version.h" not in run.stdout  # a probe guard needs no version header
    kernel = migrator("rewrite", "--dry-run", "--mode", "kernel", kinds_tree)
    assert kernel.stderr.startswith("mode: kernel (chosen with --mode)\n")
    assert "#if" not in "".join(l for l in kernel.stdout.splitlines(True) if l.startswith("+"))


def test_undecided_uses_make_the_run_fail(kinds_tree, tmp_path):
    from migrator.match.rules import DEFAULT_RULES_DIR

    empty = tmp_path / "few-rules"  # one rule, for data_layout only: the rest is undecided
    empty.mkdir()
    (empty / "data-layout.toml").write_bytes((DEFAULT_RULES_DIR / "data-layout.toml").read_bytes())
    scan = migrator("scan", "--rules", empty, kinds_tree)
    assert scan.returncode == 1 and "undecided" in scan.stdout
    rewrite = migrator("rewrite", "--dry-run", "--rules", empty, kinds_tree)
    assert rewrite.returncode == 1


def rewrite_one(tmp_path, code: bytes, name="mod.c") -> bytes:
    (tmp_path / name).write_bytes(code)
    plan = plan_rewrite(str(tmp_path), load_rules(), (), profile=OUT_OF_TREE)
    return plan.changes[0].new if plan.changes else code


def test_an_else_branch_gains_an_elif_rung(tmp_path):
    new = rewrite_one(tmp_path, b"""\
#include <linux/version.h>
#if LINUX_VERSION_CODE < KERNEL_VERSION(4, 5, 0)
#define TEXT_BASE(m) ((m)->module_core)
#else
#define TEXT_BASE(m) ((m)->core_layout.base)
#endif
""")
    assert new == b"""\
#include <linux/version.h>
#if LINUX_VERSION_CODE < KERNEL_VERSION(4, 5, 0)
#define TEXT_BASE(m) ((m)->module_core)
#elif LINUX_VERSION_CODE >= KERNEL_VERSION(6, 4, 0) || defined(mod_mem_type_is_init)
#define TEXT_BASE(m) ((m)->mem[MOD_TEXT].base)
#else
#define TEXT_BASE(m) ((m)->core_layout.base)
#endif
"""


def test_an_ifndef_probe_becomes_an_elif_not_defined(tmp_path):
    new = rewrite_one(tmp_path, b"""\
#include <linux/version.h>
#ifndef HAVE_MODULE_CORE
\tsize = THIS_MODULE->core_layout.text_size;
#else
\tsize = THIS_MODULE->core_text_size;
#endif
""")
    assert b"#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 4, 0) || defined(mod_mem_type_is_init)\n" \
           b"\tsize = THIS_MODULE->mem[MOD_TEXT].size;\n#elif !defined(HAVE_MODULE_CORE)\n" in new


def test_locals_tie_statements_in_different_blocks_into_one_function_body(tmp_path):
    code = b"""\
#include <linux/version.h>
#include <linux/module.h>

static u32 sum_text(void)
{
\tconst u8 *p = THIS_MODULE->core_layout.base;
\tu32 sum = 0, i;

\tfor (i = 0; i < 64; i++) {
\t\tif (i < THIS_MODULE->core_layout.text_size)
\t\t\tsum += p[i];
\t}
\treturn sum;
}
"""
    new = rewrite_one(tmp_path, code)
    body = code[code.index(b"{\n") + 2:code.rindex(b"}")]
    assert new == code.replace(body, b"#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 4, 0) || "
                               b"defined(mod_mem_type_is_init)\n"
                               + body.replace(b"core_layout.base", b"mem[MOD_TEXT].base")
                               .replace(b"core_layout.text_size", b"mem[MOD_TEXT].size")
                               + b"#else\n" + body + b"#endif\n")


OOT_CORPUS = Path(__file__).resolve().parent.parent / "corpus" / "out-of-tree"
SNAPSHOTS = Path(__file__).resolve().parent / "snapshots" / "out-of-tree"
SCENARIO_NAMES = sorted(p.parent.name for p in OOT_CORPUS.glob("*/case.toml"))


def scenario_diff(folder: Path) -> bytes:
    from migrator.rewrite.diff import unified_diff

    return unified_diff(plan_rewrite(str(folder), load_rules(), (), profile=OUT_OF_TREE).changes)


@pytest.mark.parametrize("name", SCENARIO_NAMES)
def test_scenario_module_rewrite_is_pinned(name, tmp_path):
    """The exact rewrite of each scenario module (built and loaded by test_out_of_tree_corpus.py).

    Regenerate: python3 -c 'from tests.test_out_of_tree import write_snapshots; write_snapshots()'
    """
    assert scenario_diff(OOT_CORPUS / name) == (SNAPSHOTS / f"{name}.diff").read_bytes()
    # A second run over the rewritten module changes nothing.
    import shutil

    from migrator.rewrite.write import write_changes

    copy = tmp_path / name
    shutil.copytree(OOT_CORPUS / name, copy)
    write_changes(str(copy), plan_rewrite(str(copy), load_rules(), (), profile=OUT_OF_TREE).changes)
    assert scenario_diff(copy) == b""


def write_snapshots():
    SNAPSHOTS.mkdir(parents=True, exist_ok=True)
    for name in SCENARIO_NAMES:
        (SNAPSHOTS / f"{name}.diff").write_bytes(scenario_diff(OOT_CORPUS / name))
