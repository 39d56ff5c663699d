"""Module packages: reading a .deb (plain and xz-compressed modules), the cache, real packages."""

import io
import lzma
import os
import tarfile
import time
from pathlib import Path

import pytest
from test_model_builder import MODULE_SYMBOLS, Obj, build_object, module_sections

from migrator.migration import load_migration
from migrator.errors import MigratorError
from migrator.verify import packages as debian

# The module-memory pack's model plug-in, reached through the migration.
check_modules = load_migration().model().check_modules

CONFIG = b"CONFIG_STRICT_MODULE_RWX=y\nCONFIG_MODULE_UNLOAD=y\nCONFIG_KALLSYMS=y\nCONFIG_SMP=y\n"


def _tar_xz(files: dict[str, bytes]) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo("./" + name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return lzma.compress(raw.getvalue())


def _ar(members: list[tuple[str, bytes]]) -> bytes:
    out = b"!<arch>\n"
    for name, data in members:
        out += f"{name:<16}{0:<12}{0:<6}{0:<6}{'100644':<8}{len(data):<10}`\n".encode()
        out += data + (b"\n" if len(data) % 2 else b"")
    return out


def make_deb(path: Path, files: dict[str, bytes]) -> Path:
    control = _tar_xz({"control": b"Package: linux-image-test\nVersion: 1\nArchitecture: amd64\n"
                                  b"Maintainer: t <t@example.org>\nDescription: t\n"})
    path.write_bytes(_ar([("debian-binary", b"2.0\n"), ("control.tar.xz", control),
                          ("data.tar.xz", _tar_xz(files))]))
    return path


@pytest.fixture
def deb(tmp_path):
    module = build_object(Obj(module_sections(), MODULE_SYMBOLS))
    return make_deb(tmp_path / "linux-image-test_1_amd64.deb", {
        "boot/config-6.1.0-test-amd64": CONFIG,
        "lib/modules/6.1.0-test/kernel/a.ko": module,
        "lib/modules/6.1.0-test/kernel/b.ko.xz": lzma.compress(module),
        "lib/modules/6.1.0-test/kernel/broken.ko": b"\x7fELF garbage",
        "lib/modules/6.1.0-test/modules.dep": b"",
    })


def test_package_is_checked_then_served_from_the_cache(deb):
    first = check_modules(deb, "amd64")
    assert (first.totals.modules, first.totals.checked, first.totals.unreadable) == (3, 2, 1)
    assert first.violations == () and not first.from_cache
    assert first.unreadable[0][0].endswith("broken.ko")
    second = check_modules(deb, "amd64")
    assert second.from_cache and second.totals == first.totals


def test_cache_is_rebuilt_when_the_package_changes(deb):
    check_modules(deb, "amd64")
    later = time.time() + 5
    os.utime(deb, (later, later))
    assert not check_modules(deb, "amd64").from_cache


def test_directory_of_modules_with_its_config(tmp_path):
    module = build_object(Obj(module_sections(), MODULE_SYMBOLS))
    (tmp_path / "x.ko").write_bytes(module)
    (tmp_path / "config-6.1").write_bytes(CONFIG)
    report = check_modules(tmp_path, "amd64")
    assert report.totals.checked == 1 and report.ok


def test_bad_sources_raise_one_line_errors(tmp_path):
    with pytest.raises(MigratorError, match="neither a .deb nor a directory"):
        check_modules(tmp_path / "nothing.txt", "amd64")
    (tmp_path / "x.ko").write_bytes(build_object(Obj(module_sections(), MODULE_SYMBOLS)))
    with pytest.raises(MigratorError, match="no kernel config"):
        check_modules(tmp_path, "amd64")
    with pytest.raises(MigratorError, match="no Debian kernel flavour"):
        debian.resolve_package("sparc64")


def test_foreign_architecture_gets_its_own_apt_state(tmp_path, monkeypatch):
    monkeypatch.setenv("MIGRATOR_CACHE", str(tmp_path))
    monkeypatch.setattr(debian, "host_arch", lambda: "amd64")
    options = debian.apt_options("arm64")
    joined = " ".join(options)
    assert "APT::Architecture=arm64" in joined and str(tmp_path / "apt" / "arm64") in joined
    assert "Dir::State::status=" in joined and "Dir::Etc::SourceList=" in joined
    assert (tmp_path / "apt" / "arm64" / "etc" / "sources.list").read_text().count("deb ") == 3
    assert debian.apt_options("amd64") == []


def _real_packages():
    root = debian.cache_root() / "modules"
    return sorted(root.glob("*/*.deb")) if root.is_dir() else []


@pytest.mark.realmodules
@pytest.mark.parametrize("arch", sorted(debian.FLAVOURS))
def test_real_package_has_no_violations(arch):
    packages = [p for p in _real_packages() if p.parent.name == arch]
    if not packages:
        pytest.skip(f"no {arch} module package in {debian.module_cache(arch)} "
                    f"(fetch one with migrator.verify.packages.fetch_package('{arch}'))")
    report = check_modules(packages[-1], arch)
    assert report.totals.checked > 1000
    assert report.violations == (), [str(v) for v in report.violations[:5]]
    assert report.totals.pages_after <= report.totals.pages_before
