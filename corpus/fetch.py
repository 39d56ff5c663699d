#!/usr/bin/env python3
"""Fetch and cache the real Linux tree named in corpus/manifest.toml.

    python3 corpus/fetch.py            # prints the path of the unpacked tree

The .deb comes from Debian with `apt-get download`, is checked against the
manifest's sha256, and is unpacked once into the cache
($MIGRATOR_CACHE, default ~/.cache/migrator).  A second call only checks the
stamp left by the first.  Standard library only, so it runs before install.
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
    name = f"{entry['package']}_{entry['version'].replace(':', '%3a')}_all.deb"
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


def fetch(name: str = "linux-source") -> Path:
    with open(MANIFEST, "rb") as f:
        entry = tomllib.load(f)[name]
    dest = cache_dir() / entry["directory"]
    stamp = dest / STAMP
    if stamp.exists() and stamp.read_text().strip() == entry["sha256"]:
        return dest
    deb = _download(entry, cache_dir() / "debs")
    _unpack(deb, entry, dest)
    return dest


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("name", nargs="?", default="linux-source", help="manifest entry")
    args = parser.parse_args()
    try:
        print(fetch(args.name))
    except FetchError as e:
        print(f"fetch: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
