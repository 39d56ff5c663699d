"""Debian packages pinned by version and sha256, fetched with apt-get and unpacked once.

:func:`fetch_kernel` gives a :class:`DebianKernel`: the vmlinuz, the
modules tree and its ``modules.dep`` of one entry of ``kernels.toml``.
Everything lands in ``~/.cache/migrator/boot/`` (``$MIGRATOR_CACHE``); a
second call only checks the stamp the first one left.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import tempfile
import tomllib
from dataclasses import dataclass
from pathlib import Path

from migrator.errors import MigratorError
from migrator.verify.packages import apt_options, cache_root, update_index

KERNELS = Path(__file__).with_name("kernels.toml")
STAMP = ".migrator-unpacked"


@dataclass(frozen=True, slots=True)
class PinnedDeb:
    """One Debian package at one version, with the sha256 it must have."""

    package: str
    version: str
    sha256: str
    arch: str = "all"


@dataclass(frozen=True, slots=True)
class DebianKernel:
    """An unpacked Debian linux-image package."""

    key: str
    deb: PinnedDeb
    release: str          # uname -r, the folder under lib/modules/
    root: Path            # where the package was unpacked
    vmlinuz: Path
    config: Path

    @property
    def modules_dir(self) -> Path:
        return self.root / "lib" / "modules" / self.release

    def module_paths(self) -> dict[str, Path]:
        """Module name (as in /proc/modules) -> its file in the modules tree."""
        return {module_name(rel): self.modules_dir / rel for rel in self.dependencies()}

    def dependencies(self) -> dict[str, tuple[str, ...]]:
        """``modules.dep``: each module file (relative) -> the files it needs, nearest first."""
        deps: dict[str, tuple[str, ...]] = {}
        for line in (self.modules_dir / "modules.dep").read_text().splitlines():
            target, _, needs = line.partition(":")
            if target:
                deps[target.strip()] = tuple(needs.split())
        return deps

    def load_order(self, names: list[str] | tuple[str, ...]) -> tuple[Path, ...]:
        """The files to insmod, dependencies first, so that ``names`` all load."""
        deps = self.dependencies()
        by_name = {module_name(rel): rel for rel in deps}
        order: list[str] = []
        seen: set[str] = set()

        def visit(rel: str) -> None:
            if rel in seen:
                return
            seen.add(rel)
            # modules.dep lists the whole closure; load its deepest entries first.
            for need in reversed(deps.get(rel, ())):
                visit(need)
            order.append(rel)

        for name in names:
            if name not in by_name:
                raise MigratorError(f"{self.key} has no module {name!r}")
            visit(by_name[name])
        return tuple(self.modules_dir / rel for rel in order)


def module_name(path: str | Path) -> str:
    """``kernel/fs/fat/vfat.ko.xz`` -> ``vfat``: the name the kernel gives it (``-`` is ``_``)."""
    base = Path(path).name
    for suffix in (".xz", ".zst", ".gz"):
        base = base.removesuffix(suffix)
    return base.removesuffix(".ko").replace("-", "_")


def pinned(table: Path, key: str) -> PinnedDeb:
    with table.open("rb") as fh:
        entries = tomllib.load(fh)
    if key not in entries:
        raise MigratorError(f"{table.name} has no entry {key!r} (known: {', '.join(entries)})")
    entry = entries[key]
    return PinnedDeb(entry["package"], entry["version"], entry["sha256"], entry.get("arch", "all"))


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def download(deb: PinnedDeb) -> Path:
    """The .deb of ``deb`` in ``~/.cache/migrator/debs``, downloaded once and checked."""
    folder = cache_root() / "debs"
    folder.mkdir(parents=True, exist_ok=True)
    quoted = deb.version.replace(":", "%3a")
    path = folder / f"{deb.package}_{quoted}_{deb.arch}.deb"
    if path.exists() and sha256(path) == deb.sha256:
        return path
    options = apt_options(deb.arch) if deb.arch != "all" else []
    if options:
        update_index(deb.arch)
    spec = f"{deb.package}={deb.version}"
    done = subprocess.run(["apt-get", *options, "download", spec], cwd=folder,
                          capture_output=True, text=True, check=False)
    if done.returncode != 0 or not path.exists():
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise MigratorError(f"apt-get download {spec} failed: {last} (run apt-get update?)")
    if sha256(path) != deb.sha256:
        path.unlink()
        raise MigratorError(f"{path.name}: sha256 differs from the pinned one")
    return path


def unpack(deb: PinnedDeb, dest: Path) -> Path:
    """``dpkg-deb -x`` the package into ``dest`` once (atomically); return ``dest``."""
    stamp = dest / STAMP
    if stamp.exists() and stamp.read_text().strip() == deb.sha256:
        return dest
    path = download(deb)
    dest.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".unpack-", dir=dest.parent))
    try:
        done = subprocess.run(["dpkg-deb", "-x", str(path), str(work)],
                              capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise MigratorError(f"dpkg-deb -x {path.name} failed: {done.stderr.strip()}")
        (work / STAMP).write_text(deb.sha256 + "\n")
        if dest.exists():
            shutil.rmtree(dest)
        work.rename(dest)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return dest


def fetch_kernel(key: str) -> DebianKernel:
    """The kernel ``key`` of kernels.toml, downloaded and unpacked into the cache."""
    deb = pinned(KERNELS, key)
    root = unpack(deb, cache_root() / "boot" / f"{deb.package}_{deb.version}")
    releases = sorted(p.name for p in (root / "lib" / "modules").iterdir() if p.is_dir())
    if len(releases) != 1:
        raise MigratorError(f"{deb.package}: expected one lib/modules/ release, found {releases}")
    release = releases[0]
    vmlinuz = root / "boot" / f"vmlinuz-{release}"
    if not vmlinuz.exists():
        raise MigratorError(f"{deb.package}: no boot/vmlinuz-{release}")
    if not (root / "lib" / "modules" / release / "modules.dep").exists():
        # The package leaves modules.dep to depmod in its postinst; run it on the copy.
        done = subprocess.run(["depmod", "-b", str(root), release],
                              capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise MigratorError(f"depmod -b {root} {release} failed: {done.stderr.strip()}")
    return DebianKernel(key, deb, release, root, vmlinuz, root / "boot" / f"config-{release}")
