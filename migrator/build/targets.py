"""Build targets: which kernel configuration proves which rewritten file builds.

A target is data read from a kernel profile's ``targets.toml`` (a pack's
``profiles/NAME/targets.toml``): an ARCH, a CROSS_COMPILE prefix, a
defconfig, the ``scripts/config`` edits applied on top of it and the
objects to build.  Loading is strict: an unknown or missing field is a
``MigratorError`` naming the field, so a typo never silently builds the
wrong thing.
"""

from __future__ import annotations

import dataclasses
import os
import re
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from migrator.errors import MigratorError

if TYPE_CHECKING:
    from migrator.migration import Migration

# The file of a kernel profile's build targets, in its folder beside its areas.
TARGETS_FILE = "targets.toml"

# The verbs are the long options of the kernel's scripts/config, minus "--".
_VALUE_VERBS = frozenset({"set-str", "set-val"})
_PLAIN_VERBS = frozenset({"enable", "disable", "module", "undefine"})
_VERBS = _VALUE_VERBS | _PLAIN_VERBS

_NAME_RE = re.compile(r"[a-z0-9][a-z0-9_.-]*\Z")
_ARCH_RE = re.compile(r"[a-z0-9_]+\Z")
_SYMBOL_RE = re.compile(r"[A-Za-z0-9_]+\Z")
_MAKE_TARGET_RE = re.compile(r"[A-Za-z0-9_.+-]+\Z")
_PREFIX_RE = re.compile(r"\S*\Z")

_REQUIRED = ("name", "arch", "cross_compile", "defconfig", "objects")
_OPTIONAL = ("config", "note")

# ARCH values whose sources live under another arch/ directory (the
# kernel Makefile's SRCARCH).
_SRCARCH = {
    "i386": "x86",
    "x86_64": "x86",
    "sparc32": "sparc",
    "sparc64": "sparc",
    "parisc64": "parisc",
    "sh64": "sh",
}


@dataclass(frozen=True)
class ConfigEdit:
    """One ``scripts/config`` command, e.g. ``enable ARM64_MODULE_PLTS``."""

    verb: str
    symbol: str  # without the CONFIG_ prefix
    value: str | None = None

    @classmethod
    def parse(cls, text: str) -> ConfigEdit:
        """Parse ``"VERB SYMBOL [VALUE]"``; raise ValueError with the cause."""
        parts = text.split(None, 2)
        if len(parts) < 2:
            raise ValueError(f"expected 'VERB SYMBOL', got {text!r}")
        verb, symbol = parts[0], parts[1]
        if verb not in _VERBS:
            raise ValueError(
                f"unknown verb {verb!r} (expected one of {', '.join(sorted(_VERBS))})"
            )
        symbol = symbol.removeprefix("CONFIG_")
        if not _SYMBOL_RE.match(symbol):
            raise ValueError(f"bad Kconfig symbol {parts[1]!r}")
        if verb in _VALUE_VERBS:
            if len(parts) < 3:
                raise ValueError(f"{verb} needs a value: '{verb} {symbol} VALUE'")
            return cls(verb, symbol, parts[2])
        if len(parts) > 2:
            raise ValueError(f"{verb} takes no value, got {parts[2]!r}")
        return cls(verb, symbol)

    def __str__(self) -> str:
        tail = f" {self.value}" if self.value is not None else ""
        return f"{self.verb} {self.symbol}{tail}"

    def script_args(self) -> list[str]:
        """The arguments to pass to ``scripts/config``."""
        args = [f"--{self.verb}", self.symbol]
        if self.value is not None:
            args.append(self.value)
        return args

    def wanted(self) -> str | None:
        """The value this edit asks for in .config terms, or None if it asks none.

        ``"n"`` stands for "not set"; ``undefine`` expresses no wish.
        """
        if self.verb == "enable":
            return "y"
        if self.verb == "module":
            return "m"
        if self.verb == "disable":
            return "n"
        if self.verb == "set-str":
            return '"' + (self.value or "").replace("\\", "\\\\").replace('"', '\\"') + '"'
        if self.verb == "set-val":
            return self.value
        return None


