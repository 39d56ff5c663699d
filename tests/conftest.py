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
    message = f"{what} not found at {path} (run: python3 corpus/fetch.py)"
    if os.environ.get("MIGRATOR_REQUIRE_REAL_INPUTS"):
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="session")
def linux_tree() -> Path:
    """The pristine Linux 6.1.192 tree; tests must never write to it."""
    path = Path(os.environ.get("MIGRATOR_LINUX_TREE", _cache() / "linux-source-6.1"))
    return real_input(path / "Makefile", "the linux-source-6.1 tree").parent
