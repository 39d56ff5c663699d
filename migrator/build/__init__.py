"""Cross-compile check: prove that rewritten files of a kernel tree still build.

Targets are data (a kernel profile's ``targets.toml``, in the pack);
``compile_targets`` runs kbuild for each of them in a reusable ``O=``
directory and returns one result each.
"""

from migrator.build.compile import (
    CompileResult,
    Outcome,
    require_build_tree,
    compile_targets,
    default_build_root,
)
from migrator.build.targets import (
    ConfigEdit,
    Target,
    load_targets,
    object_targets,
    parse_targets,
    profile_targets,
    select_targets,
    targets_for_sources,
)

__all__ = [
    "CompileResult",
    "ConfigEdit",
    "Outcome",
    "Target",
    "require_build_tree",
    "compile_targets",
    "default_build_root",
    "load_targets",
    "object_targets",
    "parse_targets",
    "profile_targets",
    "select_targets",
    "targets_for_sources",
]
