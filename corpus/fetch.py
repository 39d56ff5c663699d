#!/usr/bin/env python3
"""Fetch and cache the real inputs named in corpus/manifest.toml.

    python3 corpus/fetch.py                    # prints the path of the unpacked Linux tree
    python3 corpus/fetch.py NAME [NAME ...]    # the same for other manifest entries

Each .deb comes from Debian with `apt-get download`, is checked against the
manifest's sha256, and is unpacked once into the cache
($MIGRATOR_CACHE, default ~/.cache/migrator).  An entry with a `member`
unpacks that tarball from inside its .deb (linux-source); any other entry
unpacks the files of all its .debs into one folder, as dpkg would under /;
its `root`, if any, is the folder inside that the entry stands for.
A second call only checks the stamp left by the first.  Standard library
only, so it runs before install.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import tomllib
from pathlib import Path

MANIFEST = Path(__file__).resolve().parent / "manifest.toml"
STAMP = ".migrator-fetched"


class FetchError(Exception):
    pass


def cache_dir() -> Path:
    return Path(os.environ.get("MIGRATOR_CACHE", Path.home() / ".cache" / "migrator"))


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _download(entry: dict, debs: Path) -> Path:
    # apt-get names the file after the package, the version (":" quoted) and the arch.
    version = entry["version"].replace(":", "%3a")
    name = f"{entry['package']}_{version}_{entry.get('arch', 'all')}.deb"
    deb = debs / name
    if deb.exists() and _sha256(deb) == entry["sha256"]:
        return deb
    debs.mkdir(parents=True, exist_ok=True)
    spec = f"{entry['package']}={entry['version']}"
    print(f"fetch: apt-get download {spec}", file=sys.stderr)
    run = subprocess.run(["apt-get", "download", spec], cwd=debs, capture_output=True, text=True)
    if run.returncode != 0:
        last = (run.stderr.strip().splitlines() or ["no output"])[-1]
        raise FetchError(f"apt-get download {spec} failed: {last} (run apt-get update first?)")
    if _sha256(deb) != entry["sha256"]:
        deb.unlink()
        raise FetchError(f"{name}: sha256 differs from corpus/manifest.toml")
    return deb


def _unpack(deb: Path, entry: dict, dest: Path) -> None:
    """Unpack the tarball inside the .deb into dest, atomically."""
    work = Path(tempfile.mkdtemp(prefix=".fetch-", dir=dest.parent))
    try:
        print(f"fetch: unpacking {entry['member']}", file=sys.stderr)
        data = subprocess.run(["dpkg-deb", "--fsys-tarfile", str(deb)], capture_output=True, check=True).stdout
        tar_xz = work / "source.tar.xz"
        with tarfile.open(fileobj=io.BytesIO(data)) as outer:
            member = outer.getmember("./" + entry["member"])
            with outer.extractfile(member) as src, open(tar_xz, "wb") as out:
                shutil.copyfileobj(src, out)
        del data
        # An entry with `files` needs only those: the rest stays packed.
        wanted = [f"{entry['directory']}/{name}" for name in entry.get("files", ())]
        subprocess.run(["tar", "-xJf", str(tar_xz), "-C", str(work), *wanted], check=True)
        unpacked = work / entry["directory"]
        (unpacked / STAMP).write_text(entry["sha256"] + "\n")
        if dest.exists():
            shutil.rmtree(dest)
        unpacked.rename(dest)
    except (subprocess.CalledProcessError, KeyError, OSError, tarfile.TarError) as e:
        raise FetchError(f"cannot unpack {deb.name}: {e}") from None
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _unpack_files(debs: list[Path], entry: dict, dest: Path, fingerprint: str) -> None:
    """Unpack the files of all debs into one folder, atomically, as dpkg would under /."""
    work = Path(tempfile.mkdtemp(prefix=".fetch-", dir=dest.parent))
    try:
        for deb in debs:
            print(f"fetch: unpacking {deb.name}", file=sys.stderr)
            subprocess.run(["dpkg-deb", "-x", str(deb), str(work)], capture_output=True, check=True)
        if "kernel-release" in entry:
            _relocate_kernel_headers(work, entry["kernel-release"])
        (work / STAMP).write_text(fingerprint + "\n")
        if dest.exists():
            shutil.rmtree(dest)
        work.rename(dest)
    except (subprocess.CalledProcessError, OSError) as e:
        shutil.rmtree(work, ignore_errors=True)
        raise FetchError(f"cannot unpack {entry['directory']}: {e}") from None


def _relocate_kernel_headers(root: Path, release: str) -> None:
    """Let `make -C ROOT/usr/src/linux-headers-RELEASE M=DIR modules` work outside /usr/src.

    Debian's per-flavour Makefile is one line, `include /usr/src/linux-headers-*-common/Makefile`;
    the kernel's Makefile finds its source tree from the path it was included by, so a
    relative include (make reads it from the -C folder) keeps the unpacked headers
    working wherever the cache is.  The scripts/tools links are relative already.
    """
    makefile = root / "usr" / "src" / f"linux-headers-{release}" / "Makefile"
    text = makefile.read_text()
    relocated = text.replace("include /usr/src/", "include ../")
    if relocated == text:
        raise FetchError(f"{makefile.name} of linux-headers-{release}: no /usr/src include to relocate")
    makefile.write_text(relocated)


def _debs(entry: dict) -> list[dict]:
    return entry.get("debs", [entry])


def _entry(name: str) -> dict:
    with open(MANIFEST, "rb") as f:
        manifest = tomllib.load(f)
    if name not in manifest:
        raise FetchError(f"no entry {name!r} in corpus/manifest.toml (known: {', '.join(manifest)})")
    return manifest[name]


def unpacked_path(name: str) -> Path:
    """Where fetch(name) puts its result, fetched or not.

    The folder; a headers' build folder inside it; or, for an entry with a
    `root`, that folder inside it (a DKMS package's source under usr/src).
    """
    entry = _entry(name)
    dest = cache_dir() / entry["directory"]
    if "kernel-release" in entry:
        return dest / "usr" / "src" / f"linux-headers-{entry['kernel-release']}"
    return dest / entry.get("root", "")


def fetch(name: str = "linux-source") -> Path:
    """Download, check and unpack manifest entry `name` once; return unpacked_path(name)."""
    entry = _entry(name)
    dest = cache_dir() / entry["directory"]
    fingerprint = " ".join(deb["sha256"] for deb in _debs(entry))
    stamp = dest / STAMP
    if stamp.exists() and stamp.read_text().strip() == fingerprint:
        return unpacked_path(name)
    dest.parent.mkdir(parents=True, exist_ok=True)
    debs = [_download(deb, cache_dir() / "debs") for deb in _debs(entry)]
    if "member" in entry:
        _unpack(debs[0], entry, dest)
    else:
        _unpack_files(debs, entry, dest, fingerprint)
    return unpacked_path(name)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", default=["linux-source"], metavar="NAME",
                        help="manifest entries (default: linux-source)")
    args = parser.parse_args()
    try:
        for name in args.names:
            print(fetch(name))
    except FetchError as e:
        print(f"fetch: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
