"""Reading the project's data files: rules, recipes, scope, tables."""

from __future__ import annotations

import os
import tomllib

from .errors import MigratorError


def load_toml(path: str | os.PathLike) -> dict:
    """A TOML file as a dict; an unreadable or malformed one is a one-line MigratorError."""
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except OSError as e:
        raise MigratorError(f"{path}: cannot read: {e.strerror}") from None
    except tomllib.TOMLDecodeError as e:
        raise MigratorError(f"{path}: not valid TOML: {e}") from None
