"""Rewrite stage: turn decided matches into byte edits and apply them."""

from .edits import Edit, apply_edits, edits_for

__all__ = ["Edit", "apply_edits", "edits_for"]
