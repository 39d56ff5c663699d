"""Finding uses in files that do not parse cleanly, and byte-exact edits."""

from migrator.match import find_occurrences, load_rules, match_file
from migrator.parse import SourceFile, parse_c
from migrator.rewrite import apply_edits, edits_for

# A macro the parser cannot know makes an ERROR node at the top of the file.
BROKEN_ABOVE = b"""
DEFINE_WEIRD(x) {{ [ ;
static bool in_init(const struct module *mod, void *loc)
{
	return (u64)loc - (u64)mod->init_layout.base < mod->init_layout.size;
}
void g(struct module *me)
{
	val = (Elf_Addr) me->core_layout.base + me->arch.got_offset;
}
"""


def test_uses_are_found_around_parse_errors():
    src = SourceFile("a.c", BROKEN_ABOVE)
    assert parse_c(src.data).root_node.has_error
    occ = find_occurrences(src)
    assert [(o.name, o.member, o.line) for o in occ] == [
        ("init_layout", "base", 5), ("init_layout", "size", 5), ("core_layout", "base", 9)]


def test_edits_keep_every_other_byte():
    data = b"/* \xff\xfe not utf-8 */\nvoid g(struct module *me)\n{\n\tv = me -> core_layout . base; /* k */\n}\n"
    result = match_file(SourceFile("a.c", data), load_rules())
    edits = edits_for(data, result.matches)
    assert [(e.text, data[e.start:e.end]) for e in edits] == [(b"mem[MOD_TEXT]", b"core_layout")]
    new = apply_edits(data, edits)
    assert new == data.replace(b"core_layout", b"mem[MOD_TEXT]")


def test_occurrence_kinds():
    src = SourceFile("k.h", b"""
struct module {
	struct module_layout core_layout __module_layout_align;
	struct module_layout init_layout;
};
struct cvmx_s { uint64_t data_layout:2; };
#define data_layout core_layout
#define init_layout_x foo
void f(struct nfs_layout *lo, struct module *mod)
{
	a = lo->core_layout.base;
	b = rbd_init_layout(x);
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 4, 0)
	c = mod->mem[MOD_TEXT].base;
#else
	c = mod->core_layout.base;
#endif
}
""")
    kinds = [(o.kind, o.name) for o in find_occurrences(src)]
    assert kinds == [("api", "module_layout"), ("declaration", "core_layout"),
                     ("api", "module_layout"), ("declaration", "init_layout"),
                     ("alias", "data_layout"), ("guarded", "core_layout")]


def test_python_uses():
    src = SourceFile("m.py", b"layout = module['core_layout']\nx = module[ \"init_layout\" ]\ny = 'core_layout'\n")
    assert [(o.kind, o.name, o.line) for o in find_occurrences(src)] == [
        ("python", "core_layout", 1), ("python", "init_layout", 2)]
