"""Tests of migrator.build: target loading, planning, and kbuild runs.

Most tests run anywhere: the compile logic is exercised on a tiny fake
kernel tree whose Makefile imitates kbuild's defconfig/olddefconfig/object
goals.  The test marked ``cross`` compiles on the real Linux 6.1 tree
(MIGRATOR_LINUX_TREE, default ~/.cache/migrator/linux-source-6.1) with
Debian's cross compilers, in MIGRATOR_BUILD_DIR (default
~/.cache/migrator/build).
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import textwrap
from pathlib import Path

import pytest

from migrator.build import (
    ConfigEdit,
    Outcome,
    require_build_tree,
    compile_targets,
    load_targets,
    object_targets,
    parse_targets,
    profile_targets,
    select_targets,
    targets_for_sources,
)
from migrator.errors import MigratorError
from migrator.migration import load_migration

GOOD = """
[[target]]
name = "arm64"
arch = "arm64"
cross_compile = "aarch64-linux-gnu-"
defconfig = "defconfig"
config = ["enable ARM64_MODULE_PLTS"]
objects = ["arch/arm64/kernel/module-plts.o"]
"""


def load(text: str):
    return parse_targets(textwrap.dedent(text), "t.toml")


def error_of(text: str) -> str:
    with pytest.raises(MigratorError) as info:
        load(text)
    message = str(info.value)
    assert "\n" not in message
    return message


# --- the kernel profile's targets ---------------------------------------------


def kernel_targets():
    """The build targets of the default pack's linux-6.1 profile."""
    return profile_targets(load_migration())


def test_profile_targets_cover_every_module_layout_user_with_a_compiler():
    targets = kernel_targets()
    objects = {o for t in targets for o in t.objects if o.endswith(".o")}
    assert [t.name for t in targets] == [
        "arm64", "arm", "s390", "powerpc32", "parisc32", "mips", "arc", "x86_64",
        "x86_64-kernel", "x86_64-vmlinux",
    ]
    # The whole-kernel checks build folders and vmlinux, with the x86_64 configuration.
    full = select_targets(targets, ["x86_64-kernel", "x86_64-vmlinux"])
    assert [t.objects for t in full] == [("kernel/", "arch/x86/kernel/"), ("vmlinux",)]
    assert {t.config for t in full} == {select_targets(targets, ["x86_64"])[0].config}
    assert {
        "arch/arm64/kernel/module-plts.o",
        "arch/arm/kernel/module-plts.o",
        "arch/s390/kernel/module.o",
        "arch/powerpc/kernel/module_32.o",
        "arch/parisc/kernel/module.o",
        "arch/mips/kernel/vpe.o",
        "arch/arc/kernel/unwind.o",
        "kernel/module/main.o",
        "kernel/module/kallsyms.o",
        "kernel/module/kdb.o",
        "kernel/module/procfs.o",
        "kernel/module/strict_rwx.o",
        "kernel/module/tree_lookup.o",
    } == objects
    host = select_targets(targets, ["x86_64"])[0]
    assert host.cross_compile == "" and host.compiler == "gcc"
    assert ConfigEdit("enable", "KGDB_KDB") in host.config


