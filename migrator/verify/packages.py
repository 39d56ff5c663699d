"""Real modules: Debian's linux-image packages, their .ko files and their configs.

Packages are fetched with ``apt-get download`` into
``~/.cache/migrator/modules/<arch>/``.  A foreign architecture gets its own
apt state under ``~/.cache/migrator/apt/<arch>/`` (sources list, lists,
cache, an empty dpkg status, ``APT::Architecture``), so the system's apt
setup is never touched; the host architecture uses the system's apt lists.

Reading a package yields its modules' :class:`ModuleImage` values and its
``/boot/config-*``.  They are cached beside the package (``.images``, a
``marshal`` file keyed by the package's size and mtime), so a second check
skips decompression and ELF parsing.
"""

from __future__ import annotations

import gzip
import io
import lzma
import marshal
import os
import re
import shutil
import subprocess
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from migrator.errors import MigratorError
from migrator.verify.image import ModuleImage, read_image

# Debian architecture -> flavour of its linux-image-<flavour> metapackage.
FLAVOURS = {
    "amd64": "amd64",
    "arm64": "arm64",
    "armhf": "armmp",
    "s390x": "s390x",
    "ppc64el": "powerpc64le",
}
SUITES = ("bookworm", "bookworm-updates")
SECURITY_SUITE = "bookworm-security"
KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"
MODULE_SUFFIXES = (".ko", ".ko.xz", ".ko.zst", ".ko.gz")
CACHE_FORMAT = 2  # 2: W|X sections kept whatever their SHF_ALLOC


@dataclass(frozen=True, slots=True)
class PackageModules:
    """The modules of one package (or directory) and the config they were built with."""

    source: str
    config_text: str
    images: tuple[ModuleImage, ...]
    unreadable: tuple[tuple[str, str], ...]
    from_cache: bool


def cache_root() -> Path:
    """``$MIGRATOR_CACHE``, else ``~/.cache/migrator`` (shared with corpus/fetch.py)."""
    return Path(os.environ.get("MIGRATOR_CACHE") or Path.home() / ".cache" / "migrator")


def module_cache(arch: str) -> Path:
    return cache_root() / "modules" / arch


def _run(argv: list[str], cwd: Path | None = None) -> str:
    try:
        done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise MigratorError(f"{argv[0]} is not installed") from None
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no message"])[-1]
        raise MigratorError(f"{' '.join(argv[:2])} failed: {last}")
    return done.stdout


def host_arch() -> str:
    return _run(["dpkg", "--print-architecture"]).strip()


