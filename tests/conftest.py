import importlib.util
import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def _cache() -> Path:
    return Path(os.environ.get("MIGRATOR_CACHE", Path.home() / ".cache" / "migrator"))


def real_input(path: Path, what: str) -> Path:
    """A real input, or a skip; CI sets MIGRATOR_REQUIRE_REAL_INPUTS so it fails instead."""
    if path.exists():
        return path
    message = f"{what} not found at {path} (run: make test, or python3 corpus/fetch.py NAME)"
    if os.environ.get("MIGRATOR_REQUIRE_REAL_INPUTS"):
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="session")
def linux_tree() -> Path:
    """The pristine Linux 6.1.192 tree; tests must never write to it."""
    path = Path(os.environ.get("MIGRATOR_LINUX_TREE", _cache() / "linux-source-6.1"))
    return real_input(path / "Makefile", "the linux-source-6.1 tree").parent



def _manifest_path(name: str) -> Path:
    """Where corpus/fetch.py unpacks manifest entry `name` (fetched or not)."""
    spec = importlib.util.spec_from_file_location("corpus_fetch", REPO / "corpus" / "fetch.py")
    fetch = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fetch)
    return fetch.unpacked_path(name)


@pytest.fixture(scope="session")
def systemtap_tree() -> Path:
    """systemtap-common 4.8's usr/share/systemtap (runtime/ and tapset/), read-only."""
    path = _manifest_path("systemtap-common") / "usr" / "share" / "systemtap"
    return real_input(path / "runtime", "systemtap-common 4.8").parent


@pytest.fixture(scope="session")
def kernel_headers() -> dict[str, Path]:
    """Side ("6.1", "6.12") -> the build folder of Debian's cloud kernel headers.

    `make -C FOLDER M=MODULE modules` builds an out-of-tree module against it.
    """
    folders = {}
    for side in ("6.1", "6.12"):
        entry = f"linux-headers-{side}-cloud-amd64"
        folders[side] = real_input(_manifest_path(entry) / "Makefile", entry).parent
    return folders


# Debian's DKMS packages that call class_create(THIS_MODULE, name): the class-create pack's inputs.
DKMS_PACKAGES = ("dahdi-dkms", "xtrx-dkms", "vpoll-dkms", "falcosecurity-scap-dkms")


@pytest.fixture(scope="session")
def dkms_sources() -> dict[str, Path]:
    """Package -> its unpacked source folder (where dkms.conf is), read-only."""
    return {name: real_input(_manifest_path(name) / "dkms.conf", name).parent for name in DKMS_PACKAGES}
