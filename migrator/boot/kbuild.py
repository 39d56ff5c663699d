"""Build the small kernel `migrator boot` runs, its in-tree modules and out-of-tree ones.

The configuration is data (``targets.toml``, in the format of a profile's
build targets, :mod:`migrator.build.targets`):
:func:`migrator.build.compile.compile_targets` configures the ``O=``
directory once (a stamp records from what) and links vmlinux; this module
then makes the boot image and the modules in the same directory, and builds
each out-of-tree folder (the probe module first) in a copy under it.  A second call with the same build directory rebuilds only
what changed.  A failed build is a result with a reason, never an exception.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from migrator.boot.debian import module_name
from migrator.build.compile import compile_targets, kbuild_env
from migrator.build.targets import Target, load_targets
from migrator.errors import MigratorError
from migrator.verify import elf

TARGETS = Path(__file__).with_name("targets.toml")
PROBE = Path(__file__).with_name("probe")
# ARCH -> the boot image make builds and where it lands.
IMAGES = {"x86_64": "arch/x86/boot/bzImage", "arm64": "arch/arm64/boot/Image"}
MAKE_TIMEOUT = 3600


@dataclass(frozen=True, slots=True)
class BuiltModule:
    """A .ko of the build, and the modules it needs loaded first."""

    path: Path
    depends: tuple[str, ...]
    in_tree: bool
    folder: str = ""  # the out-of-tree folder it was built from (its name), "" in the tree

    @property
    def name(self) -> str:
        return module_name(self.path)


@dataclass(frozen=True, slots=True)
class KernelBuild:
    """The result of one build: ``failure`` is empty when everything built."""

    arch: str
    out: Path
    image: Path
    modules: tuple[BuiltModule, ...]
    seconds: float
    configured: bool
    failure: str = ""

    @property
    def ok(self) -> bool:
        return not self.failure

    def load_order(self) -> tuple[BuiltModule, ...]:
        """Every module, each after the modules it depends on (in-tree first)."""
        by_name = {m.name: m for m in self.modules}
        order: list[BuiltModule] = []

        def visit(module: BuiltModule) -> None:
            if module in order:
                return
            for need in module.depends:
                if need in by_name:
                    visit(by_name[need])
            order.append(module)

        for module in sorted(self.modules, key=lambda m: (not m.in_tree, m.name)):
            visit(module)
        return tuple(order)


def boot_target(arch: str) -> Target:
    targets = {t.arch: t for t in load_targets(TARGETS)}
    if arch not in targets:
        raise MigratorError(f"no boot kernel for architecture {arch!r} (known: {', '.join(targets)})")
    return targets[arch]


def depends(path: Path) -> tuple[str, ...]:
    """The ``depends=`` of a module's .modinfo: the modules it needs loaded first."""
    obj = elf.read_elf(path.read_bytes(), path.name)
    for section in obj.sections:
        if section.name == ".modinfo":
            for entry in obj.contents(section).split(b"\0"):
                if entry.startswith(b"depends="):
                    return tuple(n.replace("-", "_") for n in entry[8:].decode().split(",") if n)
    return ()


def build_kernel(tree: Path, arch: str, build_dir: Path, external: tuple[Path, ...] = (),
                 jobs: int = 2) -> KernelBuild:
    """Configure (once) and build the boot kernel of ``arch`` from ``tree`` in ``build_dir``."""
    target = boot_target(arch)
    start = time.monotonic()
    out = build_dir.resolve() / target.name
    image = out / IMAGES[arch]

    def result(modules=(), configured=False, failure="") -> KernelBuild:
        return KernelBuild(arch, out, image, tuple(modules), round(time.monotonic() - start, 1),
                           configured, failure)

    for folder in external:
        if not (folder / "Makefile").exists() and not (folder / "Kbuild").exists():
            raise MigratorError(f"{folder}: no Kbuild or Makefile: not a module folder")
    # make decides what changed: an unchanged tree relinks nothing.
    [linked] = compile_targets(tree, [target], build_dir, jobs=jobs, timeout=MAKE_TIMEOUT, fresh=False)
    if not linked.ok:
        return result(configured=linked.configured, failure=f"vmlinux: {linked.reason}")
    make = ["make", "-C", str(tree.resolve()), f"O={out}", f"ARCH={target.arch}",
            f"CROSS_COMPILE={target.cross_compile}", f"-j{jobs}"]
    failure = _make(make + [Path(IMAGES[arch]).name, "modules"], out)
    if failure:
        return result(configured=linked.configured, failure=failure)
    modules = [BuiltModule(ko, depends(ko), True) for ko in _in_tree(out)]
    for folder in (PROBE, *external):
        copy = out / "external" / folder.resolve().name
        shutil.copytree(folder, copy, dirs_exist_ok=True)
        failure = _make(make + [f"M={copy}", "modules"], out)
        if failure:
            return result(modules, linked.configured, f"{folder}: {failure}")
        modules += [BuiltModule(ko, depends(ko), False, copy.name) for ko in sorted(copy.rglob("*.ko"))]
    return result(modules, linked.configured)


def _in_tree(out: Path) -> list[Path]:
    order = out / "modules.order"
    if not order.exists():
        return []
    paths = []
    for line in order.read_text().split():
        ko = out / Path(line).with_suffix(".ko")
        if ko.exists():
            paths.append(ko)
    return paths


def _make(argv: list[str], out: Path) -> str:
    """Run make; return "" or a one-line reason (the first error line)."""
    done = subprocess.run(argv, cwd=out, env=kbuild_env(), capture_output=True, text=True,
                          timeout=MAKE_TIMEOUT, check=False)
    with open(out / "migrator-boot-build.log", "a") as log:
        log.write(f"$ {' '.join(argv)}\n{done.stdout}{done.stderr}")
    if done.returncode == 0:
        return ""
    lines = (done.stdout + done.stderr).splitlines()
    first = next((line for line in lines if "error" in line.lower()), lines[-1] if lines else "")
    return f"make {' '.join(a for a in argv[-2:])} failed: {first.strip()}"
