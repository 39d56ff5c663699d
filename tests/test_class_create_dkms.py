"""The class-create pack on Debian's real DKMS packages, built against 6.1 and 6.12.

dahdi-dkms, xtrx-dkms, vpoll-dkms and falcosecurity-scap-dkms each call
class_create(THIS_MODULE, name).  Pristine, each builds on Debian's 6.1
cloud headers and fails on 6.12's, among other reasons because of that
call.  After `migrator rewrite --migration class-create` (the out-of-tree
mode, guarded) each still builds on 6.1, no error on 6.12 names
class_create, and every other 6.12 error is one the pristine code had: the
port fixes its API and breaks nothing.  The other errors are printed: they
are other API changes between 6.1 and 6.12, for other packs.

Each package is built as dkms builds it (corpus/dkms.toml), narrowed to
what holds the calls, with make -k so that every object reports its errors.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import DKMS_PACKAGES as PACKAGES, REPO

SIDES = ("6.1", "6.12")
# gcc's `FILE:LINE:COL: error: MESSAGE`; a line number moves when a guard is added.
_ERROR = re.compile(r"^(?P<file>[^\s:]+):\d+:\d+: error: (?P<message>.*)$", re.M)

pytestmark = pytest.mark.outoftree


@dataclass(frozen=True, slots=True)
class Build:
    ok: bool
    errors: frozenset[tuple[str, str]]  # (file relative to the source or the headers, message)
    log: str


def _dkms_spec(package: str) -> dict:
    with open(REPO / "corpus" / "dkms.toml", "rb") as f:
        return tomllib.load(f)[package]


def build(package: str, source: Path, headers: Path) -> Build:
    """Build the copy in `source` as dkms would, against one side's headers."""
    spec = _dkms_spec(package)
    release = headers.name.removeprefix("linux-headers-")
    fill = {"release": release, "headers": str(headers), "source": str(source)}
    argv = [arg.format(**fill) for arg in spec["command"]] + ["-k", *spec.get("select", ())]
    done = subprocess.run(argv, cwd=source, capture_output=True, text=True, check=False)
    # gcc quotes names with ‘’ in a UTF-8 locale; the messages are compared as ASCII.
    log = (done.stdout + done.stderr).replace("\u2018", "'").replace("\u2019", "'")
    errors = set()
    for m in _ERROR.finditer(log):
        path = Path(m["file"])
        for root in (source, headers.parent):
            if path.is_relative_to(root):
                path = path.relative_to(root)
        errors.add((str(path), m["message"].strip()))
    return Build(done.returncode == 0, frozenset(errors), log)


def is_class_create_error(error: tuple[str, str]) -> bool:
    return "'class_create'" in error[1]


def _sources(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and p.suffix in (".c", ".h")}


def _rewrite(folder: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "migrator", "rewrite", "--migration", "class-create",
                           "--mode", "out-of-tree", str(folder)],
                          capture_output=True, text=True, cwd=REPO, check=False)


@pytest.mark.parametrize("package", PACKAGES)
def test_port_fixes_class_create_on_6_12(package: str, dkms_sources: dict[str, Path],
                                         kernel_headers: dict[str, Path], tmp_path: Path,
                                         capsys: pytest.CaptureFixture) -> None:
    pristine = dkms_sources[package]
    before, after = {}, {}
    for side in SIDES:
        before[side] = build(package, shutil.copytree(pristine, tmp_path / f"pristine@{side}"),
                             kernel_headers[side])
    ported = shutil.copytree(pristine, tmp_path / "ported")
    rewrite = _rewrite(ported)
    assert rewrite.returncode == 0, rewrite.stdout + rewrite.stderr
    changed = _sources(ported)
    assert changed != _sources(pristine), f"{package}: nothing was rewritten\n{rewrite.stdout}"
    again = _rewrite(ported)
    assert again.returncode == 0 and _sources(ported) == changed, "a second rewrite changed the code again"
    for side in SIDES:
        after[side] = build(package, shutil.copytree(ported, tmp_path / f"ported@{side}"),
                            kernel_headers[side])

    old_12 = before["6.12"].errors
    other_12 = sorted(e for e in after["6.12"].errors)
    with capsys.disabled():
        print(f"\n{package}: 6.1 {'ok' if before['6.1'].ok else 'FAILS'} -> {'ok' if after['6.1'].ok else 'FAILS'};"
              f" 6.12 {len(old_12)} distinct errors ({sum(map(is_class_create_error, old_12))} class_create)"
              f" -> {len(other_12)}, {'builds' if after['6.12'].ok else 'still fails on'}:")
        for file, message in other_12:
            print(f"  {file}: {message}")

    assert before["6.1"].ok, f"{package} does not build on 6.1 before the port:\n{before['6.1'].log[-3000:]}"
    assert any(map(is_class_create_error, old_12)), f"{package}: 6.12 did not fail on class_create before"
    assert after["6.1"].ok, f"{package} no longer builds on 6.1:\n{after['6.1'].log[-3000:]}"
    assert not any(map(is_class_create_error, after["6.12"].errors)), after["6.12"].log[-3000:]
    new = after["6.12"].errors - old_12
    assert not new, f"{package}: the port brought new errors on 6.12: {sorted(new)}"
