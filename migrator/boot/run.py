"""`migrator boot` as a library call: build a tree's boot kernel, boot it, check it."""

from __future__ import annotations

import hashlib
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from migrator.boot.checks import Row, evaluate, guest_script, modules_within_branch_range, params
from migrator.boot.initramfs import DEBIAN_ARCH, GuestModule, build_initramfs
from migrator.boot.kbuild import KernelBuild, build_kernel
from migrator.boot.qemu import BootLog, boot
from migrator.migration import Migration, load_migration
from migrator.verify.kconfig import parse_config
from migrator.verify.packages import cache_root

BOOT_TIMEOUT = 900.0
# What boot_tree tells on_step, in order: the guest runs the checks during the boot.
STEPS = ("building the kernel", "booting it in qemu and checking")
# Boots allowed for a module placement the PLT row can judge (arm64 draws it
# per boot: see checks.modules_within_branch_range); three all landing within
# branch range happen about once in 4000 runs.
PLACEMENT_BOOTS = 3


@dataclass(frozen=True, slots=True)
class BootReport:
    """One tree: its build, its boot (None when the build failed) and the checks."""

    tree: Path
    arch: str
    build: KernelBuild
    log: BootLog | None
    rows: tuple[Row, ...]
    boots: int = 1  # more when a boot placed modules the PLT row cannot judge

    @property
    def ok(self) -> bool:
        return (self.build.ok and self.log is not None and self.log.completed
                and all(row.ok for row in self.rows))

    @property
    def failure(self) -> str:
        """Why the run did not get to the checks, or ""."""
        if not self.build.ok:
            return f"build failed: {self.build.failure}"
        if self.log is None or not self.log.completed:
            ending = self.log.ending.value if self.log else "not run"
            problems = "; ".join(self.log.problems()[:2]) if self.log else ""
            return f"boot {ending}" + (f": {problems}" if problems else "")
        return ""


def default_build_dir(tree: Path) -> Path:
    """One build folder per tree path, under the cache."""
    resolved = tree.resolve()
    digest = hashlib.sha256(str(resolved).encode()).hexdigest()[:8]
    return cache_root() / "boot-build" / f"{resolved.name}-{digest}"


def boot_tree(tree: Path, arch: str, build_dir: Path | None = None,
              external: tuple[Path, ...] = (), cycles: int = 3,
              timeout: float = BOOT_TIMEOUT,
              on_step: Callable[[str], None] = lambda step: None,
              migration: Migration | None = None) -> BootReport:
    """Build ``tree``'s boot kernel for ``arch``, boot it with every module, check it.

    The checks learn where the loader puts each section from the model plug-in
    of ``migration`` (default: the default pack); a pack without one is a
    MigratorError before anything is built.  ``on_step`` hears each step (one
    of STEPS) as it starts, for a progress bar."""
    prepare = (migration or load_migration()).model("loader").prepare
    on_step(STEPS[0])
    build = build_kernel(tree, arch, build_dir or default_build_dir(tree), external)
    if not build.ok:
        return BootReport(tree, arch, build, None, ())
    modules = build.load_order()
    config = parse_config((build.out / ".config").read_text(), DEBIAN_ARCH[arch])
    with tempfile.TemporaryDirectory(prefix="migrator-boot-") as work:
        on_step(STEPS[1])
        initrd = build_initramfs(Path(work) / "initrd.cpio", arch,
                                 tuple(GuestModule(m.path, params(m)) for m in modules),
                                 guest_script(arch, modules, cycles))
        for boots in range(1, PLACEMENT_BOOTS + 1):
            log = boot(arch, build.image, initrd, timeout=timeout)
            if not (log.completed and modules_within_branch_range(arch, log)):
                break
    rows = evaluate(build, log, config, prepare) if log.completed else ()
    return BootReport(tree, arch, build, log, rows, boots)
