"""The patch series of the real Linux 6.1.192 tree, committed into git.

corpus/git_tree.py commits the fetched tree once into a cached repository
(about 30 s); the series is made on it, applied with git am to fresh
clones, judged by the tree's checkpatch.pl and, with the cross compilers,
compiled for two architectures after each patch.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
from pathlib import Path

import pytest

from migrator.match import load_rules
from migrator.rewrite.plan import plan_rewrite
from migrator.match.regions import load_region_rules
from migrator.migration import load_migration
from migrator.series.make import SeriesOptions, make_series, open_for_series, write_series
from migrator.series.verify import verify_series

pytestmark = pytest.mark.realtree

REPO = Path(__file__).resolve().parent.parent
SIGNOFF = "Jane Hacker <jane@example.org>"
PREPARATION = [
    "ARM: module: use within_module_init()",
    "arm64: module: use within_module_init()",
    "ia64: module: use within_module_init() and within_module_core()",
    "parisc: module: use within_module_init() and within_module_core()",
    "powerpc/module_32: use within_module_core()",
]


def _git_tree_module():
    spec = importlib.util.spec_from_file_location("git_tree", REPO / "corpus" / "git_tree.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def linux_git(linux_tree) -> Path:
    gt = _git_tree_module()
    return gt.git_tree(Path(linux_tree).resolve(), gt.cache_dir() / "linux-git")


def _state(repo: Path) -> tuple:
    def git(*args):
        return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True).stdout
    return git("rev-parse", "HEAD"), git("symbolic-ref", "HEAD"), git("for-each-ref"), git("status", "--porcelain")


def _make(repo: Path, out: Path, **options):
    opts = SeriesOptions(signoff=SIGNOFF, **options)
    tr, ident = open_for_series(str(repo), opts, out)
    plan = plan_rewrite(str(repo), load_rules(), load_region_rules(load_migration().regions_dir), "short")
    series = make_series(tr, ident, plan, load_rules(), load_region_rules(load_migration().regions_dir), opts)
    write_series(series, out)
    return series, plan


@pytest.fixture(scope="module")
def made(linux_git, tmp_path_factory):
    before = _state(linux_git)
    out = tmp_path_factory.mktemp("series") / "a"
    series, plan = _make(linux_git, out)
    again = tmp_path_factory.mktemp("series") / "b"
    _make(linux_git, again)
    return {"series": series, "plan": plan, "out": out, "again": again, "before": before}


def test_two_runs_give_identical_series(made):
    a = {p.name: p.read_bytes() for p in made["out"].iterdir()}
    b = {p.name: p.read_bytes() for p in made["again"].iterdir()}
    assert a == b


def test_the_repository_is_left_as_it_was(made, linux_git):
    assert _state(linux_git) == made["before"]


def test_preparation_patches_per_arch_then_the_flag_day(made):
    subjects = [f.subject for f in made["series"].patches]
    assert subjects == PREPARATION + ["module: replace module_layout with module_memory"]
    # The fetched tree is one commit: the prefixes come from the table.
    assert {source for _, source in made["series"].prefix_sources} == {"table"}
    flag_day = made["series"].patches[-1].patch
    assert "include/linux/module.h" in flag_day.paths
    # Every site ends up rewritten by one of the patches.
    assert sum(f.patch.sites for f in made["series"].patches) == made["plan"].sites_rewritten


def test_checkpatch_finds_no_error(made):
    for f in made["series"].patches:
        assert f.checkpatch is not None and f.checkpatch.ran, f.checkpatch
        assert f.checkpatch.errors == 0, [m.line() for m in f.checkpatch.messages]


def test_cover_letter(made):
    cover = (made["out"] / "0000-cover-letter.patch").read_text()
    assert f"\nbase-commit: {made['series'].base}\n" in cover
    assert "Subject: [PATCH 0/6] module: replace module_layout with module_memory" in cover
    assert "arch/s390/kernel/module.c" in cover and "core-layout-base" in cover
    assert "[PATCH 6/6] 0 errors" in cover
    assert "What does not build yet:" in cover
    assert "arch/ia64/kernel/module.c" in cover  # no target compiles it


def test_series_applies_to_a_fresh_clone_as_the_in_place_rewrite(made, linux_git, tmp_path):
    result = verify_series(made["out"], linux_git, build=False, workdir=tmp_path / "work")
    assert [c.applied for c in result.patches] == [True] * 6, [c.error for c in result.patches]
    assert result.identical is True, result.differences
    assert all(c.checkpatch.ran and c.checkpatch.errors == 0 for c in result.patches)
    assert result.ok


@pytest.mark.cross
def test_each_patch_builds_on_two_arches(made, linux_git, tmp_path):
    from migrator.build import profile_targets, select_targets

    targets = select_targets(profile_targets(load_migration()), ["arm64", "parisc32"])
    # Fixed places, so that the O= directories stay configured from one run to the next.
    cache = _git_tree_module().cache_dir()
    build_root = Path(os.environ.get("MIGRATOR_BUILD_DIR", cache / "build")) / "series-test"
    result = verify_series(made["out"], linux_git, targets=targets, workdir=cache / "series-verify-test",
                           build_root=build_root)
    built = {(c.number, b.target): b.ok for c in result.patches for b in c.builds}
    # arm64's and parisc's preparation patches, then the flag day on both.
    assert built == {(2, "arm64"): True, (4, "parisc32"): True, (6, "arm64"): True, (6, "parisc32"): True}
    assert [b.ok for b in result.final] == [True, True]
    assert result.ok
