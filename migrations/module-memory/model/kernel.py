"""A kernel that out-of-tree code is built against: its version, config and module API.

Out-of-tree code names no kernel tree of its own; it is built with
``make -C KDIR M=...`` against a kernel's headers or build directory.  Such a
directory tells which preprocessor branches that kernel compiles (its
LINUX_VERSION_CODE, the CONFIG_ options of its autoconf.h, the macros of its
module.h) and which names of the module API it has: the fields of ``struct
module`` and of its layout struct (``module_layout`` before v6.4,
``module_memory`` since), the enumerators of ``enum mod_mem_type`` and the
functions and macros module.h defines.

Two layouts are read:

* a source tree (or a headers package's common part): a top Makefile with
  VERSION and PATCHLEVEL, and include/linux/module.h;
* a build directory (Debian's ``linux-headers-*-ARCH``, or ``O=``):
  include/generated/ with the version and autoconf.h, and its source tree
  found through a ``source`` link or the Makefile's ``include .../Makefile``.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from migrator.errors import MigratorError
from migrator.parse import parse_c
from migrator.migration import load_migration
from migrator.verify.header import declared_callables, enum_members, struct_fields
from .source import read_file

# The header that defines struct module, the same before and after the change.
API_HEADER = load_migration().vocabulary.new.api_header
_VERSION_H = "include/generated/uapi/linux/version.h"
_AUTOCONF_H = "include/generated/autoconf.h"
_INCLUDE_RE = re.compile(rb"^\s*include\s+(\S+)/Makefile\s*$", re.M)
_DEFINE_RE = re.compile(rb"^\s*#\s*define\s+(\w+)(\([^)]*\))?[ \t]*(.*)$", re.M)
_MAKE_VAR_RE = re.compile(rb"^(VERSION|PATCHLEVEL|SUBLEVEL)\s*=\s*(\d*)\s*$", re.M)
# The option each kernel architecture sets, the more specific first.
_ARCH_OPTIONS = (("arm64", "CONFIG_ARM64"), ("x86", "CONFIG_X86"), ("arm", "CONFIG_ARM"),
                 ("s390", "CONFIG_S390"), ("powerpc", "CONFIG_PPC"), ("ia64", "CONFIG_IA64"))
# The layout struct of each side of the change.
LAYOUT_STRUCTS = ("module_layout", "module_memory")


def kernel_version(major: int, minor: int, patch: int) -> int:
    """KERNEL_VERSION(a, b, c) as the kernel computes it (the patch level saturates)."""
    return (major << 16) + (minor << 8) + min(patch, 255)


@dataclass(frozen=True)
class Kernel:
    """What one kernel offers out-of-tree code."""

    path: str  # as given
    source: str  # the tree holding include/linux/module.h
    release: str  # "6.1.192", or the kernel.release of a build directory
    version_code: int  # LINUX_VERSION_CODE
    config: frozenset[str] | None  # CONFIG_ options set (None: a source tree without a config)
    macros: frozenset[str]  # the macros module.h defines (for defined() in #if)
    module_fields: frozenset[str]
    layout_struct: str  # "module_layout" or "module_memory"
    layout_fields: frozenset[str]
    enumerators: frozenset[str]  # of enum mod_mem_type (empty before v6.4)
    callables: frozenset[str]  # functions and macros of module.h
    module_h: bytes

    @property
    def arch(self) -> str | None:
        """The kernel architecture its config selects (x86, arm64, ...), if known."""
        for karch, option in _ARCH_OPTIONS:
            if self.config is not None and option in self.config:
                return karch
        return None

    @property
    def has_module_memory(self) -> bool:
        return self.layout_struct == "module_memory"

    @property
    def label(self) -> str:
        return f"{self.release} ({os.path.basename(os.path.normpath(self.path))})"


def _source_of_build_dir(kdir: str) -> str | None:
    """The source tree a build directory was configured from."""
    link = os.path.join(kdir, "source")
    if os.path.isdir(os.path.join(link, "include", "linux")):
        return link
    makefile = read_file(kdir, "Makefile") or b""
    m = _INCLUDE_RE.search(makefile)
    if m is None:
        return None
    named = os.path.join(kdir, os.fsdecode(m.group(1)))  # a relative path is from kdir
    # A package unpacked elsewhere than / keeps its absolute path in the Makefile:
    # the common part then sits beside the build directory.
    for where in (named, os.path.join(os.path.dirname(os.path.abspath(kdir)),
                                      os.path.basename(named))):
        if os.path.isfile(os.path.join(where, API_HEADER)):
            return where
    return None


def _version_of_source(source: str) -> tuple[int, str] | None:
    fields = {k.decode(): v.decode() for k, v in
              _MAKE_VAR_RE.findall(read_file(source, "Makefile") or b"")}
    if not fields.get("VERSION") or not fields.get("PATCHLEVEL"):
        return None
    numbers = (int(fields["VERSION"]), int(fields["PATCHLEVEL"]), int(fields.get("SUBLEVEL") or 0))
    return kernel_version(*numbers), ".".join(map(str, numbers))


def _defines(data: bytes) -> dict[str, bytes]:
    return {m.group(1).decode(): m.group(3).strip() for m in _DEFINE_RE.finditer(data)}


def read_kernel(kdir: str) -> Kernel:
    """The kernel at ``kdir`` (headers, build directory or source tree); MigratorError if none."""
    if not os.path.isdir(kdir):
        raise MigratorError(f"--kernel {kdir}: not a directory")
    generated = os.path.isdir(os.path.join(kdir, "include", "generated"))
    if os.path.isfile(os.path.join(kdir, API_HEADER)):
        source = kdir
    elif generated:
        source = _source_of_build_dir(kdir)
        if source is None:
            raise MigratorError(f"--kernel {kdir}: a build directory whose source tree (with "
                                f"{API_HEADER}) cannot be found from its Makefile or source link")
    else:
        raise MigratorError(f"--kernel {kdir}: neither a kernel tree with {API_HEADER} nor a "
                            f"build directory with include/generated")
    config = None
    version = None
    if generated:
        autoconf = read_file(kdir, _AUTOCONF_H)
        if autoconf is not None:
            config = frozenset(k for k in _defines(autoconf) if k.startswith("CONFIG_"))
        found = _defines(read_file(kdir, _VERSION_H) or b"")
        release = (read_file(kdir, "include/config/kernel.release") or b"").strip()
        if found.get("LINUX_VERSION_CODE", b"").isdigit():
            code = int(found["LINUX_VERSION_CODE"])
            numbers = [found.get(f"LINUX_VERSION_{k}", b"").decode()
                       for k in ("MAJOR", "PATCHLEVEL", "SUBLEVEL")]
            version = (code, release.decode() if release else
                       ".".join(numbers) if all(numbers) else str(code))
    if version is None:
        version = _version_of_source(source)
    if version is None:
        raise MigratorError(f"--kernel {kdir}: no LINUX_VERSION_CODE in {_VERSION_H} and no "
                            f"VERSION/PATCHLEVEL in the Makefile")
    module_h = read_file(source, API_HEADER)
    root = parse_c(module_h).root_node
    module_fields = struct_fields(root, module_h, "module")
    if module_fields is None:
        raise MigratorError(f"{os.path.join(source, API_HEADER)}: no struct module")
    for layout in reversed(LAYOUT_STRUCTS):
        layout_fields = struct_fields(root, module_h, layout)
        if layout_fields is not None:
            break
    else:
        raise MigratorError(f"{os.path.join(source, API_HEADER)}: neither struct "
                            f"{' nor struct '.join(LAYOUT_STRUCTS)}")
    return Kernel(kdir, source, version[1], version[0], config, frozenset(_defines(module_h)),
                  module_fields, layout, layout_fields,
                  frozenset(enum_members(root, module_h, "mod_mem_type") or ()),
                  declared_callables(root, module_h), module_h)
