"""Series stage: git and the patch series.  The only stage that touches git.

make_series() turns a rewrite plan into git format-patch files on the
tree's last commit (preparation patches per architecture, the flag-day
patch, a cover letter); verify_series() applies such a series to a fresh
clone and checks it (byte-identical to the in-place rewrite, checkpatch,
compiles).
"""

from .make import (
    PatchFile,
    Series,
    SeriesOptions,
    apply_series,
    make_series,
    open_for_series,
    write_series,
)
from .split import FLAG_DAY, PREPARE, FileDiff, Patch, split_plan

__all__ = [
    "FLAG_DAY", "PREPARE", "FileDiff", "Patch", "PatchFile", "Series", "SeriesOptions",
    "apply_series", "make_series", "open_for_series", "split_plan", "write_series",
]
