"""migrator check on the scenarios of tests/fixtures/check: faithful rewrites pass,
each mutated one fails naming its file, line and invariant."""

import shutil
import tomllib
from pathlib import Path

import pytest

from migrator.migration import load_migration

# The module-memory pack's model plug-in, reached through the migration.
synthetic_probe_sets = load_migration().model("probes").synthetic_probe_sets
_source = load_migration().model("source")
check_tree, SOURCE_INVARIANTS = _source.check_tree, _source.SOURCE_INVARIANTS

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "check"
API = FIXTURES / "api"
NAMES = sorted(p.name for p in FIXTURES.iterdir() if (p / "case.toml").is_file())


def build_trees(name: str, root: Path) -> tuple[Path, Path, dict]:
    """An original tree (6.1 header + before.c) and a rewritten one (v6.4 header + after.c)."""
    case = FIXTURES / name
    meta = tomllib.loads((case / "case.toml").read_text())
    original, rewritten = root / "original", root / "rewritten"
    for tree, header, source in ((original, "module-6.1.h", "before.c"),
                                 (rewritten, "module.h", "after.c")):
        (tree / "include" / "linux").mkdir(parents=True)
        shutil.copy(API / header, tree / "include" / "linux" / "module.h")
        dest = tree / meta["path"]
        dest.parent.mkdir(parents=True)
        shutil.copy(case / source, dest)
    return original, rewritten, meta


@pytest.fixture(scope="module")
def probes():
    return synthetic_probe_sets()


def test_there_are_passing_and_failing_cases():
    metas = [tomllib.loads((FIXTURES / n / "case.toml").read_text()) for n in NAMES]
    assert sum(1 for m in metas if not m["expect"]) >= 4
    assert sum(1 for m in metas if m["expect"]) >= 6
    named = {e.split(":")[1] for m in metas for e in m["expect"]}
    assert named <= set(SOURCE_INVARIANTS)


@pytest.mark.parametrize("name", NAMES)
def test_case(name, tmp_path, probes):
    original, rewritten, meta = build_trees(name, tmp_path)
    result = check_tree(str(rewritten), str(original), probes)
    assert set(result.files) == {meta["path"], "include/linux/module.h"}
    got = sorted(f"{v.line}:{v.invariant}" for v in result.violations)
    assert got == sorted(meta["expect"]), [str(v) for v in result.violations]
    for v in result.violations:
        assert v.path == meta["path"]
        assert str(v).startswith(f"{meta['path']}:{v.line}:{v.col}: {v.invariant}: ")


def test_the_header_helpers_are_judged(tmp_path, probes):
    """The fixture module.h pair itself: within_module_core/init judged as whole functions."""
    original, rewritten, _ = build_trees("init-test-kept", tmp_path)
    result = check_tree(str(rewritten), str(original), probes)
    assert result.ok and result.judged >= 3 and result.probes > 100


def test_a_narrowed_header_helper_fails(tmp_path, probes):
    original, rewritten, _ = build_trees("init-test-kept", tmp_path)
    header = rewritten / "include" / "linux" / "module.h"
    text = header.read_text()
    narrowed = text.replace("for_class_mod_mem_type(type, init) {\n\t\tif (within_module_mem_type(addr, mod, type))",
                            "for_class_mod_mem_type(type, init) {\n\t\tif (within_module_mem_type(addr, mod, MOD_INIT_TEXT))")
    assert narrowed != text
    header.write_text(narrowed)
    result = check_tree(str(rewritten), str(original), probes)
    assert any(v.path == "include/linux/module.h" and v.invariant == "predicate-agrees"
               and "within_module_init()" in v.message for v in result.violations)
