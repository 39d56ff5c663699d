"""Migration packs: the shipped one loads by name, a copy by its path, and a bad
pack.toml is a one-line error naming the field."""

import shutil

import pytest

from migrator.errors import MigratorError
from migrator.match import load_rule_book, migration_rule_book
from migrator.migration import DEFAULT_MIGRATION, load_migration, shipped_migrations
from migrator.rewrite.plan import load_pack
from migrator.match.regions import load_region_rules

from test_cli import FUNC, assert_one_line_error, migrator

COMMANDS = ("scan", "rewrite", "check", "test", "build", "verify-series")


def test_the_default_pack_is_shipped():
    assert DEFAULT_MIGRATION in shipped_migrations()
    pack = load_migration()
    assert pack.id == "module-memory" and pack.landed_in == "6.4"
    assert pack.profile().name == "linux-6.1.toml"
    for folder in (pack.sites_dir, pack.rules_dir / "loader", pack.regions_dir, pack.cases_dir):
        assert any(folder.iterdir()), folder
    assert (pack.series_dir / "flag-day.txt.j2").is_file()


def test_the_pack_gives_what_the_defaults_gave():
    book, recipes = load_pack(load_migration())
    assert book == load_rule_book()
    assert recipes == load_region_rules(load_migration().regions_dir)
    assert [a.path for a in book.areas] == ["kernel/module/"]


@pytest.fixture
def pack_copy(tmp_path):
    copy = tmp_path / "packs" / "module-memory"
    shutil.copytree(load_migration().root, copy)
    return copy


@pytest.fixture
def tree(tmp_path):
    (tmp_path / "tree" / "arch").mkdir(parents=True)
    (tmp_path / "tree" / "arch" / "a.c").write_bytes(FUNC)
    return tmp_path / "tree"


def test_a_pack_by_path_is_the_one_used(pack_copy, tree):
    shipped = migrator("scan", tree)
    assert shipped.returncode == 0, shipped.stderr
    assert migrator("scan", "--migration", pack_copy, tree).stdout == shipped.stdout
    # Without its rule for core_layout.base, the copy only reports the use.
    (pack_copy / "rules" / "sites" / "core-layout-base.toml").unlink()
    run = migrator("scan", "--migration", pack_copy, tree)
    assert "core-layout-base" in shipped.stdout and "core-layout-base" not in run.stdout
    assert "arch/a.c:3:11: core_layout.base  whole-layout (report)" in run.stdout
    assert load_migration(str(pack_copy)).root == pack_copy.resolve()
    assert len(migration_rule_book(load_migration(str(pack_copy))).default) == \
        len(load_rule_book().default) - 1


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_takes_a_migration(command):
    run = migrator(command, "--help")
    assert run.returncode == 0 and "--migration NAME" in run.stdout


@pytest.mark.parametrize("command", ("scan", "rewrite", "check", "build"))
def test_an_unknown_migration_is_refused(command, tree):
    assert_one_line_error(migrator(command, "--migration", "no-such-change", tree),
                          "no-such-change: no such migration", "module-memory")


def test_an_unknown_migration_is_refused_by_test():
    assert_one_line_error(migrator("test", "--migration", "no-such-change"), "no such migration")


@pytest.mark.parametrize("edit, words", [
    (lambda t: t + 'stage = "x"\n', ("pack.toml", "unknown field 'stage'")),
    (lambda t: t.replace('landed_in = "6.4"', ""), ("pack.toml", "missing field 'landed_in'")),
    (lambda t: t.replace('landed_in = "6.4"', "landed_in = 6.4"), ("'landed_in' must be a str",)),
    (lambda t: t.replace('landed_in = "6.4"', 'landed_in = "v6.4"'), ("'landed_in'", "v6.4")),
    (lambda t: t.replace('id = "module-memory"', 'id = "other"'), ("'id'", "folder name")),
    (lambda t: t.replace('"linux-6.1"', '"linux-9.9"'), ("no profile 'linux-9.9'",)),
])
def test_a_bad_pack_file_names_the_field(pack_copy, tree, edit, words):
    pack_file = pack_copy / "pack.toml"
    pack_file.write_text(edit(pack_file.read_text()))
    with pytest.raises(MigratorError):
        load_migration(str(pack_copy))
    assert_one_line_error(migrator("scan", "--migration", pack_copy, tree), *words)


def test_a_folder_without_pack_file_is_refused(tmp_path, tree):
    assert_one_line_error(migrator("scan", "--migration", tmp_path / "tree", tree),
                          "not a migration pack (no pack.toml)")


@pytest.mark.parametrize("edit, words", [
    (lambda t: t.replace('kind = "alias"', 'kind = "macro"'), ("vocabulary.toml", "field 'kind' must be one of")),
    (lambda t: t.replace('query = "(comment) @occurrence"', 'query = "(comment_x) @occurrence"'),
     ("vocabulary.toml", "field 'query'")),
    (lambda t: t.replace('needle = "_layout"\n', ""), ("vocabulary.toml", "missing field 'needle'")),
    (lambda t: t.replace('within = ', 'inside = '), ("vocabulary.toml", "unknown field 'inside'")),
])
def test_a_bad_vocabulary_names_the_field(pack_copy, tree, edit, words):
    path = pack_copy / "vocabulary.toml"
    path.write_text(edit(path.read_text()))
    assert_one_line_error(migrator("scan", "--migration", pack_copy, tree), *words)


def test_the_occurrences_are_the_packs(pack_copy, tree):
    """What an occurrence looks like is data: a pack without the comment pattern finds no comment."""
    source = (tree / "a.c")
    source.write_text("/* core_layout */\nint f(struct module *mod) { return mod->core_layout.size; }\n")
    before = migrator("scan", "--mode", "kernel", "--migration", pack_copy, tree).stdout
    assert "a.c:1:4: comment" in before
    path = pack_copy / "vocabulary.toml"
    text = path.read_text()
    start = text.index('[[old.occurrence]]\nkind = "comment"')
    end = text.index("[[old.occurrence]]", start + 1)
    path.write_text(text[:start] + text[end:])
    after = migrator("scan", "--mode", "kernel", "--migration", pack_copy, tree).stdout
    assert "a.c:2:41: core_layout.size" in after and "a.c:1:4" not in after
