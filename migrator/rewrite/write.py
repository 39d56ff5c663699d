"""Write a plan to disk as carefully as git does.

The tree is someone's source; a rewrite leaves it all old or all new, and
never touches anything outside it:

- one run at a time: a lock file in the tree's root, held with flock(), so
  a second run refuses instead of interleaving its writes with the first;
- every directory on the way to a file is opened without following links,
  so a link planted in the tree cannot send a write outside it; a file that
  is a link is rewritten at its target, which must lie inside the tree, and
  stays a link;
- new bytes go to a temporary file created with O_CREAT|O_EXCL|O_NOFOLLOW
  under an unguessable name beside the original, with the original's mode,
  owner and group; nothing that already exists is ever opened for writing;
- the old file is kept under a second such name (a hard link, no copy), and
  a journal in the root lists both names before the first rename;
- SIGINT and SIGTERM during the step are held until a safe point, then every
  file gets its old bytes back, every temporary file is removed, and
  Interrupted says which signal it was;
- a run killed outright (SIGKILL, power loss) leaves the journal: the next
  run undoes the step, or finishes it if every file was already replaced,
  and says which (recover()).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import secrets
import signal
import stat
import threading
from dataclasses import dataclass, field
from typing import Iterator, Sequence

from ..errors import MigratorError
from ..parse.source import printable
from .plan import FileChange

LOCK_NAME = ".migrator.lock"
JOURNAL_NAME = ".migrator.journal"
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_NEW_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


class Interrupted(Exception):
    """A signal stopped the write step; every file was put back as it was."""

    def __init__(self, signum: int):
        super().__init__(f"interrupted by {signal.Signals(signum).name}; the tree is as it was")
        self.signum = signum


@dataclass(frozen=True)
class Recovery:
    """What the next run did with a write step that was cut short."""

    action: str  # "undone" (the old bytes are back) or "finished" (every file was new already)
    files: int

    def __str__(self) -> str:
        what = "put back the old bytes of" if self.action == "undone" else "kept the new bytes of"
        return f"an earlier rewrite of this tree was cut short; {self.action} it ({what} {self.files} files)"


# ---------------------------------------------------------------- the tree's lock

@contextlib.contextmanager
def tree_lock(root: str) -> Iterator[Recovery | None]:
    """Hold the tree's lock; yields what was done with an interrupted earlier write, if any.

    flock() is released by the kernel when a process dies, so a killed run
    never leaves the tree locked; its journal is what the next run finds.
    """
    real_root = os.path.realpath(root)
    if not os.path.isdir(real_root):
        raise MigratorError(f"{root}: not a directory")
    path = os.path.join(real_root, LOCK_NAME)
    while True:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
        except OSError as e:
            raise MigratorError(f"{root}: cannot create the lock file {LOCK_NAME}: {e.strerror}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
            os.close(fd)
            raise MigratorError(f"{root}: another migrator run (pid {holder or '?'}) is rewriting "
                                "this tree; nothing written") from None
        # The file may have been unlinked by the run that held it: lock the one at the path.
        try:
            same = os.path.samestat(os.fstat(fd), os.lstat(path))
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield recover(real_root)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(path)
        os.close(fd)


# ---------------------------------------------------------------- paths

def _inside(real_root: str, path: str) -> str:
    """path's target relative to the tree, refusing one outside it."""
    target = os.path.realpath(os.path.join(real_root, path))
    if not (target + os.sep).startswith(real_root.rstrip(os.sep) + os.sep) or target == real_root:
        raise MigratorError(f"{printable(path)}: leads outside the tree; nothing written")
    return os.path.relpath(target, real_root)


def _open_dir(root_fd: int, rel_dir: str) -> int:
    """The directory rel_dir below the root, every step opened without following a link."""
    fd = os.dup(root_fd)
    for part in [p for p in rel_dir.split(os.sep) if p]:
        try:
            nxt = os.open(part, _DIR_FLAGS, dir_fd=fd)
        except OSError as e:
            os.close(fd)
            if e.errno in (errno.ELOOP, errno.ENOTDIR):
                raise MigratorError(f"{printable(rel_dir)}: a link or a file stands on the way; "
                                    "nothing written") from None
            raise
        os.close(fd)
        fd = nxt
    return fd


def _spare_name(name: str, what: str) -> str:
    """An unguessable name beside `name`, so nobody can plant a link at it in advance."""
    return f".{name[:180]}.migrator-{secrets.token_hex(6)}.{what}"