@dataclass(frozen=True)
class Target:
    """A configuration of the kernel and the objects to build in it."""

    name: str
    arch: str
    cross_compile: str
    defconfig: str
    config: tuple[ConfigEdit, ...]
    objects: tuple[str, ...]
    note: str = ""

    @property
    def srcarch(self) -> str:
        """The directory under arch/ that holds this ARCH's sources."""
        return _SRCARCH.get(self.arch, self.arch)

    @property
    def compiler(self) -> str:
        """The C compiler kbuild will call."""
        return f"{self.cross_compile}gcc"

    def config_inputs(self) -> dict[str, object]:
        """Everything that decides the .config; a change means reconfiguring.

        The objects are not part of it: building other objects in the same
        configuration needs no new .config.
        """
        return {
            "arch": self.arch,
            "cross_compile": self.cross_compile,
            "defconfig": self.defconfig,
            "config": [str(edit) for edit in self.config],
        }

    def with_objects(self, objects: Iterable[str]) -> Target:
        """The same configuration building ``objects`` instead."""
        objs = tuple(objects)
        where = f"target {self.name!r}"
        _check_objects(objs, where)
        return dataclasses.replace(self, objects=objs)


def profile_targets(migration: Migration, profile: str | None = None,
                    required: bool = True) -> tuple[Target, ...]:
    """The build targets of a pack's profile (default: its default profile).

    A profile without a targets file is a MigratorError saying so, or, with
    ``required`` False, no targets.
    """
    path = migration.profile_file(TARGETS_FILE, profile)
    if path is not None:
        return load_targets(path)
    if not required:
        return ()
    name = profile or migration.default_profile
    raise MigratorError(f"the {migration.id} pack's profile {name} has no build targets "
                        f"(profiles/{name}/{TARGETS_FILE})")


def object_targets(targets: Iterable[Target]) -> tuple[Target, ...]:
    """The targets that build single objects: the quick checks (a folder or vmlinux takes long)."""
    return tuple(t for t in targets if all(o.endswith(".o") for o in t.objects))


def load_targets(path: str | os.PathLike) -> tuple[Target, ...]:
    """Read build targets from a TOML file.

    Raises MigratorError, naming the file and the field, on any mistake.
    """
    label = str(path)
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise MigratorError(f"{label}: cannot read: {exc.strerror or exc}") from None
    return parse_targets(data, label)


def parse_targets(data: bytes | str, label: str = "targets.toml") -> tuple[Target, ...]:
    """Parse the text of a targets file; ``label`` names it in errors."""
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise MigratorError(f"{label}: not UTF-8: {exc.reason}") from None
    try:
        doc = tomllib.loads(data)
    except tomllib.TOMLDecodeError as exc:
        raise MigratorError(f"{label}: invalid TOML: {_one_line(str(exc))}") from None

    extra = sorted(set(doc) - {"target"})
    if extra:
        raise MigratorError(
            f"{label}: unknown top-level key {extra[0]!r} (targets are [[target]] tables)"
        )
    tables = doc.get("target")
    if tables is None:
        raise MigratorError(f"{label}: no [[target]] tables")
    if not isinstance(tables, list):
        raise MigratorError(f"{label}: 'target' must be an array of tables ([[target]])")

    targets: list[Target] = []
    seen: set[str] = set()
    for index, table in enumerate(tables, start=1):
        target = _parse_target(table, f"{label}: target #{index}")
        if target.name in seen:
            raise MigratorError(f"{label}: target #{index}: duplicate name {target.name!r}")
        seen.add(target.name)
        targets.append(target)
    return tuple(targets)


def select_targets(targets: Sequence[Target], names: Iterable[str]) -> tuple[Target, ...]:
    """The targets called ``names``, in that order; an unknown name is an error."""
    by_name = {t.name: t for t in targets}
    picked: list[Target] = []
    for name in names:
        if name not in by_name:
            known = ", ".join(by_name) or "none"
            raise MigratorError(f"unknown build target {name!r} (known: {known})")
        if by_name[name] not in picked:
            picked.append(by_name[name])
    return tuple(picked)


