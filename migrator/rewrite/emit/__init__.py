"""How decided rewrites are emitted: in place (the kernel tree) or behind a guard (out-of-tree code)."""

from .guarded import Emitted, Held, emit_guarded

__all__ = ["Emitted", "Held", "emit_guarded"]
