"""Boot a kernel and an initramfs in qemu, without KVM, and return the console as a value.

x86_64 runs ``qemu-system-x86_64 -cpu max`` under TCG: the KVM guest CPU of
this kind of machine lacks BMI2, which Debian's kernels may use.  arm64 runs
``qemu-system-aarch64 -M virt -cpu max``.  A guest that panics, hangs or
never powers off is a result (:class:`Ending`), never an exception; only a
missing qemu raises.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import threading
import time
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from migrator.errors import MigratorError

# arch -> (qemu binary, its machine options, the console device)
MACHINES = {
    "x86_64": ("qemu-system-x86_64", ("-accel", "tcg", "-cpu", "max"), "ttyS0"),
    # pauth-impdef: qemu's own pointer-authentication hash, much faster under TCG.
    "arm64": ("qemu-system-aarch64", ("-M", "virt", "-accel", "tcg",
                                      "-cpu", "max,pauth-impdef=on"), "ttyAMA0"),
}
DEFAULT_TIMEOUT = 600.0
DONE_GRACE = 30.0  # seconds a guest may take to exit after its last report
_INSMOD = re.compile(r"^@@insmod (\S+) (\d+)$", re.M)
# busybox insmod's complaint, with the initramfs file name /modules/NNNN-NAME.ko.
_INSMOD_ERROR = re.compile(r"^insmod: can't insert '/modules/\d+-(\S+)\.ko': (.*)$", re.M)
_PANIC = re.compile(r"Kernel panic - not syncing.*|BUG: .*|Oops.*|general protection fault.*")


class Ending(Enum):
    """How the guest's run ended."""

    COMPLETED = "completed"      # the init script reached @@done and the guest exited
    EXITED_EARLY = "exited early"  # qemu exited before @@done (a panic with panic=-1, ...)
    TIMED_OUT = "timed out"      # killed after the host timeout
    QEMU_FAILED = "qemu failed"  # qemu could not start the machine


@dataclass(frozen=True, slots=True)
class BootLog:
    """The console of one boot, and how it ended."""

    arch: str
    argv: tuple[str, ...]
    console: str
    ending: Ending
    returncode: int | None
    seconds: float

    @property
    def completed(self) -> bool:
        return self.ending is Ending.COMPLETED

    def block(self, name: str) -> str | None:
        """The text between the first ``@@begin NAME`` and its ``@@end NAME``, or None."""
        found = re.search(rf"^@@begin {re.escape(name)}\n(.*?)^@@end {re.escape(name)}$",
                          self.console, re.M | re.S)
        return found.group(1) if found else None

    def insmod_results(self) -> dict[str, int]:
        """Module name -> insmod's exit status, in load order."""
        return {name: int(rc) for name, rc in _INSMOD.findall(self.console)}

    def insmod_errors(self) -> dict[str, str]:
        """Module name -> why insmod refused it (its message, e.g. "No such device")."""
        return dict(_INSMOD_ERROR.findall(self.console))

    def sections(self) -> dict[str, dict[str, int]]:
        """Module -> section name -> address, from the ``sections`` block."""
        table: dict[str, dict[str, int]] = {}
        for line in (self.block("sections") or "").splitlines():
            parts = line.split()
            if len(parts) == 3 and parts[2].startswith("0x"):
                table.setdefault(parts[0], {})[parts[1]] = int(parts[2], 16)
        return table

    def loaded_modules(self) -> tuple[str, ...]:
        """Names in /proc/modules (the ``modules`` block)."""
        return tuple(line.split()[0] for line in (self.block("modules") or "").splitlines()
                     if line.strip())

    def problems(self) -> tuple[str, ...]:
        """Panic, BUG and Oops lines on the console or in the dmesg block."""
        return tuple(dict.fromkeys(m.group(0).strip() for m in _PANIC.finditer(self.console)))


def _drain(stream, chunks: list[bytes]) -> None:
    for chunk in iter(lambda: stream.read1(65536), b""):
        chunks.append(chunk)


def qemu_argv(arch: str, kernel: Path, initrd: Path, append: str = "",
              memory: str = "1G") -> tuple[str, ...]:
    if arch not in MACHINES:
        raise MigratorError(f"no qemu machine for architecture {arch!r} "
                            f"(known: {', '.join(MACHINES)})")
    binary, machine, console = MACHINES[arch]
    cmdline = f"console={console} panic=-1 {append}".strip()
    return (binary, *machine, "-nographic", "-no-reboot", "-m", memory,
            "-kernel", str(kernel), "-initrd", str(initrd), "-append", cmdline)


def boot(arch: str, kernel: Path, initrd: Path, append: str = "", memory: str = "1G",
         timeout: float = DEFAULT_TIMEOUT) -> BootLog:
    """Boot ``kernel`` with ``initrd`` and return its console; never raises on a guest failure."""
    argv = qemu_argv(arch, kernel, initrd, append, memory)
    if shutil.which(argv[0]) is None:
        raise MigratorError(f"{argv[0]} is not installed (make install)")
    start = time.monotonic()
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    chunks: list[bytes] = []
    reader = threading.Thread(target=_drain, args=(proc.stdout, chunks), daemon=True)
    reader.start()
    timed_out = False
    done_at = None
    while proc.poll() is None:
        now = time.monotonic()
        if done_at is None and b"\n@@done" in b"".join(chunks[-4:]):
            done_at = now
        # A guest that reported everything but cannot turn itself off is stopped.
        if now - start > timeout or (done_at is not None and now - done_at > DONE_GRACE):
            timed_out = done_at is None
            proc.kill()
            break
        time.sleep(0.2)
    proc.wait()
    reader.join()
    out = b"".join(chunks)
    seconds = time.monotonic() - start
    console = out.decode("utf-8", errors="replace").replace("\r\n", "\n").replace("\r", "")
    if timed_out:
        ending = Ending.TIMED_OUT
    elif re.search(r"^@@done$", console, re.M):
        ending = Ending.COMPLETED
    elif "@@start" not in console and proc.returncode != 0:
        ending = Ending.QEMU_FAILED
    else:
        ending = Ending.EXITED_EARLY
    return BootLog(arch, argv, console, ending, None if timed_out else proc.returncode, seconds)
