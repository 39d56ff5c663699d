"""The qemu harness on Debian's real 6.1 cloud kernel and its own modules."""

import shutil
from pathlib import Path

import pytest

from migrator.boot import Ending, GuestModule, boot, build_initramfs, fetch_kernel, init_script
from migrator.boot.qemu import BootLog


def test_init_script_loads_in_order_and_reports():
    text = init_script((GuestModule(Path("a/fat.ko")), GuestModule(Path("b/vfat.ko.xz"), "x=1")),
                       script="echo hi")
    assert text.index("0000-fat.ko") < text.index("0001-vfat.ko x=1")
    assert text.index('echo "@@begin script"') < text.index('echo "@@begin sections"')
    assert text.rstrip().endswith("reboot -f")


def test_log_blocks_are_read_back():
    console = ("noise\ninsmod: can't insert '/modules/0001-vfat.ko': No such device\n"
               "@@insmod fat 0\n@@insmod vfat 1\n@@begin sections\n"
               "fat .text 0xffffffffc0000000\n@@end sections\n@@done\n")
    log = BootLog("x86_64", (), console, Ending.COMPLETED, 0, 1.0)
    assert log.insmod_results() == {"fat": 0, "vfat": 1}
    assert log.insmod_errors() == {"vfat": "No such device"}
    assert log.sections() == {"fat": {".text": 0xffffffffc0000000}}
    assert log.block("dmesg") is None


@pytest.mark.boot
def test_debian_cloud_kernel_loads_its_modules(tmp_path):
    if shutil.which("qemu-system-x86_64") is None:
        pytest.skip("qemu-system-x86_64 not installed (make install)")
    kernel = fetch_kernel("debian-6.1-cloud-amd64")
    files = kernel.load_order(["vfat"])
    assert [f.name for f in files] == ["fat.ko", "vfat.ko"]
    initrd = build_initramfs(tmp_path / "initrd.cpio", "x86_64",
                             tuple(GuestModule(f) for f in files), script="uname -r")
    log = boot("x86_64", kernel.vmlinuz, initrd, timeout=300)
    assert log.ending is Ending.COMPLETED, log.console[-2000:]
    assert log.insmod_results() == {"fat": 0, "vfat": 0}
    assert {"fat", "vfat"} <= set(log.loaded_modules())
    assert log.block("script").strip() == kernel.release
    sections = log.sections()["vfat"]
    assert sections[".text"] < sections[".rodata"]
    assert not log.problems()


def _migrator(*args):
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-m", "migrator", *args], capture_output=True, text=True)


def test_boot_refuses_a_folder_that_is_no_kernel_tree(tmp_path):
    run = _migrator("boot", str(tmp_path), "--build-dir", str(tmp_path / "build"))
    assert run.returncode == 2
    assert run.stderr.strip().splitlines() == [f"migrator: {tmp_path.resolve()} is not a kernel "
                                               "source tree (no Makefile)"]


def test_against_loader_needs_the_real_loader_source(tmp_path):
    run = _migrator("check", "--against-loader", "--loader-source", str(tmp_path))
    assert run.returncode == 2
    assert "no loader source at" in run.stderr and len(run.stderr.strip().splitlines()) == 1


def test_a_boot_that_puts_a_module_within_branch_range_is_one_to_repeat():
    from migrator.boot.checks import modules_within_branch_range

    def console(*plts):
        sections = "".join(f"m{i} .plt {plt:#x}\n" for i, plt in enumerate(plts))
        return (f"@@begin kernel\nffff800008000000 T _text\n@@end kernel\n"
                f"@@begin sections\n{sections}@@end sections\n@@done\n")

    text = 0xffff800008000000
    far, near = text - (1527 << 20), text - (64 << 20)
    assert not modules_within_branch_range("arm64", BootLog("arm64", (), console(far, far), Ending.COMPLETED, 0, 1))
    assert modules_within_branch_range("arm64", BootLog("arm64", (), console(far, near), Ending.COMPLETED, 0, 1))
    # x86_64 calls the kernel directly: no PLT row to judge, nothing to repeat.
    assert not modules_within_branch_range("x86_64", BootLog("x86_64", (), console(near), Ending.COMPLETED, 0, 1))


def test_boot_needs_a_pack_with_a_model(tmp_path):
    run = _migrator("boot", "--migration", "class-create", str(tmp_path), "--build-dir", str(tmp_path / "build"))
    assert run.returncode == 2
    assert run.stderr.strip().splitlines() == ["migrator: the class-create pack has no model to check with"]


def test_the_oracle_is_the_packs_and_boots_the_harness_kernels():
    import tomllib

    from migrator.boot.debian import KERNELS
    from migrator.errors import MigratorError
    from migrator.migration import load_migration

    pack = load_migration()
    oracle = pack.model("oracle")
    assert set(oracle.KERNELS) <= set(tomllib.loads(KERNELS.read_text()))
    with pytest.raises(MigratorError, match="model has no part 'no_such_part'"):
        pack.model("no_such_part")
