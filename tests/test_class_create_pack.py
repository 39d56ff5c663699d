"""The class-create pack: a second migration that the engine hosts as data.

Its scenarios (migrations/class-create/cases/) are rewritten out of the tree
with the pack's own vocabulary, rules and guard; the engine's source names
none of its words.
"""

import shutil
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

from migrator.cli import cli
from migrator.errors import MigratorError
from migrator.match.rules import migration_rule_book
from migrator.migration import load_migration
from migrator.profile import Mode, Profile, guard_expression, guards
from migrator.rewrite.plan import plan_rewrite
from migrator.ruletest import run_rule_tests

PACK = load_migration("class-create")
CASES = PACK.cases_dir
NAMES = sorted(p.name for p in CASES.iterdir() if p.is_dir())
ENGINE = Path(__file__).resolve().parent.parent / "migrator"


def _plan(root: Path):
    profile = Profile(Mode.OUT_OF_TREE, guard_expression("both", PACK))
    return plan_rewrite(str(root), migration_rule_book(PACK), (), vocabulary=PACK.vocabulary, profile=profile)


def _rewrite_case(name: str, tmp_path: Path):
    case = CASES / name
    meta = tomllib.loads((case / "case.toml").read_text())
    dest = tmp_path / meta["path"]
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(case / "before.c", dest)
    plan = _plan(tmp_path)
    return meta, plan, (plan.changes[0].new if plan.changes else dest.read_bytes())


@pytest.mark.parametrize("name", NAMES)
def test_case(name: str, tmp_path: Path) -> None:
    meta, plan, new = _rewrite_case(name, tmp_path)
    assert meta["mode"] == "out-of-tree"
    assert new == (CASES / name / "after.c").read_bytes()
    assert [f"{f.occurrence.line}:{f.rule_id or f.severity}" for f in plan.left()] == meta["left"]


@pytest.mark.parametrize("name", NAMES)
def test_second_run_changes_nothing(name: str, tmp_path: Path) -> None:
    meta, _, new = _rewrite_case(name, tmp_path)
    (tmp_path / meta["path"]).write_bytes(new)
    assert _plan(tmp_path).changes == ()


def test_guard_comes_from_the_pack() -> None:
    named = guards(PACK)
    assert named["version"] == "LINUX_VERSION_CODE >= KERNEL_VERSION(6, 4, 0)"
    assert named["probe"] == "!defined(class_create)"
    assert named["both"] == f"{named['version']} || {named['probe']}"


def test_a_pack_without_a_probe_refuses_guard_probe(tmp_path: Path) -> None:
    pack = tmp_path / "class-create"
    shutil.copytree(PACK.root, pack)
    vocabulary = pack / "vocabulary.toml"
    vocabulary.write_text("\n".join(line for line in vocabulary.read_text().splitlines()
                                    if not line.startswith("probe =")) + "\n")
    bare = load_migration(str(pack))
    assert guards(bare)["both"] == guards(bare)["version"]
    with pytest.raises(MigratorError, match="knows no probe"):
        guard_expression("probe", bare)


def test_the_engine_names_none_of_the_pack_words() -> None:
    words = ("class_create", "device/class.h")
    hits = [f"{p.relative_to(ENGINE)}: {w}" for p in ENGINE.rglob("*.py") for w in words
            if w in p.read_text(errors="replace")]
    assert not hits


RULE_RESULTS = run_rule_tests(migration_rule_book(PACK).all_rules(), migration=PACK)


@pytest.mark.parametrize("result", RULE_RESULTS, ids=[r.name for r in RULE_RESULTS])
def test_rule_case(result) -> None:
    assert result.ok, f"{result.status}: {result.detail}"


def test_every_rule_has_match_and_no_match_cases() -> None:
    for rule in migration_rule_book(PACK).all_rules():
        assert rule.match_cases and rule.no_match_cases, rule.id


def test_cli_runs_the_same_cases() -> None:
    out = CliRunner().invoke(cli, ["test", "--migration", "class-create"])
    assert out.exit_code == 0, out.output
    assert out.output.strip().endswith(f"{len(RULE_RESULTS)} passed, 0 failed")


def test_kernel_mode_is_refused(tmp_path: Path) -> None:
    """The pack does not change the API's own definition: a kernel tree would be half-migrated."""
    (tmp_path / "drv.c").write_text('c = class_create(THIS_MODULE, "x");\n')
    out = CliRunner().invoke(cli, ["rewrite", "--migration", "class-create", "--mode", "kernel", str(tmp_path)])
    assert out.exit_code == 2 and "supports only out-of-tree" in out.output
    assert (tmp_path / "drv.c").read_text() == 'c = class_create(THIS_MODULE, "x");\n'


@pytest.mark.parametrize("dry_run", [True, False])
def test_the_command_line_rewrite_uses_the_chosen_pack(dry_run: bool, tmp_path: Path) -> None:
    """`rewrite` and `rewrite --dry-run` both read the pack --migration names, not the default one."""
    driver = tmp_path / "drv.c"
    original = 'static int __init drv_init(void)\n{\n\tcls = class_create(THIS_MODULE, "drv");\n\treturn 0;\n}\n'
    driver.write_text(original)
    args = ["rewrite", "--migration", "class-create", "--mode", "out-of-tree"]
    run = CliRunner().invoke(cli, args + (["--dry-run"] if dry_run else []) + [str(tmp_path)])
    assert run.exit_code == 0, run.output
    shown = run.stdout if dry_run else driver.read_text()
    assert 'class_create("drv")' in shown and "1 unit behind the guard" in run.output
    assert driver.read_text() == original if dry_run else driver.read_text() != original
