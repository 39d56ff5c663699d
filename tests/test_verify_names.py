"""The names check and the kernel reader are the engine's (migrator/verify/), in a
pack's words: which structs, enum, helpers and side markers make the API comes
from the vocabulary, and the model plug-in reads its own pack's."""

import dataclasses
import re
import shutil

import pytest
from test_check_cli import assert_one_line_error, migrator
from test_check_fixtures import API, build_trees

from migrator.errors import MigratorError
from migrator.migration import load_migration
from migrator.verify.kernel import read_kernel
from migrator.verify.names import check_names, read_api

VOCABULARY = load_migration().vocabulary
NEW = VOCABULARY.new
HEADER = (API / "module.h").read_bytes()  # a v6.4 module.h


def _misspelt(tmp_path):
    original, rewritten, meta = build_trees("misspelled-type", tmp_path)
    return meta["path"], (original / meta["path"]).read_bytes(), (rewritten / meta["path"]).read_bytes()


def test_a_misspelt_type_is_reported_with_the_types_the_header_declares(tmp_path):
    path, old, new = _misspelt(tmp_path)
    found = check_names(path, old, new, read_api(HEADER, NEW))
    types = ", ".join(e for e in read_api(HEADER, NEW).enumerators if not e.endswith(("NUM_TYPES", "INVALID")))
    assert [str(v) for v in found] == [
        f"{path}:6:45: api-name: `MOD_TEXTT` is not an enumerator of enum mod_mem_type in "
        f"include/linux/module.h ({types})"]
    assert "MOD_TEXT" in types and "MOD_MEM_NUM_TYPES" not in types


def test_the_vocabulary_says_what_the_api_is(tmp_path):
    path, old, new = _misspelt(tmp_path)
    # Without an indexed member and a constants' prefix, an index is the compiler's business.
    loose = dataclasses.replace(NEW, indexed_member=None, index_prefix=None)
    assert check_names(path, old, new, read_api(HEADER, loose)) == []
    # With struct module_memory alone as the API, struct module's `mem` is not one of its fields.
    narrow = dataclasses.replace(loose, field_structs=("module_memory",))
    found = [v.message for v in check_names(path, old, new, read_api(HEADER, narrow))]
    assert found == ["`mem` is not a field of struct module_memory in include/linux/module.h"] * 2, found
    # A header without the enum is not a tree with the API.
    with pytest.raises(MigratorError, match="no enum mod_mem_type: not a tree with the module_memory API"):
        read_api(b"struct module { int x; };\n", NEW)


def test_the_model_checks_with_its_own_packs_words(tmp_path):
    """A copy of the pack whose vocabulary names no indexed member nor prefix: its
    plug-in (not the shipped default's) lets the misspelt index through to the
    meaning check, which cannot judge it."""
    original, rewritten, _ = build_trees("misspelled-type", tmp_path)
    shipped = migrator("check", rewritten, "--original", original, "--probes", "synthetic")
    assert shipped.returncode == 1 and ": api-name: `MOD_TEXTT`" in shipped.stdout, shipped.stdout
    copy = tmp_path / "packs" / "module-memory"
    shutil.copytree(load_migration().root, copy, ignore=shutil.ignore_patterns("__pycache__"))
    vocabulary = copy / "vocabulary.toml"
    text = vocabulary.read_text()
    edited = re.sub(r'(?m)^(indexed_member|index_prefix) = .*\n', "", text)
    assert edited.count("\n") == text.count("\n") - 2
    vocabulary.write_text(edited)
    run = migrator("check", rewritten, "--original", original, "--probes", "synthetic", "-v",
                   "--migration", copy)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "api-name" not in run.stdout and "`MOD_TEXTT` is not known here" in run.stdout


def test_a_bad_helper_regex_names_the_field(tmp_path):
    copy = tmp_path / "packs" / "module-memory"
    shutil.copytree(load_migration().root, copy, ignore=shutil.ignore_patterns("__pycache__"))
    vocabulary = copy / "vocabulary.toml"
    vocabulary.write_text(re.sub(r"(?m)^helper_names = .*$", "helper_names = '(mod_mem'",
                                 vocabulary.read_text()))
    (tmp_path / "tree").mkdir()
    assert_one_line_error(migrator("scan", "--migration", copy, tmp_path / "tree"),
                          "[new] field 'helper_names'", "not a regular expression")


def test_a_kernel_is_on_the_side_whose_struct_its_header_defines(tmp_path):
    (tmp_path / "include" / "linux").mkdir(parents=True)
    (tmp_path / "Makefile").write_text("VERSION = 6\nPATCHLEVEL = 1\nSUBLEVEL = 300\n")
    header = tmp_path / NEW.api_header
    header.write_bytes((API / "module-6.1.h").read_bytes())
    old = read_kernel(str(tmp_path), VOCABULARY)
    assert (old.side_struct, old.has_change, old.enumerators) == ("module_layout", False, frozenset())
    assert old.version_code == (6 << 16) + (1 << 8) + 255 and old.release == "6.1.300"
    header.write_bytes(HEADER)
    new = read_kernel(str(tmp_path), VOCABULARY)
    assert (new.side_struct, new.has_change) == ("module_memory", True)
    assert new.enumerators == frozenset(read_api(HEADER, NEW).enumerators)
    assert {"base", "size"} <= new.side_fields
    header.write_text("struct module { int x; };\n")
    with pytest.raises(MigratorError, match="neither struct module_layout nor struct module_memory"):
        read_kernel(str(tmp_path), VOCABULARY)
    header.write_text("struct module_memory { void *base; };\n")
    with pytest.raises(MigratorError, match=r"module\.h: no struct module$"):
        read_kernel(str(tmp_path), VOCABULARY)