def _exists(name: str, dir_fd: int) -> bool:
    try:
        os.lstat(name, dir_fd=dir_fd)
        return True
    except FileNotFoundError:
        return False


def _unlink(name: str, dir_fd: int) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(name, dir_fd=dir_fd)


# ---------------------------------------------------------------- the journal

@dataclass
class _Entry:
    path: str  # relative to the root, links resolved
    tmp: str  # names in the file's own directory
    backup: str
    dir_fd: int = -1
    name: str = field(init=False)

    def __post_init__(self) -> None:
        self.name = os.path.basename(self.path)


class _Journal:
    """The list of temporary and kept files, in the root, replaced atomically at each step."""

    def __init__(self, root_fd: int):
        self.root_fd = root_fd

    def write(self, state: str, entries: Sequence[_Entry]) -> None:
        body = json.dumps({"state": state, "files": [
            {"path": os.fsencode(e.path).hex(), "tmp": os.fsencode(e.tmp).hex(),
             "backup": os.fsencode(e.backup).hex()} for e in entries]}).encode()
        tmp = _spare_name(JOURNAL_NAME, "new")
        fd = os.open(tmp, _NEW_FLAGS, 0o644, dir_fd=self.root_fd)
        try:
            try:
                os.write(fd, body)
                os.fsync(fd)
            finally:
                os.close(fd)
            os.rename(tmp, JOURNAL_NAME, src_dir_fd=self.root_fd, dst_dir_fd=self.root_fd)
        except BaseException:
            _unlink(tmp, self.root_fd)
            raise
        os.fsync(self.root_fd)

    def read(self) -> tuple[str, list[_Entry]] | None:
        try:
            fd = os.open(JOURNAL_NAME, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=self.root_fd)
        except FileNotFoundError:
            return None
        with os.fdopen(fd, "rb") as f:
            raw = f.read()
        try:
            data = json.loads(raw)
            entries = [_Entry(os.fsdecode(bytes.fromhex(e["path"])), os.fsdecode(bytes.fromhex(e["tmp"])),
                              os.fsdecode(bytes.fromhex(e["backup"]))) for e in data["files"]]
            return data["state"], entries
        except (ValueError, KeyError, TypeError):
            raise MigratorError(f"{JOURNAL_NAME}: not a journal migrator wrote; look at it, "
                                "then remove it") from None

    def remove(self) -> None:
        _unlink(JOURNAL_NAME, self.root_fd)
        os.fsync(self.root_fd)


def recover(real_root: str) -> Recovery | None:
    """Finish or undo a write step that a killed run left in its journal (under the lock)."""
    try:
        return _recover(real_root)
    except OSError as e:
        raise MigratorError(f"cannot finish or undo the interrupted rewrite in {JOURNAL_NAME}: "
                            f"{printable(str(e.filename or real_root))}: {e.strerror}") from None


def _recover(real_root: str) -> Recovery | None:
    root_fd = os.open(real_root, _DIR_FLAGS)
    try:
        journal = _Journal(root_fd)
        found = journal.read()
        if found is None:
            return None
        state, entries = found
        for e in entries:
            e.dir_fd = _open_dir(root_fd, os.path.dirname(e.path))
        try:
            replaced_all = state == "replacing" and not any(_exists(e.tmp, e.dir_fd) for e in entries)
            if state == "done" or replaced_all:
                for e in entries:
                    _unlink(e.backup, e.dir_fd)
                action = "finished"
            else:
                _undo(entries)
                action = "undone"
            for e in entries:
                os.fsync(e.dir_fd)
            journal.remove()
        finally:
            for e in entries:
                os.close(e.dir_fd)
        return Recovery(action, len(entries))
    finally:
        os.close(root_fd)


def _undo(entries: Sequence[_Entry]) -> None:
    """Every file back to its kept old bytes; every temporary file gone."""
    for e in entries:
        if e.dir_fd < 0:
            continue
        if _exists(e.backup, e.dir_fd):
            # Still the same file (not replaced yet) is a no-op for rename(): then just drop it.
            os.rename(e.backup, e.name, src_dir_fd=e.dir_fd, dst_dir_fd=e.dir_fd)
            _unlink(e.backup, e.dir_fd)
        _unlink(e.tmp, e.dir_fd)


