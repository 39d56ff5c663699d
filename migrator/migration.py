"""A migration is a pack of data that the engine loads.

A pack is a folder holding `pack.toml` (its id, what it changes, the Linux
version the change landed in, and its default profile), its rules
(`rules/sites`, `rules/loader`, `rules/regions`), its profiles (which rules
apply where in a tree; a kernel profile's folder also holds its build targets
and subject prefixes), its series texts, its corpus cases and, if it has
one, its model plug-in (a Python package that `migrator check` checks a
rewrite's meaning with).  The packs
migrator ships sit in `migrations/`, beside the package in a checkout and
inside it in a wheel; a pack elsewhere is named by its path.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import re
import sys
import types
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from .errors import MigratorError
from .tomlfile import check_fields, load_toml
from .vocabulary import VOCABULARY_FILE, Vocabulary, load_vocabulary

DEFAULT_MIGRATION = "module-memory"
PACK_FILE = "pack.toml"
# The fields of pack.toml: required strings, and `modes`, the runs the pack
# supports (a pack that does not change the API's own definition in a
# kernel tree cannot migrate a kernel tree without half-migrating it).
_PACK_FIELDS = {"id": str, "description": str, "landed_in": str, "default_profile": str, "modes": list,
                "model": str}
_REQUIRED = ("id", "description", "landed_in", "default_profile")
MODES = ("kernel", "out-of-tree")
_VERSION_RE = re.compile(r"^[0-9]+\.[0-9]+(?:\.[0-9]+)?$")
# The package a pack's model plug-in is imported under: migrator_packs.<id>.<folder>,
# with the id's dashes as underscores, so that its relative imports work.
PLUGIN_ROOT = "migrator_packs"


def shipped_root() -> Path:
    """The folder of the shipped packs: in the package (a wheel) or beside it (a checkout)."""
    package = Path(__file__).resolve().parent
    inside = package / "migrations"
    return inside if inside.is_dir() else package.parent / "migrations"


def shipped_migrations() -> tuple[str, ...]:
    """The names of the shipped packs, sorted."""
    root = shipped_root()
    if not root.is_dir():
        return ()
    return tuple(sorted(p.name for p in root.iterdir() if (p / PACK_FILE).is_file()))


@dataclass(frozen=True)
class Migration:
    """One pack: what pack.toml says, and where its parts are."""

    id: str
    root: Path
    description: str
    landed_in: str  # the Linux version whose release carries the change, e.g. "6.5"
    default_profile: str
    vocabulary: Vocabulary  # vocabulary.toml: the old API's occurrences, the new API's names
    modes: tuple[str, ...] = MODES  # the runs it supports: kernel, out-of-tree
    model_dir: str | None = None  # pack.toml's `model`: the folder of its model plug-in, if any

    @property
    def landed_version(self) -> tuple[int, int, int]:
        """landed_in as the three numbers of KERNEL_VERSION(a, b, c)."""
        return version_numbers(self.landed_in)

    @property
    def rules_dir(self) -> Path:
        return self.root / "rules"

    @property
    def sites_dir(self) -> Path:
        """The site rules that apply where no area of the profile says otherwise."""
        return self.rules_dir / "sites"

    @property
    def regions_dir(self) -> Path:
        return self.rules_dir / "regions"

    @property
    def series_dir(self) -> Path:
        """The jinja2 templates of the series' subjects, messages and cover letter."""
        return self.root / "series"

    @property
    def cases_dir(self) -> Path:
        return self.root / "cases"

    @property
    def has_model(self) -> bool:
        return self.model_dir is not None

    def model(self, part: str | None = None) -> types.ModuleType:
        """The pack's model plug-in (a Python package in the pack), or its module `part`.

        The model checks a rewrite by meaning: a loader's layout before and
        after, address tests on real modules.  A pack without one, or a part
        the model lacks, is a MigratorError.
        """
        if self.model_dir is None:
            raise MigratorError(f"the {self.id} pack has no model to check with")
        folder = self.root / self.model_dir
        package = _import_plugin(self.id, folder)
        if part is None:
            return package
        if not ((folder / f"{part}.py").is_file() or (folder / part / "__init__.py").is_file()):
            raise MigratorError(f"the {self.id} pack's model has no part '{part}' ({self.model_dir}/{part}.py)")
        return importlib.import_module(f"{package.__name__}.{part}")

    def profile(self, name: str | None = None) -> Path:
        """The profile file `name` (default: the pack's default profile)."""
        name = name or self.default_profile
        path = self.root / "profiles" / f"{name}.toml"
        if not path.is_file():
            raise MigratorError(f"{self.root}: no profile '{name}' (profiles/{name}.toml)")
        return path

    def profile_file(self, file: str, name: str | None = None) -> Path | None:
        """A data file of the profile `name` beside its areas: profiles/NAME/FILE, such as
        the build targets or the subject prefixes of a kernel; None when it has none."""
        path = self.profile(name).with_suffix("") / file
        return path if path.is_file() else None


