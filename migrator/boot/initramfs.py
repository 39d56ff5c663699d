"""A busybox initramfs that loads a list of modules, reports, and powers off.

The guest's ``/init`` (a busybox shell script) mounts proc, sysfs, devtmpfs
and debugfs, quiets the console log (read back later with ``dmesg``), then:

1. ``insmod``s each module in the given order, printing
   ``@@insmod NAME RC`` after each;
2. runs the caller's ``script`` (shell text, may be empty);
3. prints the report blocks: ``modules`` (/proc/modules), ``sections``
   (``MODULE SECTION ADDRESS`` per line from /sys/module/*/sections) and
   ``dmesg``;
4. powers off (``poweroff -f`` with ACPI; else ``reboot -f``, which qemu's
   ``-no-reboot`` turns into an exit).

Every block is framed by ``@@begin NAME`` and ``@@end NAME`` lines, which
:meth:`migrator.boot.qemu.BootLog.block` reads back.  The whole run ends
with ``@@done``.  Busybox is Debian's ``busybox-static`` of the guest's
architecture.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from migrator.boot.debian import PinnedDeb, module_name, sha256, unpack
from migrator.errors import MigratorError
from migrator.verify.packages import _run, apt_options, cache_root, decompress_module, host_arch

# qemu's architecture name -> Debian's.
DEBIAN_ARCH = {"x86_64": "amd64", "arm64": "arm64"}
BUSYBOX_PACKAGE = "busybox-static"

INIT_PROLOGUE = """#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mkdir -p /proc /sys /dev /tmp
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
# Only emergencies on the console: the log is read back with dmesg, so that
# kernel lines never break into the report.
echo 1 > /proc/sys/kernel/printk
echo 0 > /proc/sys/kernel/kptr_restrict
echo @@start
"""

# Every section address of every module, "MODULE SECTION ADDRESS" a line.  A
# section attribute answers only a read at offset 0: cat, not the shell's read.
SECTIONS = """echo "@@begin sections"
for dir in /sys/module/*/sections; do
  mod=${dir%/sections}; mod=${mod##*/}
  for file in "$dir"/.* "$dir"/*; do
    [ -f "$file" ] && echo "$mod ${file##*/} $(cat "$file")"
  done
done
echo "@@end sections"
"""

REPORT = """echo "@@begin modules"
cat /proc/modules
echo "@@end modules"
""" + SECTIONS + """echo "@@begin dmesg"
dmesg
echo "@@end dmesg"
"""

# Without a way to power off (no ACPI on a tinyconfig x86 kernel), the kernel
# turns poweroff into a halt that never returns; a reboot always returns to
# qemu, which -no-reboot turns into an exit.
EPILOGUE = """echo @@done
[ -d /sys/firmware/acpi ] && poweroff -f
reboot -f
"""


@dataclass(frozen=True, slots=True)
class GuestModule:
    """A module file to load in the guest, with its parameters."""

    path: Path
    params: str = ""

    @property
    def name(self) -> str:
        return module_name(self.path)


def busybox(arch: str) -> Path:
    """Debian's static busybox for ``arch`` (the host's own, else the package unpacked)."""
    debian_arch = DEBIAN_ARCH.get(arch, arch)
    if debian_arch == host_arch() and Path("/bin/busybox").exists():
        return Path("/bin/busybox")
    options = apt_options(debian_arch)
    policy = _run(["apt-cache", *options, "policy", BUSYBOX_PACKAGE])
    version = next((line.split()[1] for line in policy.splitlines()
                    if line.strip().startswith("Candidate:")), "(none)")
    if version == "(none)":
        raise MigratorError(f"apt knows no {BUSYBOX_PACKAGE} for {debian_arch}")
    folder = cache_root() / "debs"
    folder.mkdir(parents=True, exist_ok=True)
    quoted = version.replace(":", "%3a")
    deb = folder / f"{BUSYBOX_PACKAGE}_{quoted}_{debian_arch}.deb"
    if not deb.exists():
        _run(["apt-get", *options, "download", f"{BUSYBOX_PACKAGE}={version}"], cwd=folder)
    dest = cache_root() / "boot" / f"{BUSYBOX_PACKAGE}_{debian_arch}"
    unpack(PinnedDeb(BUSYBOX_PACKAGE, version, sha256(deb), debian_arch), dest)
    return dest / "bin" / "busybox"


def init_script(modules: tuple[GuestModule, ...], script: str = "") -> str:
    """The text of the guest's /init."""
    lines = [INIT_PROLOGUE]
    for index, module in enumerate(modules):
        guest = f"/modules/{index:04d}-{module.name}.ko"
        lines.append(f"insmod {guest} {module.params}\n"
                     f"echo \"@@insmod {module.name} $?\"\n")
    if script:
        lines.append(f'echo "@@begin script"\n{script.rstrip()}\necho "@@end script"\n')
    lines.append(REPORT)
    lines.append(EPILOGUE)
    return "".join(lines)


def build_initramfs(dest: Path, arch: str, modules: tuple[GuestModule, ...] = (),
                    script: str = "", files: dict[str, bytes] | None = None) -> Path:
    """Write a newc cpio to ``dest`` that loads ``modules`` in order; return ``dest``.

    Compressed modules (.ko.xz, .ko.zst, .ko.gz) are decompressed here, so the
    guest needs no decompressor.  ``files`` adds more files (guest path ->
    bytes), e.g. helper scripts the ``script`` runs.
    """
    stage = Path(tempfile.mkdtemp(prefix="initramfs-"))
    try:
        for sub in ("bin", "modules", "proc", "sys", "dev", "tmp"):
            (stage / sub).mkdir()
        shutil.copy2(busybox(arch), stage / "bin" / "busybox")
        for index, module in enumerate(modules):
            data = decompress_module(module.path.name, module.path.read_bytes())
            (stage / "modules" / f"{index:04d}-{module.name}.ko").write_bytes(data)
        for guest, data in (files or {}).items():
            target = stage / guest.lstrip("/")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
            target.chmod(0o755)
        init = stage / "init"
        init.write_text(init_script(modules, script))
        init.chmod(0o755)
        names = sorted(str(p.relative_to(stage)) for p in stage.rglob("*"))
        dest.parent.mkdir(parents=True, exist_ok=True)
        with dest.open("wb") as out:
            done = subprocess.run(["cpio", "--quiet", "-o", "-H", "newc", "-R", "0:0"],
                                  cwd=stage, input="\n".join(names).encode(), stdout=out,
                                  stderr=subprocess.PIPE, check=False)
        if done.returncode != 0:
            raise MigratorError(f"cpio failed: {done.stderr.decode(errors='replace').strip()}")
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    return dest
