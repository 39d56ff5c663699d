"""migrator/ is the engine: it names no word of a migration's API.

Every pack's words live in migrations/NAME/ (vocabulary.toml, rules,
profiles, texts).  This test reads the engine's files for the words of the
module-memory pack (old names, new names, its header, the version it landed
in) and fails on any hit outside ALLOWED.  ALLOWED lists what has not moved
yet, each with the reason; it should only shrink.
"""

from __future__ import annotations

import re
from pathlib import Path

ENGINE = Path(__file__).resolve().parent.parent / "migrator"

# The module-memory pack's words.  A second pack's words are its own business;
# these are the ones that once lived in the engine.
WORDS = re.compile(
    r"core_layout|init_layout|data_layout|module_layout|module_memory|\bMOD_[A-Z]|mod_mem"
    r"|include/linux/module\.h|KERNEL_VERSION\(\s*6\s*,\s*4\b|\bv?6\.4\b"
)

# Not moved yet, by folder or file, and why: nothing is left; an entry added
# here needs a reason, and a plan to move it.
ALLOWED: dict[str, str] = {}


def _allowed(rel: str) -> bool:
    return any(rel == a or (a.endswith("/") and rel.startswith(a)) for a in ALLOWED)


def _hits() -> list[str]:
    found = []
    for path in sorted(ENGINE.rglob("*")):
        if not path.is_file() or path.suffix not in (".py", ".toml", ".j2", ".c", ".h", ".txt"):
            continue
        rel = path.relative_to(ENGINE).as_posix()
        if rel.startswith("migrations/") or _allowed(rel):  # a wheel's copy of the packs
            continue
        for n, line in enumerate(path.read_text(errors="replace").splitlines(), start=1):
            if WORDS.search(line):
                found.append(f"migrator/{rel}:{n}: {line.strip()}")
    return found


def test_engine_names_no_word_of_a_pack():
    hits = _hits()
    assert hits == [], "the engine names a pack's words:\n" + "\n".join(hits)


def test_allow_list_is_not_stale():
    # Every entry still covers a hit; one that covers none is removed.
    for entry in ALLOWED:
        files = [p for p in ENGINE.rglob("*") if p.is_file()
                 and (p.relative_to(ENGINE).as_posix() == entry
                      or (entry.endswith("/") and p.relative_to(ENGINE).as_posix().startswith(entry)))]
        assert any(WORDS.search(p.read_text(errors="replace")) for p in files
                   if p.suffix in (".py", ".toml", ".c")), f"{entry}: no longer needed in ALLOWED"
