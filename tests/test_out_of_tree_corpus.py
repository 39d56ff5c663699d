"""The out-of-tree corpus end to end, on Debian's real 6.1 and 6.12 cloud kernels.

Each folder of corpus/out-of-tree/ is a small module whose init checks
something it computes from its own layout and prints one line,
`SCENARIO: self-check PASS` or `... FAIL (why)`.  Pristine, each builds only
against 6.1 (except supports-both, which only a kernel with the change
backported breaks).  After `migrator rewrite`, every one must build against
both kernels' headers and pass its self-check when loaded into
both kernels under qemu: one boot per kernel loads all the modules.
"""

from __future__ import annotations

import difflib
import os
import re
import shutil
import subprocess
import sys
import tomllib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO / "corpus" / "out-of-tree"
SIDES = ("6.1", "6.12")
# Side -> the key of migrator/boot/kernels.toml whose headers corpus/manifest.toml pins.
BOOT_KERNELS = {"6.1": "debian-6.1-cloud-amd64", "6.12": "debian-6.12-cloud-amd64"}
# What kbuild leaves in a module folder; never part of the source compared.
BUILD_PRODUCTS = ("*.o", "*.ko", "*.mod", "*.mod.c", ".*.cmd", "Module.symvers", "modules.order")
_SELF_CHECK = re.compile(r"(?P<scenario>[\w-]+): self-check (?P<verdict>PASS|FAIL)(?P<detail>.*)$", re.M)

pytestmark = pytest.mark.outoftree


class Decision(Enum):
    """How a faithful port treats the scenario (case.toml's `decision`)."""

    GUARDED = "guarded"              # new code behind the dual-kernel guard, old code kept
    REWRITTEN = "rewritten"          # an API that exists on both sides, no guard
    PROBE_ADDED = "probe-added"      # code for both sides; only its version-only guard gains the probe


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    folder: Path
    module: str
    decision: Decision
    error_6_12: str | None  # why the pristine code fails on 6.12; None: it supports both


def scenarios() -> tuple[Scenario, ...]:
    found = []
    for case in sorted(CORPUS.glob("*/case.toml")):
        with case.open("rb") as f:
            spec = tomllib.load(f)
        assert spec["scenario"] == case.parent.name, f"{case}: scenario names another folder"
        found.append(Scenario(case.parent.name, case.parent, spec["module"], Decision(spec["decision"]),
                              spec.get("error-6_12")))
    return tuple(found)


SCENARIOS = scenarios()


@dataclass(frozen=True, slots=True)
class Build:
    ko: Path | None  # None: the build failed
    log: str


@dataclass(frozen=True, slots=True)
class Row:
    built: bool
    loaded: bool
    self_check: str  # PASS, FAIL (detail), or "-" when no line was printed


def copy_scenario(scenario: Scenario, dest: Path) -> Path:
    shutil.copytree(scenario.folder, dest, ignore=shutil.ignore_patterns(*BUILD_PRODUCTS, "case.toml"))
    return dest


def build(folder: Path, module: str, headers: Path) -> Build:
    """`make -C HEADERS M=FOLDER modules`, in the folder given (one module per folder)."""
    done = subprocess.run(["make", "-C", str(headers), f"M={folder}", "modules"],
                          capture_output=True, text=True, check=False)
    ko = folder / f"{module}.ko"
    # gcc quotes names with ‘’ in a UTF-8 locale (kbuild unexports LC_ALL); case.toml uses ''.
    log = (done.stdout + done.stderr).replace("\u2018", "'").replace("\u2019", "'")
    return Build(ko if done.returncode == 0 and ko.exists() else None, log)


def build_both(folder: Path, module: str, headers: dict[str, Path], workdir: Path) -> dict[str, Build]:
    """The module in `folder` built against each side's headers, each in its own copy."""
    builds = {}
    for side in SIDES:
        copy = workdir / f"{folder.name}@{side}"
        shutil.copytree(folder, copy, ignore=shutil.ignore_patterns(*BUILD_PRODUCTS))
        builds[side] = build(copy, module, headers[side])
    return builds


