"""The run-time proof in CI: the rewritten 6.1.192 kernel boots and every check holds,
with the out-of-tree corpus (rewritten by migrator) loaded into it too, and the
real loaders of Debian's 6.1 and 6.12 kernels place sections as the model says.

Builds are cached under ~/.cache/migrator/boot-build (a warm re-run takes a
couple of minutes); `make proof` runs the full versions.
"""

import importlib.util
import shutil
from pathlib import Path

import pytest

from tests.conftest import REPO, _cache, real_input

pytestmark = pytest.mark.boot


def _need(binary):
    if shutil.which(binary) is None:
        message = f"{binary} not installed (make install)"
        import os

        if os.environ.get("MIGRATOR_REQUIRE_REAL_INPUTS"):
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture(scope="module")
def rewritten_tree():
    return real_input(_cache() / "linux-rewritten-6.1" / "Makefile",
                      "the rewritten tree (python3 corpus/rewritten.py)").parent


def _rewritten_out_of_tree(dest: Path) -> list[Path]:
    """corpus/out-of-tree/, each scenario rewritten by migrator (corpus/rewritten.py)."""
    spec = importlib.util.spec_from_file_location("corpus_rewritten", REPO / "corpus" / "rewritten.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.rewritten_out_of_tree(dest)


def test_the_rewritten_kernel_boots_and_every_check_holds(rewritten_tree, tmp_path, capsys):
    """One boot (the build is the one `make proof` and `migrator boot` reuse): the in-tree
    self-tests, the probe, and the out-of-tree corpus after migrator rewrite, in a kernel
    with the new API under 6.1's version number, as a backported vendor kernel has it."""
    from migrator.boot.checks import Check
    from migrator.boot.run import boot_tree
    from migrator.cli.boot import table

    _need("qemu-system-x86_64")
    corpus = _rewritten_out_of_tree(tmp_path / "out-of-tree")
    report = boot_tree(rewritten_tree, "x86_64", external=tuple(corpus), cycles=2)
    with capsys.disabled():
        print(f"\nrewritten 6.1 with the out-of-tree corpus: build {report.build.seconds:.0f} s")
        print(table([report]))
    assert report.failure == "", (report.failure, report.log.console[-3000:] if report.log else "")
    failures = [f"{row.check.value}: {row.failures}" for row in report.rows if not row.ok]
    assert not failures
    rows = {row.check: row for row in report.rows}
    # Every check ran on something: the probe module and the in-tree test modules.
    idle = [row.check for row in report.rows if not row.applicable]
    assert idle == [Check.PLT], idle  # x86_64 calls the kernel directly
    assert rows[Check.LOADS].applicable >= 7 + len(corpus)
    # Each scenario's own self-check line said PASS (the in-tree ones: theirs).
    assert rows[Check.SELF_TEST].applicable >= 6 + len(corpus) == 6 + 9


@pytest.mark.parametrize("key", ["debian-6.1-cloud-amd64", "debian-6.12-cloud-amd64"])
def test_the_real_loader_places_as_the_model_says(key):
    from migrator.migration import load_migration

    compare_with_loader = load_migration().model("oracle").compare_with_loader
    tree_table = load_migration().model("loader_table").tree_table

    _need("qemu-system-x86_64")
    source = real_input(_cache() / "linux-source-6.12" / "kernel/module/main.c",
                        "linux-source-6.12 (python3 corpus/fetch.py linux-source-6_12)")
    table = tree_table(source.parents[2], "linux-source-6.12")
    result = compare_with_loader(key, table, count=40)
    assert result.ending == "completed"
    assert result.modules_compared >= 40 and result.sections_compared >= 500
    assert result.disagreements == (), [str(d) for d in result.disagreements]
    assert result.new_api == key.endswith("6.12-cloud-amd64")
