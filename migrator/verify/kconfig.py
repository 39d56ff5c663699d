"""The kernel configuration facts that change where the loader puts sections."""

from __future__ import annotations

from dataclasses import dataclass

from migrator.errors import MigratorError
from migrator.verify.elf import SHF_IA_64_SHORT

# Debian architecture -> kernel architecture directory.
KERNEL_ARCH = {
    "amd64": "x86",
    "i386": "x86",
    "arm64": "arm64",
    "armhf": "arm",
    "armel": "arm",
    "s390x": "s390",
    "ppc64el": "powerpc",
    "ppc64": "powerpc",
    "powerpc": "powerpc",
    "ia64": "ia64",
}

# Page-size options per kernel architecture; 4 KiB when none is set.
_PAGE_OPTIONS = {
    "arm64": {"ARM64_16K_PAGES": 16384, "ARM64_64K_PAGES": 65536},
    "powerpc": {"PPC_16K_PAGES": 16384, "PPC_64K_PAGES": 65536, "PPC_256K_PAGES": 262144},
    "ia64": {"IA64_PAGE_SIZE_8KB": 8192, "IA64_PAGE_SIZE_16KB": 16384,
             "IA64_PAGE_SIZE_64KB": 65536},
}


@dataclass(frozen=True, slots=True)
class KernelConfig:
    """What a module loader reads from .config, plus the arch's constants."""

    arch: str
    page_size: int = 4096
    strict_module_rwx: bool = True
    data_in_vmalloc: bool = False
    module_unload: bool = True
    kallsyms: bool = True
    kallsyms_all: bool = True
    livepatch: bool = False
    smp: bool = True
    arch_shf_small: int = 0
    randomize_base: bool = True
    module_plts: bool = True
    dynamic_ftrace: bool = True
    dynamic_ftrace_with_regs: bool = True
    expoline: bool = True
    l1_cache_bytes: int = 64

    @property
    def kernel_arch(self) -> str:
        return KERNEL_ARCH.get(self.arch, self.arch)


def parse_config(text: str, arch: str) -> KernelConfig:
    """Read a kernel ``.config`` (``/boot/config-*``) for the Debian ``arch``."""
    options: dict[str, str] = {}
    for line in text.splitlines():
        if line.startswith("CONFIG_") and "=" in line:
            key, _, value = line.partition("=")
            options[key[len("CONFIG_"):]] = value.strip()
    if not options:
        raise MigratorError(f"kernel config for {arch} has no CONFIG_ lines")
    kernel_arch = KERNEL_ARCH.get(arch, arch)

    def on(name: str) -> bool:
        return options.get(name) in ("y", "m")

    page_size = 4096
    for option, size in _PAGE_OPTIONS.get(kernel_arch, {}).items():
        if on(option):
            page_size = size
    return KernelConfig(
        arch=arch,
        page_size=page_size,
        strict_module_rwx=on("STRICT_MODULE_RWX"),
        data_in_vmalloc=on("ARCH_WANTS_MODULES_DATA_IN_VMALLOC"),
        module_unload=on("MODULE_UNLOAD"),
        kallsyms=on("KALLSYMS"),
        kallsyms_all=on("KALLSYMS_ALL"),
        livepatch=on("LIVEPATCH"),
        smp=on("SMP"),
        arch_shf_small=SHF_IA_64_SHORT if kernel_arch == "ia64" else 0,
        randomize_base=on("RANDOMIZE_BASE"),
        module_plts=on("ARM64_MODULE_PLTS") or on("ARM_MODULE_PLTS"),
        dynamic_ftrace=on("DYNAMIC_FTRACE"),
        dynamic_ftrace_with_regs=on("DYNAMIC_FTRACE_WITH_REGS"),
        expoline=on("EXPOLINE"),
        l1_cache_bytes=1 << int(options.get("ARM_L1_CACHE_SHIFT", "6")),
    )