def self_checks(dmesg: str) -> dict[str, str]:
    """Scenario -> its self-check verdict with the detail, from a kernel log."""
    return {m["scenario"]: f"{m['verdict']}{m['detail']}".strip() for m in _SELF_CHECK.finditer(dmesg)}


@dataclass(frozen=True, slots=True)
class Boot:
    """One side's kernel booted once with every module that built."""

    loaded: dict[str, bool]     # module -> insmod succeeded and /proc/modules lists it
    checks: dict[str, str]      # scenario -> its self-check line
    problems: tuple[str, ...]   # the guest did not complete, or panic/BUG/Oops lines


def load_all(side: str, modules: dict[str, Path], workdir: Path) -> Boot:
    """Boot one side's kernel once and insmod every module; a guest failure is a result."""
    from migrator.boot import GuestModule, boot, build_initramfs, fetch_kernel

    if not modules:
        return Boot({}, {}, ())
    kernel = fetch_kernel(BOOT_KERNELS[side])
    initrd = build_initramfs(workdir / f"initramfs-{side}.cpio", "x86_64",
                             tuple(GuestModule(ko) for ko in modules.values()))
    log = boot("x86_64", kernel.vmlinuz, initrd, timeout=600)
    problems = list(log.problems())
    if not log.completed:
        problems.append(f"the guest {log.ending.value}: {log.console[-2000:]}")
    insmod = log.insmod_results()
    listed = set(log.loaded_modules())
    return Boot({m: insmod.get(m) == 0 and m in listed for m in modules},
                self_checks(log.block("dmesg") or log.console), tuple(problems))


def run_pipeline(folders: dict[str, Path], headers: dict[str, Path], workdir: Path
                 ) -> tuple[dict[tuple[str, str], Row], dict[str, dict[str, Build]], dict[str, Boot]]:
    """Build every scenario folder against both sides and load the builds into both kernels.

    Returns the table (scenario, side) -> Row, the builds (for their logs) and the boots.
    """
    modules = {s.name: s.module for s in SCENARIOS}
    # kbuild runs one module on one core; a build per core halves the wait.
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        futures = {name: pool.submit(build_both, folder, modules[name], headers, workdir)
                   for name, folder in folders.items()}
        builds = {name: future.result() for name, future in futures.items()}
    table, boots = {}, {}
    for side in SIDES:
        kos = {modules[name]: b[side].ko for name, b in builds.items() if b[side].ko}
        boots[side] = load_all(side, kos, workdir)
        for name in folders:
            table[name, side] = Row(builds[name][side].ko is not None,
                                    boots[side].loaded.get(modules[name], False),
                                    boots[side].checks.get(name, "-"))
    return table, builds, boots


def format_table(table: dict[tuple[str, str], Row]) -> str:
    names = sorted({name for name, _ in table})
    width = max(len(n) for n in names)
    lines = [f"{'scenario':<{width}}  " + "  ".join(f"{side + ' built/loaded/self-check':<40}" for side in SIDES)]
    for name in names:
        cells = []
        for side in SIDES:
            row = table[name, side]
            verdict = row.self_check.split(" ", 1)[0]
            cells.append(f"{'yes' if row.built else 'NO':<5} {'yes' if row.loaded else 'NO':<5} {verdict:<28}")
        lines.append(f"{name:<{width}}  " + "  ".join(cells))
    return "\n".join(lines)


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.name)
def test_pristine_builds_on_6_1_only(scenario: Scenario, kernel_headers: dict[str, Path],
                                     tmp_path: Path) -> None:
    """Before migrator: 6.1 builds it; 6.12 fails for the reason case.toml names (supports-both builds)."""
    builds = build_both(copy_scenario(scenario, tmp_path / scenario.name), scenario.module,
                        kernel_headers, tmp_path)
    assert builds["6.1"].ko, f"{scenario.name} does not build on 6.1:\n{builds['6.1'].log[-3000:]}"
    if scenario.error_6_12 is None:
        assert builds["6.12"].ko, f"{scenario.name} does not build on 6.12:\n{builds['6.12'].log[-3000:]}"
    else:
        assert builds["6.12"].ko is None, f"{scenario.name} builds on 6.12 before any rewrite"
        assert scenario.error_6_12 in builds["6.12"].log, builds["6.12"].log[-3000:]