def targets_for_sources(
    targets: Sequence[Target], sources: Iterable[str]
) -> tuple[tuple[Target, ...], tuple[str, ...]]:
    """Plan a build of exactly the objects made from ``sources``.

    ``sources`` are paths relative to the tree, e.g. the files a patch
    touches.  A ``.c`` or ``.S`` file goes to the first target that already
    lists its object, or else to the first target whose arch/ directory
    holds it.  Returns the targets (restricted to those objects, in the
    order of ``targets``) and the sources no target could take: headers,
    and files of architectures without a target.  Which objects a header
    reaches is the caller's decision.
    """
    wanted: dict[str, list[str]] = {}
    unplaced: list[str] = []
    for source in sources:
        path = PurePosixPath(source)
        if path.suffix not in (".c", ".S") or path.is_absolute() or ".." in path.parts:
            unplaced.append(source)
            continue
        obj = str(path.with_suffix(".o"))
        owner = next((t for t in targets if obj in t.objects), None)
        if owner is None:
            owner = next(
                (t for t in targets if path.parts[:2] == ("arch", t.srcarch)), None
            )
        if owner is None:
            unplaced.append(source)
            continue
        objs = wanted.setdefault(owner.name, [])
        if obj not in objs:
            objs.append(obj)
    planned = tuple(t.with_objects(wanted[t.name]) for t in targets if t.name in wanted)
    return planned, tuple(unplaced)


def _parse_target(table: object, where: str) -> Target:
    if not isinstance(table, dict):
        raise MigratorError(f"{where}: must be a table")
    # Name the target in later messages once its name is known.
    name = table.get("name")
    if isinstance(name, str) and name:
        where = f"{where} ({name})"
    for key in table:
        if key not in _REQUIRED and key not in _OPTIONAL:
            raise MigratorError(
                f"{where}: unknown field {key!r} "
                f"(fields: {', '.join(_REQUIRED + _OPTIONAL)})"
            )
    for key in _REQUIRED:
        if key not in table:
            raise MigratorError(f"{where}: missing field {key!r}")

    name = _string(table, "name", where, _NAME_RE, "lowercase letters, digits, '_', '.', '-'")
    arch = _string(table, "arch", where, _ARCH_RE, "an ARCH value such as 'arm64'")
    cross = _string(table, "cross_compile", where, _PREFIX_RE, "a prefix without spaces")
    defconfig = _string(table, "defconfig", where, _MAKE_TARGET_RE, "a make target")
    note = table.get("note", "")
    if not isinstance(note, str):
        raise MigratorError(f"{where}: field 'note' must be a string")

    raw_config = table.get("config", [])
    if not isinstance(raw_config, list):
        raise MigratorError(f"{where}: field 'config' must be a list of strings")
    edits: list[ConfigEdit] = []
    for i, item in enumerate(raw_config):
        if not isinstance(item, str):
            raise MigratorError(f"{where}: field 'config'[{i}] must be a string")
        try:
            edits.append(ConfigEdit.parse(item))
        except ValueError as exc:
            raise MigratorError(f"{where}: field 'config'[{i}]: {exc}") from None

    objects = table["objects"]
    if not isinstance(objects, list) or not all(isinstance(o, str) for o in objects):
        raise MigratorError(f"{where}: field 'objects' must be a list of strings")
    _check_objects(tuple(objects), where)

    return Target(
        name=name,
        arch=arch,
        cross_compile=cross,
        defconfig=defconfig,
        config=tuple(edits),
        objects=tuple(objects),
        note=note.strip(),
    )


def _string(table: dict, key: str, where: str, pattern: re.Pattern, what: str) -> str:
    value = table[key]
    if not isinstance(value, str):
        raise MigratorError(f"{where}: field {key!r} must be a string")
    if not pattern.match(value):
        raise MigratorError(f"{where}: field {key!r} = {value!r} is not {what}")
    return value


def _check_objects(objects: tuple[str, ...], where: str) -> None:
    if not objects:
        raise MigratorError(f"{where}: field 'objects' is empty")
    for obj in objects:
        path = PurePosixPath(obj)
        # An object, a folder (kbuild builds all of it) or the linked vmlinux.
        goal = path.suffix == ".o" or obj == "vmlinux" or (obj.endswith("/") and str(path) + "/" == obj)
        if (
            path.is_absolute()
            or ".." in path.parts
            or not goal
            or (str(path) != obj and not obj.endswith("/"))
            or any(c.isspace() for c in obj)
        ):
            raise MigratorError(
                f"{where}: field 'objects': {obj!r} is not a relative path to a .o file,"
                " a folder ending in /, or vmlinux"
            )


def _one_line(text: str) -> str:
    return " ".join(text.split())
