"""Every scenario in the default pack's cases/, rewritten with its rules, regions and profile."""

import shutil
import tomllib

import pytest

from migrator.match import load_rules
from migrator.migration import load_migration
from migrator.profile import KERNEL, OUT_OF_TREE
from migrator.rewrite.plan import plan_rewrite
from migrator.match.regions import RegionStatus, load_region_rules

CASES = load_migration().cases_dir
NAMES = sorted(p.name for p in CASES.iterdir() if p.is_dir())


def rewrite_case(name, tmp_path, style="short"):
    case = CASES / name
    meta = tomllib.loads((case / "case.toml").read_text())
    dest = tmp_path / meta["path"]
    dest.parent.mkdir(parents=True)
    shutil.copy(case / "before.c", dest)
    plan = plan_rewrite(str(tmp_path), load_rules(), load_region_rules(load_migration().regions_dir), style,
                        profile=profile_of(meta))
    new = plan.changes[0].new if plan.changes else dest.read_bytes()
    return meta, plan, new


def profile_of(meta):
    """Scenarios of code outside the kernel say so: `mode = "out-of-tree"`."""
    return OUT_OF_TREE if meta.get("mode") == "out-of-tree" else KERNEL


def test_there_are_cases():
    assert len(NAMES) >= 10


@pytest.mark.parametrize("name", NAMES)
def test_case(name, tmp_path):
    meta, plan, new = rewrite_case(name, tmp_path)
    assert new == (CASES / name / "after.c").read_bytes()
    assert [f"{f.occurrence.line}:{f.rule_id or f.severity}" for f in plan.left()] == meta["left"]
    refused = [r for r in plan.regions if r.status is RegionStatus.REFUSED]
    assert [r.rule.id for r in refused] == ([meta["refused"]] if "refused" in meta else [])
    if "reason_contains" in meta:
        assert meta["reason_contains"] in refused[0].reason


@pytest.mark.parametrize("name", NAMES)
def test_second_run_changes_nothing(name, tmp_path):
    meta, plan, new = rewrite_case(name, tmp_path)
    (tmp_path / meta["path"]).write_bytes(new)
    again = plan_rewrite(str(tmp_path), load_rules(), load_region_rules(load_migration().regions_dir),
                         profile=profile_of(meta))
    assert again.changes == ()


def test_long_names(tmp_path):
    _, _, new = rewrite_case("rodata-frob", tmp_path, style="long")
    assert b"mem[MOD_MEM_TYPE_RODATA].base" in new and b"MOD_RODATA]" not in new