def apt_options(arch: str) -> list[str]:
    """``-o`` options for apt of ``arch``: none for the host, a private state otherwise."""
    if arch == host_arch():
        return []
    root = cache_root() / "apt" / arch
    etc = root / "etc"
    for sub in ("lists/partial", "cache/archives/partial", "state", "etc/sources.list.d",
                "etc/preferences.d"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    status = root / "state" / "status"
    if not status.exists():
        status.write_text("")
    sources = etc / "sources.list"
    lines = [f"deb [signed-by={KEYRING}] http://deb.debian.org/debian {suite} main"
             for suite in SUITES]
    lines.append(f"deb [signed-by={KEYRING}] http://deb.debian.org/debian-security "
                 f"{SECURITY_SUITE} main")
    text = "\n".join(lines) + "\n"
    if not sources.exists() or sources.read_text() != text:
        sources.write_text(text)
    return [
        "-o", f"APT::Architecture={arch}",
        "-o", f"APT::Architectures={arch}",
        "-o", f"Dir::Etc::SourceList={sources}",
        "-o", f"Dir::Etc::SourceParts={etc / 'sources.list.d'}",
        "-o", f"Dir::Etc::PreferencesParts={etc / 'preferences.d'}",
        "-o", f"Dir::State={root / 'state'}",
        "-o", f"Dir::State::Lists={root / 'lists'}",
        "-o", f"Dir::State::status={status}",
        "-o", f"Dir::Cache={root / 'cache'}",
        "-o", "Acquire::Languages=none",
        "-o", "APT::Sandbox::User=root",
    ]


def update_index(arch: str) -> tuple[str, ...]:
    """``apt-get update`` in the private state of a foreign ``arch`` (the host's is left alone).

    A suite whose index cannot be had (a mirror mid-sync) is not fatal while
    another suite's index is there: the package then comes from the suites
    apt does know.  Returns apt's error lines in that case.
    """
    options = apt_options(arch)
    if not options:
        return ()
    done = subprocess.run(["apt-get", *options, "update"], capture_output=True, text=True,
                          check=False)
    if done.returncode == 0:
        return ()
    errors = tuple(line for line in done.stderr.splitlines() if line.startswith("E:"))
    if any((cache_root() / "apt" / arch / "lists").glob("*Packages*")):
        return errors
    raise MigratorError(f"apt-get update for {arch} failed: "
                        f"{errors[0] if errors else 'no message'}")


def _show(options: list[str], package: str) -> dict[str, str] | None:
    try:
        text = _run(["apt-cache", *options, "show", package])
    except MigratorError:
        return None
    fields: dict[str, str] = {}
    for line in text.split("\n\n")[0].splitlines():
        if ":" in line and not line.startswith(" "):
            key, _, value = line.partition(":")
            fields[key] = value.strip()
    return fields or None


def resolve_package(arch: str) -> tuple[str, str]:
    """``(package, version)`` holding the .ko files of the current bookworm kernel for ``arch``."""
    if arch not in FLAVOURS:
        raise MigratorError(f"no Debian kernel flavour known for architecture {arch!r}")
    options = apt_options(arch)
    meta = f"linux-image-{FLAVOURS[arch]}"
    fields = _policy_candidate(options, meta)
    if fields is None:
        raise MigratorError(f"apt knows no {meta} for {arch}: run apt-get update")
    found = re.search(r"(linux-image-[^ ,]+) \(= ([^)]+)\)", fields.get("Depends", ""))
    if not found:
        raise MigratorError(f"{meta} does not depend on a versioned kernel image")
    image, version = found.groups()
    unsigned = _show(options, f"{image}-unsigned={version}")
    return (f"{image}-unsigned", version) if unsigned else (image, version)


def _policy_candidate(options: list[str], package: str) -> dict[str, str] | None:
    """The apt-cache record of the candidate version of ``package``."""
    try:
        policy = _run(["apt-cache", *options, "policy", package])
    except MigratorError:
        return None
    found = re.search(r"Candidate: (\S+)", policy)
    if not found or found.group(1) == "(none)":
        return None
    return _show(options, f"{package}={found.group(1)}")


def fetch_package(arch: str, update: bool = True) -> Path:
    """Download (once) the current module package of ``arch``; return its path."""
    options = apt_options(arch)
    if options and update and not any((cache_root() / "apt" / arch / "lists").glob("*Packages*")):
        update_index(arch)
    package, version = resolve_package(arch)
    target = module_cache(arch)
    target.mkdir(parents=True, exist_ok=True)
    quoted = version.replace(":", "%3a")
    existing = sorted(target.glob(f"{package}_{quoted}_*.deb"))
    if existing:
        return existing[0]
    _run(["apt-get", *options, "download", f"{package}={version}"], cwd=target)
    existing = sorted(target.glob(f"{package}_{quoted}_*.deb"))
    if not existing:
        raise MigratorError(f"apt-get download left no {package} .deb in {target}")
    return existing[0]


def _deb_data_member(path: Path) -> tuple[str, int, int]:
    """Name, offset and size of the data.tar.* member of a .deb (an ar archive)."""
    with path.open("rb") as fh:
        if fh.read(8) != b"!<arch>\n":
            raise MigratorError(f"{path.name}: not a Debian package (no ar header)")
        while True:
            header = fh.read(60)
            if len(header) < 60:
                raise MigratorError(f"{path.name}: no data.tar member")
            name = header[:16].decode("ascii", "replace").strip().rstrip("/")
            size = int(header[48:58].decode("ascii").strip())
            if name.startswith("data.tar"):
                return name, fh.tell(), size
            fh.seek(size + (size & 1), 1)


def _tar_stream(path: Path):
    """A readable stream of the package's data tar, decompressed."""
    if shutil.which("dpkg-deb"):
        # dpkg-deb decompresses with several threads; much faster than lzma here.
        proc = subprocess.Popen(["dpkg-deb", "--fsys-tarfile", str(path)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        return proc.stdout, proc
    name, offset, size = _deb_data_member(path)
    fh = path.open("rb")
    fh.seek(offset)
    raw = fh.read(size)
    fh.close()
    if name.endswith(".xz"):
        return io.BytesIO(lzma.decompress(raw)), None
    if name.endswith(".gz"):
        return io.BytesIO(gzip.decompress(raw)), None
    if name == "data.tar":
        return io.BytesIO(raw), None
    raise MigratorError(f"{path.name}: {name} needs dpkg-deb to unpack")


def decompress_module(name: str, data: bytes) -> bytes:
    """The ELF bytes of a module file, whatever its compression."""
    if name.endswith(".xz"):
        return lzma.decompress(data)
    if name.endswith(".gz"):
        return gzip.decompress(data)
    if name.endswith(".zst"):
        if not shutil.which("zstd"):
            raise MigratorError(f"{name}: zstd-compressed and no zstd program to read it")
        done = subprocess.run(["zstd", "-dc"], input=data, capture_output=True, check=False)
        if done.returncode != 0:
            raise MigratorError(f"{name}: zstd could not decompress it")
        return done.stdout
    return data


def _read(name: str, data: bytes, images: list, unreadable: list) -> None:
    try:
        images.append(read_image(decompress_module(name, data), name))
    except (MigratorError, lzma.LZMAError, OSError, EOFError) as exc:
        unreadable.append((name, str(exc).splitlines()[0] if str(exc) else type(exc).__name__))


def iter_package(path: Path) -> Iterator[tuple[str, bytes]]:
    """``(member name, bytes)`` of the module files and ``/boot/config-*`` in a .deb."""
    stream, proc = _tar_stream(path)
    try:
        with tarfile.open(fileobj=stream, mode="r|") as tar:
            for member in tar:
                if not member.isfile():
                    continue
                name = member.name.lstrip("./")
                if name.endswith(MODULE_SUFFIXES) or re.fullmatch(r"boot/config-[^/]+", name):
                    fh = tar.extractfile(member)
                    if fh is not None:
                        yield name, fh.read()
    except tarfile.TarError as exc:
        raise MigratorError(f"{path.name}: broken data archive: {exc}") from None
    finally:
        if proc is not None:
            stream.close()
            proc.wait()


def read_package(path: Path, use_cache: bool = True) -> PackageModules:
    """All modules of a .deb, from its cache file when that is current."""
    path = Path(path)
    if not path.is_file():
        raise MigratorError(f"{path}: no such package file")
    stat = path.stat()
    stamp = (path.name, stat.st_size, int(stat.st_mtime))
    cache_file = path.with_name(path.name + ".images")
    if use_cache and cache_file.is_file():
        try:
            with cache_file.open("rb") as fh:
                cached = marshal.load(fh)
            if cached.get("format") == CACHE_FORMAT and tuple(cached.get("stamp", ())) == stamp:
                return PackageModules(str(path), cached["config"],
                                      tuple(ModuleImage.from_tuple(r) for r in cached["images"]),
                                      tuple(map(tuple, cached["unreadable"])), True)
        except (EOFError, ValueError, TypeError, KeyError):
            pass  # a stale or torn cache file is rebuilt below
    images: list[ModuleImage] = []
    unreadable: list[tuple[str, str]] = []
    config = ""
    for name, data in iter_package(path):
        if name.startswith("boot/config-"):
            config = data.decode("utf-8", "replace")
        else:
            _read(name, data, images, unreadable)
    if not config:
        raise MigratorError(f"{path.name}: no /boot/config-* in the package")
    result = PackageModules(str(path), config, tuple(images), tuple(unreadable), False)
    if use_cache:
        tmp = cache_file.with_name(cache_file.name + ".tmp")
        with tmp.open("wb") as fh:
            marshal.dump({"format": CACHE_FORMAT, "stamp": stamp, "config": config,
                          "images": [i.to_tuple() for i in images],
                          "unreadable": unreadable}, fh)
        os.replace(tmp, cache_file)
    return result


def read_directory(path: Path) -> PackageModules:
    """All module files under a directory, and its kernel config if any.

    The config is a ``config-*`` or ``.config`` in it, or ``boot/config-*``
    as in a package unpacked with ``dpkg -x``.
    """
    path = Path(path)
    if not path.is_dir():
        raise MigratorError(f"{path}: not a directory")
    images: list[ModuleImage] = []
    unreadable: list[tuple[str, str]] = []
    for file in sorted(path.rglob("*")):
        if file.is_file() and file.name.endswith(MODULE_SUFFIXES):
            name = str(file.relative_to(path))
            try:
                data = file.read_bytes()
            except OSError as e:
                unreadable.append((name, f"cannot read: {e.strerror}"))
                continue
            _read(name, data, images, unreadable)
    configs = sorted(path.glob("config-*")) + sorted(path.glob(".config")) + sorted(path.glob("boot/config-*"))
    try:
        config = configs[0].read_text(errors="replace") if configs else ""
    except OSError as e:
        raise MigratorError(f"{configs[0]}: cannot read: {e.strerror}") from None
    return PackageModules(str(path), config, tuple(images), tuple(unreadable), False)
