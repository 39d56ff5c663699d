"""The packs in migrations/ ship inside the package, as migrator/migrations.

They stay at the top of the project, where a newcomer looks for them; the
wheel carries a copy beside the engine's modules, which is where
migrator/migration.py looks first.
"""

import os

from setuptools import setup
from setuptools.command.build_py import build_py


class BuildWithMigrations(build_py):
    def run(self):
        super().run()
        for folder, dirs, files in os.walk("migrations"):
            dirs[:] = sorted(d for d in dirs if d != "__pycache__")
            target = os.path.join(self.build_lib, "migrator", folder)
            self.mkpath(target)
            for name in sorted(files):
                if not name.endswith((".pyc", ".pyo")):
                    self.copy_file(os.path.join(folder, name), os.path.join(target, name))


setup(cmdclass={"build_py": BuildWithMigrations})