def test_load_targets_reads_a_file(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text(GOOD)
    (target,) = load_targets(path)
    assert target.name == "arm64"
    assert target.config == (ConfigEdit("enable", "ARM64_MODULE_PLTS"),)
    assert target.objects == ("arch/arm64/kernel/module-plts.o",)


def test_the_default_targets_are_those_that_build_objects():
    assert [t.name for t in object_targets(kernel_targets())] == [
        "arm64", "arm", "s390", "powerpc32", "parisc32", "mips", "arc", "x86_64"]


def test_build_lists_the_profiles_targets():
    from test_cli import migrator

    run = migrator("build", "--list")
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert [line.split()[0] for line in lines[:8]] == ["*"] * 8
    assert [line.split()[0] for line in lines[8:]] == ["x86_64-kernel", "x86_64-vmlinux"]
    assert lines[2].split() == ["*", "s390", "s390", "arch/s390/kernel/module.o"]


def test_a_profile_without_targets_is_a_one_line_error(tmp_path):
    from test_cli import assert_one_line_error, migrator

    pack = load_migration("class-create")
    assert profile_targets(pack, required=False) == ()
    with pytest.raises(MigratorError, match="profile out-of-tree has no build targets"):
        profile_targets(pack)
    assert_one_line_error(migrator("build", "--migration", "class-create", tmp_path),
                          "class-create pack's profile out-of-tree has no build targets",
                          "profiles/out-of-tree/targets.toml")


def test_missing_file_is_an_error_naming_it(tmp_path):
    with pytest.raises(MigratorError, match="nope.toml"):
        load_targets(tmp_path / "nope.toml")


# --- bad target files: the error names the field ------------------------------


def test_unknown_field_is_named():
    message = error_of(GOOD.replace("arch =", "cross-compile = 'x'\narch ="))
    assert "unknown field 'cross-compile'" in message
    assert "target #1 (arm64)" in message


@pytest.mark.parametrize("field", ["name", "arch", "cross_compile", "defconfig", "objects"])
def test_missing_field_is_named(field):
    lines = [line for line in GOOD.splitlines() if not line.startswith(f"{field} =")]
    assert f"missing field '{field}'" in error_of("\n".join(lines))


def test_config_is_optional():
    lines = [line for line in GOOD.splitlines() if not line.startswith("config =")]
    (target,) = load("\n".join(lines))
    assert target.config == ()


def test_wrong_type_is_named():
    assert "field 'objects' must be a list" in error_of(
        GOOD.replace('objects = ["arch/arm64/kernel/module-plts.o"]', 'objects = "x.o"')
    )
    assert "field 'arch' must be a string" in error_of(GOOD.replace('arch = "arm64"', "arch = 1"))


@pytest.mark.parametrize(
    "edit, expected",
    [
        ("enabel FOO", "unknown verb 'enabel'"),
        ("enable", "expected 'VERB SYMBOL'"),
        ("set-val NR_CPUS", "set-val needs a value"),
        ("enable FOO y", "enable takes no value"),
        ("enable FOO-BAR", "bad Kconfig symbol"),
    ],
)
def test_bad_config_edit_is_named_with_its_index(edit, expected):
    text = GOOD.replace('config = ["enable ARM64_MODULE_PLTS"]', f'config = ["enable X", "{edit}"]')
    message = error_of(text)
    assert "field 'config'[1]" in message
    assert expected in message


@pytest.mark.parametrize(
    "obj", ["/abs/x.o", "../x.o", "arch/x.c", "./arch/x.o", "arch//x.o", "a b.o"]
)
def test_bad_object_path_is_refused(obj):
    text = GOOD.replace('"arch/arm64/kernel/module-plts.o"', f'"{obj}"')
    assert "field 'objects'" in error_of(text)


def test_empty_objects_are_refused():
    text = GOOD.replace('["arch/arm64/kernel/module-plts.o"]', "[]")
    assert "field 'objects' is empty" in error_of(text)


def test_name_must_be_usable_as_a_directory():
    assert "field 'name'" in error_of(GOOD.replace('name = "arm64"', 'name = "../up"'))


def test_duplicate_names_are_refused():
    assert "duplicate name 'arm64'" in error_of(GOOD + GOOD)


def test_invalid_toml_is_one_line():
    assert "invalid TOML" in error_of("[[target]\nname =")


def test_unknown_top_level_key_is_named():
    assert "unknown top-level key 'targets'" in error_of("[targets.arm64]\nname = 'x'\n")


def test_empty_file_is_refused():
    assert "no [[target]] tables" in error_of("")


# --- config edits -------------------------------------------------------------


def test_config_edit_accepts_the_config_prefix_and_values():
    assert ConfigEdit.parse("enable CONFIG_KGDB") == ConfigEdit("enable", "KGDB")
    edit = ConfigEdit.parse("set-str LOCALVERSION -two words")
    assert edit.value == "-two words"
    assert edit.script_args() == ["--set-str", "LOCALVERSION", "-two words"]
    assert edit.wanted() == '"-two words"'
    assert str(ConfigEdit.parse("set-val NR_CPUS 4")) == "set-val NR_CPUS 4"
    assert ConfigEdit.parse("disable X").wanted() == "n"
    assert ConfigEdit.parse("undefine X").wanted() is None


# --- picking targets and objects ----------------------------------------------


def test_select_targets_keeps_the_asked_order_and_names_unknown_ones():
    targets = kernel_targets()
    assert [t.name for t in select_targets(targets, ["s390", "arm64", "s390"])] == ["s390", "arm64"]
    with pytest.raises(MigratorError, match="unknown build target 'ia64' \\(known: arm64, arm,"):
        select_targets(targets, ["ia64"])


def test_targets_for_sources_builds_exactly_the_touched_objects():
    targets = kernel_targets()
    planned, unplaced = targets_for_sources(
        targets,
        [
            "kernel/module/kdb.c",
            "arch/arm64/kernel/module-plts.c",
            "arch/arm64/kernel/module.c",  # not listed, but arm64's directory
            "arch/x86/kernel/module.c",  # host target's arch
            "include/linux/module.h",
            "kernel/module/internal.h",
            "arch/ia64/kernel/module.c",
            "kernel/module/kdb.c",
        ],
    )
    assert [(t.name, t.objects) for t in planned] == [
        ("arm64", ("arch/arm64/kernel/module-plts.o", "arch/arm64/kernel/module.o")),
        ("x86_64", ("kernel/module/kdb.o", "arch/x86/kernel/module.o")),
    ]
    assert unplaced == (
        "include/linux/module.h",
        "kernel/module/internal.h",
        "arch/ia64/kernel/module.c",
    )
    # The configuration is untouched, so the O= directory is still reusable.
    assert planned[0].config_inputs() == targets[0].config_inputs()


def test_with_objects_checks_the_paths():
    (target,) = load(GOOD)
    with pytest.raises(MigratorError, match="not a relative path"):
        target.with_objects(["../x.o"])


# --- the tree -----------------------------------------------------------------


def make_fake_tree(root: Path) -> Path:
    """A tree kbuild-shaped enough for compile_targets, with a fake kbuild.

    Its Makefile writes only under O=; every defconfig run is counted in
    O/defconfig-runs; olddefconfig drops CONFIG_UNMET like an unmet
    dependency would; an object named broken.o fails to compile.
    """
    tree = root / "tree"
    (tree / "scripts").mkdir(parents=True)
    (tree / "Kconfig").write_text("# fake\n")
    (tree / "Makefile").write_text(
        textwrap.dedent(
            """\
            defconfig:
            \tprintf 'CONFIG_MODULES=y\\n# CONFIG_KGDB is not set\\n' > $(O)/.config
            \techo run >> $(O)/defconfig-runs
            olddefconfig:
            \tsed -i '/^CONFIG_UNMET=/d' $(O)/.config
            %/broken.o:
            \t@echo '$*/broken.c:1:1: error: expected declaration' >&2; exit 1
            %.o:
            \t@echo '$*.c:2:3: warning: unused variable' >&2
            \tmkdir -p $(dir $(O)/$@) && echo $(ARCH) $(CROSS_COMPILE) > $(O)/$@
            """
        )
    )
    config = tree / "scripts" / "config"
    config.write_text(
        textwrap.dedent(
            """\
            #!/bin/bash
            file=.config
            while [ $# -gt 0 ]; do
              case "$1" in
                --file) file=$2; shift 2 ;;
                --enable) echo "CONFIG_$2=y" >> "$file"; shift 2 ;;
                --disable) echo "# CONFIG_$2 is not set" >> "$file"; shift 2 ;;
                *) echo "bad argument $1" >&2; exit 2 ;;
              esac
            done
            """
        )
    )
    config.chmod(0o755)
    return tree


@pytest.fixture
def fake(tmp_path, monkeypatch):
    """A fake tree, a fake cross compiler on PATH, and a build root."""
    if shutil.which("make") is None or shutil.which("bash") is None:
        pytest.skip("needs make and bash")
    bindir = tmp_path / "bin"
    bindir.mkdir()
    compiler = bindir / "fake-linux-gcc"
    compiler.write_text("#!/bin/sh\nexit 0\n")
    compiler.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    return make_fake_tree(tmp_path), tmp_path / "build"


def fake_target(config: str = '"enable KGDB"', objects: str = '"kernel/module/main.o"'):
    (target,) = load(
        f"""
        [[target]]
        name = "fake"
        arch = "fakearch"
        cross_compile = "fake-linux-"
        defconfig = "defconfig"
        config = [{config}]
        objects = [{objects}]
        """
    )
    return target


def defconfig_runs(build: Path) -> int:
    return len((build / "fake" / "defconfig-runs").read_text().splitlines())


def test_check_tree_refuses_what_kbuild_refuses(tmp_path):
    with pytest.raises(MigratorError, match="does not exist"):
        require_build_tree(tmp_path / "none")
    with pytest.raises(MigratorError, match="not a kernel source tree"):
        require_build_tree(tmp_path)
    tree = make_fake_tree(tmp_path)
    assert require_build_tree(tree) == tree.resolve()
    (tree / "arch" / "arm64" / "include" / "generated").mkdir(parents=True)
    require_build_tree(tree, [fake_target()])  # only the selected arches count
    (tree / ".config").write_text("CONFIG_X=y\n")
    with pytest.raises(MigratorError, match=r"not clean \(\.config exists\).*mrproper"):
        require_build_tree(tree)


def test_a_dirty_tree_is_refused_before_building(fake):
    tree, build = fake
    (tree / "include" / "config").mkdir(parents=True)
    with pytest.raises(MigratorError, match="include/config exists"):
        compile_targets(tree, [fake_target()], build)
    assert not build.exists()


def test_build_root_inside_the_tree_is_refused(fake):
    tree, _ = fake
    with pytest.raises(MigratorError, match="inside the kernel tree"):
        compile_targets(tree, [fake_target()], tree / "out")


def test_missing_compiler_is_a_result_not_an_exception(fake):
    tree, build = fake
    target = fake_target()
    absent = dataclasses.replace(target, cross_compile="nosuch-linux-")
    (result,) = compile_targets(tree, [absent], build)
    assert result.outcome is Outcome.UNAVAILABLE and not result.ok
    assert result.reason == "compiler nosuch-linux-gcc not found on PATH"


def test_build_dir_is_configured_once_and_reused(fake):
    tree, build = fake
    target = fake_target()
    (first,) = compile_targets(tree, [target], build)
    assert first.ok, first.reason
    assert first.configured
    assert first.objects == ("kernel/module/main.o",)
    assert first.build_dir == build.resolve() / "fake"
    assert (build / "fake" / "kernel/module/main.o").read_text() == "fakearch fake-linux-\n"
    assert first.warnings == ("kernel/module/main.c:2:3: warning: unused variable",)

    (second,) = compile_targets(tree, [target], build)
    assert second.ok and not second.configured
    assert second.warnings == first.warnings  # compiled afresh, not skipped
    assert defconfig_runs(build) == 1

    # Other objects in the same configuration reuse it too.
    (third,) = compile_targets(tree, [target.with_objects(["lib/x.o"])], build)
    assert third.ok and not third.configured
    assert defconfig_runs(build) == 1


def test_a_changed_configuration_reconfigures(fake):
    tree, build = fake
    compile_targets(tree, [fake_target()], build)
    (result,) = compile_targets(tree, [fake_target('"enable KGDB", "disable MODULES"')], build)
    assert result.ok and result.configured
    assert defconfig_runs(build) == 2
    assert "# CONFIG_MODULES is not set" in (build / "fake" / ".config").read_text()


def test_another_tree_empties_the_build_dir(fake, tmp_path):
    tree, build = fake
    compile_targets(tree, [fake_target()], build)
    other = make_fake_tree(tmp_path / "other")
    (result,) = compile_targets(other, [fake_target()], build)
    assert result.ok and result.configured
    assert defconfig_runs(build) == 1  # counted afresh in an emptied directory


def test_an_edit_that_does_not_stick_fails_the_target(fake):
    tree, build = fake
    target = fake_target('"enable UNMET"')
    (result,) = compile_targets(tree, [target], build)
    assert result.outcome is Outcome.FAILED and result.configured
    assert "'enable UNMET' did not stick" in result.reason
    assert "CONFIG_UNMET not set" in result.reason
    # Nothing was stamped, so the next call tries again.
    (again,) = compile_targets(tree, [target], build)
    assert again.configured and defconfig_runs(build) == 2


def test_a_compile_error_is_a_result_with_reason_and_log_tail(fake):
    tree, build = fake
    target = fake_target(objects='"kernel/module/main.o", "drivers/broken.o"')
    (result,) = compile_targets(tree, [target], build)
    assert result.outcome is Outcome.FAILED
    assert result.reason == "drivers/broken.c:1:1: error: expected declaration"
    assert "error: expected declaration" in result.log_tail
    assert (build / "fake" / "migrator-build.log").is_file()


def test_an_unusable_build_dir_is_a_result(fake):
    tree, build = fake
    build.mkdir()
    (build / "fake").write_text("a file where the O= directory should be\n")
    (result,) = compile_targets(tree, [fake_target()], build)
    assert result.outcome is Outcome.FAILED
    assert result.reason.startswith("build directory unusable:")


def test_each_target_gets_a_result_in_order(fake):
    tree, build = fake
    ok = fake_target()
    absent = dataclasses.replace(ok, name="gone", cross_compile="nosuch-")
    results = compile_targets(tree, [absent, ok], build)
    assert [(r.target, r.outcome) for r in results] == [
        ("gone", Outcome.UNAVAILABLE),
        ("fake", Outcome.BUILT),
    ]


# --- the real tree ------------------------------------------------------------


def real_tree() -> Path:
    default = Path.home() / ".cache" / "migrator" / "linux-source-6.1"
    return Path(os.environ.get("MIGRATOR_LINUX_TREE", default)).expanduser()


def real_build_root() -> Path:
    default = Path.home() / ".cache" / "migrator" / "build"
    return Path(os.environ.get("MIGRATOR_BUILD_DIR", default)).expanduser()


def in_tree_build_products(tree: Path) -> list[str]:
    found = [p for p in (".config", "include/config", "include/generated") if (tree / p).exists()]
    found += [str(p.relative_to(tree)) for p in tree.glob("arch/*/include/generated")]
    return found


@pytest.mark.cross
def test_real_tree_compiles_for_arm64_and_s390_and_reuses_the_build_dirs():
    tree = real_tree()
    if not (tree / "Makefile").is_file():
        pytest.skip(f"no kernel tree at {tree} (set MIGRATOR_LINUX_TREE)")
    targets = select_targets(kernel_targets(), ["arm64", "s390"])
    missing = [t.compiler for t in targets if shutil.which(t.compiler) is None]
    if missing or shutil.which("make") is None:
        pytest.skip(f"missing tools: {', '.join(missing or ['make'])}")
    assert in_tree_build_products(tree) == []

    first = compile_targets(tree, targets, real_build_root())
    for result in first:
        assert result.ok, f"{result.target}: {result.reason}\n{result.log_tail}"
    second = compile_targets(tree, targets, real_build_root())
    for result in second:
        assert result.ok, f"{result.target}: {result.reason}\n{result.log_tail}"
        assert not result.configured
        for obj in result.objects:
            assert (result.build_dir / obj).is_file()
    assert in_tree_build_products(tree) == []
