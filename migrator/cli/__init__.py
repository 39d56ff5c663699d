"""The command line: the only layer that prints or exits.

One module per command; each registers itself on the `cli` group.
Exit codes: 0 success; 1 the job ran and found a failure (a rule test, a
check); 2 bad input or a refusal, with a one-line message.
"""

from __future__ import annotations

import contextlib
import sys

import click

from ..errors import MigratorError
from ..migration import DEFAULT_MIGRATION, Migration, load_migration

EXIT_FAILED = 1
EXIT_BAD_INPUT = 2


def fail(message: str) -> None:
    click.echo(f"migrator: {message}", err=True)
    sys.exit(EXIT_BAD_INPUT)


migration_option = click.option(
    "--migration", "migration_name", default=DEFAULT_MIGRATION, show_default=True, metavar="NAME",
    help="The migration pack: the name of a shipped one (migrations/NAME), or the path of a "
         "pack folder (with a /).",
)
rules_option = click.option(
    "--rules", "rules_dir", default=None, show_default="the migration's rules/sites",
    type=click.Path(file_okay=False),
    help="Folder of site rule files (*.toml) to use instead, or a rules folder holding "
         "sites/ (like a pack's rules/).",
)


def _spelling_help() -> str:
    new = load_migration(DEFAULT_MIGRATION).vocabulary.new
    first = new.types[0] if new.types else "X"
    examples = ", ".join(f"{style} is {prefix}{first}" for style, prefix in new.spellings.items())
    return f"Spelling of the new API's named constants ({DEFAULT_MIGRATION}: {examples})."


names_option = click.option(
    "--names", type=click.Choice(sorted(load_migration(DEFAULT_MIGRATION).vocabulary.new.spellings)),
    default="short", show_default=True, help=_spelling_help(),
)


def profile_options(fn):
    """--mode and --guard: how the code at PATH is migrated."""
    fn = click.option(
        "--guard", default="both", show_default=True, metavar="version|probe|both|'EXPR'",
        help="Out-of-tree: the #if that picks the new code. version: LINUX_VERSION_CODE >= "
             "KERNEL_VERSION of the pack's landed_in; probe: the pack's test for its new API, which "
             "also catches backports (a macro only the new API defines); both: either "
             "(the version alone for a pack without a probe); or an expression of your own.")(fn)
    return click.option(
        "--mode", type=click.Choice(["kernel", "out-of-tree"]), default=None,
        help="kernel: rewrite in place, the tree is the kernel; out-of-tree: keep building on "
             "kernels before and after the change, new code behind a guard. Default: kernel when "
             "PATH is a kernel source tree (a top Makefile with VERSION and PATCHLEVEL, and the "
             "header of the pack's API), out-of-tree otherwise.")(fn)


def resolve_profile(path: str, mode: str | None, guard: str, migration: Migration):
    """The run's profile, and the first line of output that names it."""
    import os

    from ..profile import Profile, profile_for

    if not os.path.isdir(path):
        return Profile(), None  # the command reports the bad path itself
    try:
        profile, why = profile_for(path, migration, mode, guard)
    except MigratorError as e:
        fail(str(e))
    line = f"mode: {profile.mode.value} ({why})"
    if profile.out_of_tree:
        line += f"; guard: #if {profile.guard}"
    return profile, line


EXIT_INTERRUPTED = 128 + 2  # SIGINT, as a shell reports it


class _Migrator(click.Group):
    """The group, with click's errors as the one line of the exit-code contract."""

    def main(self, *args, standalone_mode: bool = True, **kwargs):
        if not standalone_mode:
            return super().main(*args, standalone_mode=False, **kwargs)
        try:
            status = super().main(*args, standalone_mode=False, **kwargs)
        except (click.exceptions.Abort, KeyboardInterrupt):
            click.echo("migrator: interrupted", err=True)
            sys.exit(EXIT_INTERRUPTED)
        except click.UsageError as e:
            hint = f"; see '{e.ctx.command_path} --help'" if e.ctx is not None else ""
            click.echo(f"migrator: {e.format_message().rstrip('.')}{hint}", err=True)
            sys.exit(EXIT_BAD_INPUT)
        except click.ClickException as e:
            click.echo(f"migrator: {e.format_message()}", err=True)
            sys.exit(e.exit_code)
        sys.exit(status if isinstance(status, int) else 0)


@click.group(cls=_Migrator, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="migrator")
def cli() -> None:
    """Move Linux C code from an old kernel API to a new one.

    A migration pack (--migration, default module-memory: struct module's
    layouts becoming its memory types) says what the old API looks like and
    what each use means.  migrator finds every use in a tree, maps each by
    its meaning, and says so where no faithful mapping exists.
    """


def open_migration(name: str) -> Migration:
    """The pack --migration names; a bad one ends the command with a one-line error."""
    from ..errors import MigratorError

    try:
        return load_migration(name)
    except MigratorError as e:
        fail(str(e))


def progress(message: str) -> None:
    """A progress line on stderr, only when someone watches it (a terminal)."""
    if sys.stderr.isatty():
        click.echo(message, err=True)


def progress_bar(items, label: str, quiet: bool = False, length: int | None = None):
    """A progress bar on stderr (what, how far, how long left) only when stderr is a
    terminal and not --quiet; otherwise the items as they are, so logs stay clean."""
    if quiet or not sys.stderr.isatty():
        return contextlib.nullcontext(_Silent(items))
    # update_min_steps=0: an update of no steps still shows, so a step is named as it begins.
    return click.progressbar(items, length=length, label=label, file=sys.stderr, show_eta=True,
                             show_pos=True, item_show_func=lambda item: str(item) if item else None,
                             update_min_steps=0)


class _Silent:
    """What a progress bar offers a loop, without the bar."""

    def __init__(self, items):
        self.items = items

    def __iter__(self):
        return iter(self.items if self.items is not None else ())

    def update(self, n_steps: int, current_item=None) -> None:
        pass


quiet_option = click.option("-q", "--quiet", is_flag=True,
                            help="No progress bar (there is none anyway when stderr is not a terminal).")


def read_text_file(path: str | None) -> str | None:
    """The text of a file an option names (None when not given); unreadable is a MigratorError."""
    from ..errors import MigratorError

    if path is None:
        return None
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except OSError as e:
        raise MigratorError(f"{path}: cannot read: {e.strerror}") from None


def count(n: int, noun: str) -> str:
    """`1 file`, `2 files`, `0 aliases`."""
    if n == 1:
        return f"{n} {noun}"
    return f"{n} {noun}es" if noun.endswith(("s", "x", "ch", "sh")) else f"{n} {noun}s"


def main() -> None:
    cli(prog_name="migrator")


def _register_commands() -> None:
    """Import every module of this package: each registers its command on `cli`."""
    import importlib
    import pkgutil

    for module in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{module.name}")


# Last, because the command modules use what is defined above.
_register_commands()