def test_corpus_has_the_nine_shapes() -> None:
    assert len(SCENARIOS) == 9
    both = [s.name for s in SCENARIOS if s.decision is Decision.PROBE_ADDED]
    assert both == [s.name for s in SCENARIOS if s.error_6_12 is None] == ["supports-both"]


def _source_files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and p.suffix in (".c", ".h")}


_CONDITIONAL = re.compile(rb"\s*#\s*(if|ifdef|ifndef|elif)\b")


def port_problems(scenario: Scenario, before: dict[str, bytes], after: dict[str, bytes]) -> list[str]:
    """What the rewrite did that the scenario's decision does not allow."""
    if after == before:
        return ["nothing was rewritten"]
    problems = []
    for name in before:
        old, new = before[name].splitlines(), after.get(name, b"").splitlines()
        opcodes = difflib.SequenceMatcher(None, old, new, autojunk=False).get_opcodes()
        removed = [line for tag, i1, i2, _, _ in opcodes if tag != "equal" for line in old[i1:i2]]
        added = [line for tag, _, _, j1, j2 in opcodes if tag != "equal" for line in new[j1:j2]]
        if scenario.decision is Decision.GUARDED:
            # The old branch stays byte for byte: only preprocessor conditionals may go.
            problems += [f"{name}: removed {line!r}" for line in removed if not _CONDITIONAL.match(line)]
        elif scenario.decision is Decision.PROBE_ADDED:
            # Both branches stay byte for byte: only the conditions change.
            problems += [f"{name}: changed {line!r}" for line in removed + added if not _CONDITIONAL.match(line)]
        else:
            problems += [f"{name}: added a guard {line!r}" for line in added if _CONDITIONAL.match(line)]
    return problems


def _rewrite(folder: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "migrator", "rewrite", str(folder)],
                          capture_output=True, text=True, cwd=REPO, check=False)


@pytest.mark.boot
def test_rewritten_corpus_runs_on_both_kernels(kernel_headers: dict[str, Path], tmp_path: Path,
                                               capsys: pytest.CaptureFixture) -> None:
    """migrator rewrite each scenario; then every module builds and passes on 6.1 and 6.12."""
    folders, rewrites, second_runs = {}, {}, {}
    for scenario in SCENARIOS:
        copy = copy_scenario(scenario, tmp_path / "rewritten" / scenario.name)
        rewrites[scenario.name] = _rewrite(copy)
        first = _source_files(copy)
        _rewrite(copy)
        second_runs[scenario.name] = _source_files(copy) == first
        folders[scenario.name] = copy
    table, builds, boots = run_pipeline(folders, kernel_headers, tmp_path / "builds")
    with capsys.disabled():
        print("\nout-of-tree corpus after migrator rewrite (built, loaded, self-check):")
        print(format_table(table))

    problems = [f"{side}: {problem}" for side, b in boots.items() for problem in b.problems]
    for scenario in SCENARIOS:
        rewrite = rewrites[scenario.name]
        output = (rewrite.stdout + rewrite.stderr).strip()
        if rewrite.returncode != 0:
            problems.append(f"{scenario.name}: migrator rewrite exit {rewrite.returncode}: {output}")
        first_line = next(iter(rewrite.stdout.splitlines()), "")
        if "out-of-tree" not in first_line:
            problems.append(f"{scenario.name}: the first line does not name the out-of-tree mode: {output[:200]}")
        if not second_runs[scenario.name]:
            problems.append(f"{scenario.name}: a second migrator rewrite changed the code again")
        problems += [f"{scenario.name}: {p}" for p in
                     port_problems(scenario, _source_files(scenario.folder), _source_files(folders[scenario.name]))]
        for side in SIDES:
            row = table[scenario.name, side]
            if not row.built:
                problems.append(f"{scenario.name} on {side}: build failed:\n{builds[scenario.name][side].log[-1500:]}")
            elif not row.self_check.startswith("PASS"):
                problems.append(f"{scenario.name} on {side}: loaded={row.loaded} self-check {row.self_check}")
    assert not problems, "\n".join(problems)
