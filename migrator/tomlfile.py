"""Reading the project's data files: rules, recipes, scope, tables, packs."""

from __future__ import annotations

import os
import tomllib
from typing import Mapping

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


def check_fields(where: str, table: Mapping, allowed: Mapping[str, type | tuple[type, ...]],
                 required: tuple[str, ...] = ()) -> None:
    """A one-line MigratorError naming the first unknown, missing or mistyped field of a TOML table.

    `allowed` maps each field to its type (or a tuple of types); bool is no int.
    """
    for key in table:
        if key not in allowed:
            raise MigratorError(f"{where}: unknown field '{key}'")
    for key in required:
        if key not in table:
            raise MigratorError(f"{where}: missing field '{key}'")
    for key, value in table.items():
        want = allowed[key]
        if not isinstance(value, want) or (want is int and isinstance(value, bool)):
            kinds = " or ".join(t.__name__ for t in (want if isinstance(want, tuple) else (want,)))
            raise MigratorError(f"{where}: field '{key}' must be a {kinds}")