def version_numbers(version: str) -> tuple[int, int, int]:
    """A version like "5.10" as the three numbers of KERNEL_VERSION(5, 10, 0)."""
    parts = [int(p) for p in version.split(".")]
    return tuple(parts + [0] * (3 - len(parts)))  # type: ignore[return-value]


def _import_plugin(pack_id: str, folder: Path) -> types.ModuleType:
    """Import `folder` (a package) as migrator_packs.<pack_id>.<folder name>, once."""
    parent = f"{PLUGIN_ROOT}.{pack_id.replace('-', '_')}"
    name = f"{parent}.{folder.name}"
    if name in sys.modules:
        return sys.modules[name]
    init = folder / "__init__.py"
    if not init.is_file():
        raise MigratorError(f"{folder}: the pack's model is not a Python package (no __init__.py)")
    for namespace in (PLUGIN_ROOT, parent):  # plain parents: the plug-ins are found by path
        if namespace not in sys.modules:
            module = types.ModuleType(namespace)
            module.__path__ = []
            sys.modules[namespace] = module
    spec = importlib.util.spec_from_file_location(name, init, submodule_search_locations=[str(folder)])
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


def _pack_folder(name_or_path: str | os.PathLike) -> Path:
    text = os.fspath(name_or_path)
    if os.sep in text or (os.altsep and os.altsep in text) or text in (".", ".."):
        return Path(text)
    folder = shipped_root() / text
    if not (folder / PACK_FILE).is_file():
        shipped = ", ".join(shipped_migrations()) or "none"
        raise MigratorError(f"{text}: no such migration (shipped: {shipped}; "
                            f"a pack elsewhere is named by a path with a /)")
    return folder


@lru_cache(maxsize=8)
def load_migration(name_or_path: str | os.PathLike = DEFAULT_MIGRATION) -> Migration:
    """The pack named `name_or_path`: a shipped pack's name, or the path of a pack folder.

    A bad pack.toml is a one-line MigratorError naming the file and the field.
    """
    folder = _pack_folder(name_or_path)
    path = folder / PACK_FILE
    if not path.is_file():
        raise MigratorError(f"{folder}: not a migration pack (no {PACK_FILE})")
    data = load_toml(path)
    check_fields(str(path), data, _PACK_FIELDS, _REQUIRED)
    modes = tuple(data.get("modes", MODES))
    if not modes or not set(modes) <= set(MODES):
        raise MigratorError(f"{path}: field 'modes' must list some of {', '.join(MODES)}")
    if data["id"] != folder.resolve().name:
        raise MigratorError(f"{path}: field 'id': '{data['id']}' differs from the folder name")
    if not _VERSION_RE.match(data["landed_in"]):
        raise MigratorError(f"{path}: field 'landed_in': '{data['landed_in']}' is not a version like 6.5")
    migration = Migration(data["id"], folder.resolve(), " ".join(data["description"].split()),
                          data["landed_in"], data["default_profile"],
                          load_vocabulary(folder.resolve() / VOCABULARY_FILE, version_numbers(data["landed_in"])), modes,
                          data.get("model"))
    migration.profile()  # the default profile must exist
    if migration.model_dir is not None and not (migration.root / migration.model_dir).is_dir():
        raise MigratorError(f"{path}: field 'model': no folder {migration.model_dir}")
    return migration
