"""A kernel that out-of-tree code is built against: its version, config and API.

Out-of-tree code names no kernel tree of its own; it is built with
``make -C KDIR M=...`` against a kernel's headers or build directory.  Such a
directory tells which preprocessor branches that kernel compiles (its
LINUX_VERSION_CODE, the CONFIG_ options of its autoconf.h, the macros of the
API header) and which names of the API it has.  Which header, and which of
its names matter, are the migration's (:class:`migrator.vocabulary.NewApi`):
the struct each side of the change defines and its fields, the enumerators
of the new API's enum, and the functions and macros the header defines.

Two layouts are read:

* a source tree (or a headers package's common part): a top Makefile with
  VERSION and PATCHLEVEL, and the API header;
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
from migrator.parse.preproc import kernel_version
from migrator.vocabulary import Vocabulary

from .header import declared_callables, enum_members, struct_fields

_VERSION_H = "include/generated/uapi/linux/version.h"
_AUTOCONF_H = "include/generated/autoconf.h"
_INCLUDE_RE = re.compile(rb"^\s*include\s+(\S+)/Makefile\s*$", re.M)
_DEFINE_RE = re.compile(rb"^\s*#\s*define\s+(\w+)(\([^)]*\))?[ \t]*(.*)$", re.M)
_MAKE_VAR_RE = re.compile(rb"^(VERSION|PATCHLEVEL|SUBLEVEL)\s*=\s*(\d*)\s*$", re.M)
# The option each kernel architecture sets, the more specific first.
_ARCH_OPTIONS = (("arm64", "CONFIG_ARM64"), ("x86", "CONFIG_X86"), ("arm", "CONFIG_ARM"),
                 ("s390", "CONFIG_S390"), ("powerpc", "CONFIG_PPC"), ("ia64", "CONFIG_IA64"))


def read_file(root: str, path: str) -> bytes | None:
    """A file's bytes, None when it does not exist; MigratorError when it cannot be read."""
    try:
        with open(os.path.join(root, path), "rb") as f:
            return f.read()
    except FileNotFoundError:
        return None
    except OSError as e:
        raise MigratorError(f"{os.path.join(root, path)}: cannot read: {e.strerror}") from None


@dataclass(frozen=True)
class Kernel:
    """What one kernel offers out-of-tree code."""

    path: str  # as given
    source: str  # the tree holding the API header
    release: str  # "6.1.192", or the kernel.release of a build directory
    version_code: int  # LINUX_VERSION_CODE
    config: frozenset[str] | None  # CONFIG_ options set (None: a source tree without a config)
    macros: frozenset[str]  # the macros the API header defines (for defined() in #if)
    side_struct: str  # the struct of its side of the change that its header defines
    side_fields: frozenset[str]  # that struct's fields
    has_change: bool  # whether side_struct is the new API's
    enumerators: frozenset[str]  # of the new API's enum (empty before the change)
    callables: frozenset[str]  # functions and macros of the API header
    header: bytes  # the API header itself

    @property
    def arch(self) -> str | None:
        """The kernel architecture its config selects (x86, arm64, ...), if known."""
        for karch, option in _ARCH_OPTIONS:
            if self.config is not None and option in self.config:
                return karch
        return None

    @property
    def label(self) -> str:
        return f"{self.release} ({os.path.basename(os.path.normpath(self.path))})"


def _source_of_build_dir(kdir: str, api_header: str) -> str | None:
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
        if os.path.isfile(os.path.join(where, api_header)):
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


def _version_of_build_dir(kdir: str) -> tuple[int, str] | None:
    found = _defines(read_file(kdir, _VERSION_H) or b"")
    release = (read_file(kdir, "include/config/kernel.release") or b"").strip()
    if not found.get("LINUX_VERSION_CODE", b"").isdigit():
        return None
    code = int(found["LINUX_VERSION_CODE"])
    numbers = [found.get(f"LINUX_VERSION_{k}", b"").decode() for k in ("MAJOR", "PATCHLEVEL", "SUBLEVEL")]
    return code, (release.decode() if release else ".".join(numbers) if all(numbers) else str(code))


def read_kernel(kdir: str, vocabulary: Vocabulary) -> Kernel:
    """The kernel at ``kdir`` (headers, build directory or source tree) as the
    migration of ``vocabulary`` sees it; MigratorError if none."""
    api_header = vocabulary.new.api_header
    sides = tuple(s for s in (vocabulary.new.struct, vocabulary.old.struct) if s is not None)
    if api_header is None or not sides:
        raise MigratorError(f"{vocabulary.path}: [new] 'api_header' and a 'struct' of either side "
                            f"are needed to read a kernel's API")
    if not os.path.isdir(kdir):
        raise MigratorError(f"--kernel {kdir}: not a directory")
    generated = os.path.isdir(os.path.join(kdir, "include", "generated"))
    if os.path.isfile(os.path.join(kdir, api_header)):
        source = kdir
    elif generated:
        source = _source_of_build_dir(kdir, api_header)
        if source is None:
            raise MigratorError(f"--kernel {kdir}: a build directory whose source tree (with "
                                f"{api_header}) cannot be found from its Makefile or source link")
    else:
        raise MigratorError(f"--kernel {kdir}: neither a kernel tree with {api_header} nor a "
                            f"build directory with include/generated")
    config = None
    version = None
    if generated:
        autoconf = read_file(kdir, _AUTOCONF_H)
        if autoconf is not None:
            config = frozenset(k for k in _defines(autoconf) if k.startswith("CONFIG_"))
        version = _version_of_build_dir(kdir)
    if version is None:
        version = _version_of_source(source)
    if version is None:
        raise MigratorError(f"--kernel {kdir}: no LINUX_VERSION_CODE in {_VERSION_H} and no "
                            f"VERSION/PATCHLEVEL in the Makefile")
    header = read_file(source, api_header)
    root = parse_c(header).root_node
    where = os.path.join(source, api_header)
    # The structs of the API that both sides have must be there.
    for name in vocabulary.new.field_structs:
        if name not in sides and struct_fields(root, header, name) is None:
            raise MigratorError(f"{where}: no struct {name}")
    for side in sides:  # the new side first: a tree in the middle of the change has both
        side_fields = struct_fields(root, header, side)
        if side_fields is not None:
            break
    else:
        raise MigratorError(f"{where}: neither struct {' nor struct '.join(reversed(sides))}")
    enum = vocabulary.new.enum
    enumerators = enum_members(root, header, enum) if enum is not None else None
    return Kernel(kdir, source, version[1], version[0], config, frozenset(_defines(header)),
                  side, side_fields, side == vocabulary.new.struct, frozenset(enumerators or ()),
                  declared_callables(root, header), header)
