"""Run-time proof: boot kernels in qemu, load modules, read back where they landed.

The harness, for any caller (``migrator boot``, ``migrator check
--against-loader``, the out-of-tree corpus)::

    from migrator.boot import GuestModule, build_initramfs, boot, fetch_kernel

    kernel = fetch_kernel("debian-6.1-cloud-amd64")      # kernels.toml; cached, sha256-pinned
    files = kernel.load_order(["vfat", "xfs"])          # modules.dep: dependencies first
    initrd = build_initramfs(Path("/tmp/i.cpio"), "x86_64",
                             tuple(GuestModule(f) for f in files),
                             script="cat /proc/meminfo")  # optional shell, run after the loads
    log = boot("x86_64", kernel.vmlinuz, initrd, timeout=300)
    log.ending                 # Ending.COMPLETED / EXITED_EARLY / TIMED_OUT / QEMU_FAILED
    log.insmod_results()       # {"fat": 0, "vfat": 0, ...}   insmod's exit status
    log.loaded_modules()       # names in /proc/modules
    log.sections()             # {"vfat": {".text": 0xffffffffc0..., ...}}
    log.block("dmesg")         # any @@begin/@@end block; "script" is the caller's output
    log.problems()             # panic / BUG / Oops lines

``boot()`` runs qemu without KVM (``-cpu max``; x86_64 and arm64) and never
raises for a guest failure: the result says how the run ended.  Bad input
(unknown kernel key, qemu missing, a download whose sha256 differs) raises
:class:`migrator.errors.MigratorError`.  Debian's cloud kernels load unsigned
modules, so any .ko built for the same release loads.
"""

from migrator.boot.debian import DebianKernel, PinnedDeb, fetch_kernel, module_name
from migrator.boot.initramfs import GuestModule, build_initramfs, busybox, init_script
from migrator.boot.qemu import BootLog, Ending, boot, qemu_argv

__all__ = [
    "BootLog", "DebianKernel", "Ending", "GuestModule", "PinnedDeb", "boot", "build_initramfs",
    "busybox", "fetch_kernel", "init_script", "module_name", "qemu_argv",
]
