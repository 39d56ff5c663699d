"""The import contracts of pyproject.toml ([tool.importlinter]) hold.

The stages read one way (cli > boot | series > build > verify > rewrite >
match > parse) and only the command line imports click.  lint-imports comes
with the test extra.  A pack's model plug-in (migrations/NAME/model/) lies
outside the package import-linter sees; its imports are read here instead.
"""

import ast

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# What a pack's model plug-in may import of the engine: the generic checks and
# readers, the qemu harness (its oracle boots real kernels), and the public
# front door's parts below the command line.
PLUGIN_MAY_IMPORT = ("migrator.boot", "migrator.errors", "migrator.migration", "migrator.parse",
                     "migrator.verify", "migrator.vocabulary")


def test_import_contracts_are_kept():
    exe = shutil.which("lint-imports") or str(Path(sys.executable).with_name("lint-imports"))
    run = subprocess.run([exe, "--no-cache"], cwd=ROOT, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert "0 broken" in run.stdout


def _engine_imports(path: Path) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module] if node.module != "migrator" else [f"migrator.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            continue
        found += [(node.lineno, n) for n in names if n == "migrator" or n.startswith("migrator.")]
    return found


def test_model_plugins_import_only_the_generic_engine():
    plugins = sorted(ROOT.glob("migrations/*/model/*.py"))
    assert plugins, "no pack has a model plug-in"
    bad = [f"{p.relative_to(ROOT)}:{line}: {name}" for p in plugins for line, name in _engine_imports(p)
           if not any(name == m or name.startswith(m + ".") for m in PLUGIN_MAY_IMPORT)]
    assert bad == [], "a model plug-in imports more than the generic engine:\n" + "\n".join(bad)