# ---------------------------------------------------------------- signals

class _HeldSignals:
    """SIGINT and SIGTERM noted, not acted on, until check() at a safe point."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self):
        self.pending: int | None = None
        self.saved: dict[int, object] = {}

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for s in self.SIGNALS:
                self.saved[s] = signal.signal(s, self._note)
        return self

    def _note(self, signum, frame) -> None:
        if self.pending is None:
            self.pending = signum

    def check(self) -> None:
        if self.pending is not None:
            raise Interrupted(self.pending)

    def __exit__(self, *exc) -> None:
        for s, handler in self.saved.items():
            signal.signal(s, handler)


# ---------------------------------------------------------------- the write step

def _read_nofollow(name: str, dir_fd: int) -> tuple[bytes, os.stat_result]:
    fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=dir_fd)
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(f.fileno())
        if not stat.S_ISREG(st.st_mode):
            raise MigratorError(f"{name}: not a regular file; nothing written")
        return f.read(), st


def _create(name: str, dir_fd: int, data: bytes, like: os.stat_result) -> None:
    """A new file with the bytes, and the mode, owner and group of `like`."""
    fd = os.open(name, _NEW_FLAGS, 0o600, dir_fd=dir_fd)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        # Owner first: chown clears the set-id bits that chmod then puts back.
        with contextlib.suppress(PermissionError):
            os.fchown(fd, like.st_uid, like.st_gid)
        os.fchmod(fd, stat.S_IMODE(like.st_mode))
        os.fsync(fd)
    finally:
        os.close(fd)


def _keep(e: _Entry, old: bytes, st: os.stat_result) -> None:
    """The old file under the backup name: a hard link, or a copy where links are refused."""
    try:
        os.link(e.name, e.backup, src_dir_fd=e.dir_fd, dst_dir_fd=e.dir_fd, follow_symlinks=False)
    except OSError as err:
        if err.errno not in (errno.EPERM, errno.EOPNOTSUPP, errno.EMLINK, errno.EXDEV):
            raise
        _create(e.backup, e.dir_fd, old, st)


def write_changes(root: str, changes: Sequence[FileChange]) -> None:
    """Replace each file's bytes by the plan's, all or none (see the module's notes).

    Call it inside tree_lock(root).  Raises MigratorError when nothing could be
    written (the tree is as it was), Interrupted after a signal (likewise).
    """
    if not changes:
        return
    real_root = os.path.realpath(root)
    root_fd = os.open(real_root, _DIR_FLAGS)
    entries: list[_Entry] = []
    journal = _Journal(root_fd)
    try:
        with _HeldSignals() as held:
            try:
                olds = []
                for c in changes:
                    rel = _inside(real_root, c.path)
                    e = _Entry(rel, "", "")
                    e.tmp, e.backup = _spare_name(e.name, "new"), _spare_name(e.name, "old")
                    e.dir_fd = _open_dir(root_fd, os.path.dirname(rel))
                    entries.append(e)
                    data, st = _read_nofollow(e.name, e.dir_fd)
                    if data != c.old:
                        raise MigratorError(f"{printable(c.path)}: changed on disk since it was read; "
                                            "nothing written")
                    olds.append(st)
                if len({e.path for e in entries}) != len(entries):
                    raise MigratorError("two planned files are one file (a link); nothing written")
                journal.write("writing", entries)
                for e, c, st in zip(entries, changes, olds):
                    held.check()
                    _create(e.tmp, e.dir_fd, c.new, st)
                    held.check()
                    _keep(e, c.old, st)
                held.check()
                journal.write("replacing", entries)
                for e in entries:
                    held.check()
                    os.rename(e.tmp, e.name, src_dir_fd=e.dir_fd, dst_dir_fd=e.dir_fd)
                for fd in {e.dir_fd for e in entries}:
                    os.fsync(fd)
                held.check()
                journal.write("done", entries)
            except BaseException:
                # Signals stay held while the old files go back.
                _undo(entries)
                journal.remove()
                raise
            for e in entries:
                _unlink(e.backup, e.dir_fd)
            journal.remove()
    except OSError as e:
        name = printable(e.filename) if isinstance(e.filename, str) else root
        raise MigratorError(f"cannot write {name}: {e.strerror}; the tree is as it was") from None
    finally:
        for e in entries:
            if e.dir_fd >= 0:
                os.close(e.dir_fd)
        os.close(root_fd)
