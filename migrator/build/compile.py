"""Compile objects of a kernel tree for several architectures with kbuild.

Each target gets its own ``O=`` directory under the build root.  It is
configured once (defconfig, ``scripts/config`` edits, olddefconfig) and
reused later: a stamp file records what the configuration was made from,
and only a change to that reconfigures.  The source tree is only read;
kbuild writes into the ``O=`` directory alone.

Every target yields a ``CompileResult``; a missing compiler or a failed
build is a result with a reason, never an exception.  Only a call that
cannot work for any target (no kernel tree, a tree kbuild refuses, a build
root inside the tree) raises ``MigratorError``.
"""

from __future__ import annotations

import enum
import fcntl
import json
import logging
import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from migrator.build.targets import Target
from migrator.errors import MigratorError

log = logging.getLogger(__name__)

STAMP_NAME = ".migrator-config.json"
LOG_NAME = "migrator-build.log"
# Bump when the way a build directory is configured changes, so that old
# directories are configured again.
_STAMP_SCHEME = 1
_TAIL_LINES = 30
_ENV_DROP_PREFIXES = ("KBUILD_", "KCONFIG_", "LC_", "LANG")
_ENV_DROP = {"MAKEFLAGS", "MFLAGS", "MAKELEVEL", "GNUMAKEFLAGS", "ARCH", "CROSS_COMPILE",
             "SUBARCH", "CC", "LD", "LLVM", "O"}


class Outcome(enum.Enum):
    BUILT = "built"
    FAILED = "failed"
    UNAVAILABLE = "unavailable"  # a tool is missing: nothing was tried


@dataclass(frozen=True)
class CompileResult:
    """What happened to one target."""

    target: str
    objects: tuple[str, ...]
    outcome: Outcome
    seconds: float
    configured: bool  # this call (re)configured the O= directory
    reason: str = ""  # one line; empty when built
    log_tail: str = ""  # the end of the make output; empty when built
    warnings: tuple[str, ...] = ()  # compiler warning lines of this build
    build_dir: Path | None = None

    @property
    def ok(self) -> bool:
        return self.outcome is Outcome.BUILT


def default_build_root() -> Path:
    """Where O= directories live unless the caller says otherwise."""
    return Path.home() / ".cache" / "migrator" / "build"


def require_build_tree(tree: Path, targets: Iterable[Target] = ()) -> Path:
    """Return the resolved tree, or raise if kbuild cannot build out of it.

    kbuild refuses an ``O=`` build when the tree holds results of an
    in-tree build; ``targets`` select which arch/*/include/generated count.
    """
    tree = Path(tree).expanduser()
    if not tree.is_dir():
        raise MigratorError(f"kernel tree {tree} does not exist")
    tree = tree.resolve()
    for needed in ("Makefile", "Kconfig", "scripts/config"):
        if not (tree / needed).exists():
            raise MigratorError(f"{tree} is not a kernel source tree (no {needed})")
    leftovers = [".config", "include/config"]
    leftovers += sorted({f"arch/{t.srcarch}/include/generated" for t in targets})
    for rel in leftovers:
        if (tree / rel).exists():
            raise MigratorError(
                f"kernel tree {tree} is not clean ({rel} exists): kbuild refuses O= builds "
                "from it; run 'make mrproper' there or use a clean copy"
            )
    return tree


def _product(goal: str) -> str:
    """The file a make goal leaves: a folder's built-in.a, else the goal itself."""
    return goal + "built-in.a" if goal.endswith("/") else goal


def compile_targets(
    tree: Path,
    targets: Sequence[Target],
    build_root: Path | None = None,
    *,
    jobs: int = 2,
    timeout: float | None = 1800,
    fresh: bool = True,
) -> list[CompileResult]:
    """Build each target's objects out of ``tree``; one result per target, in order.

    ``build_root`` defaults to ``default_build_root()``; target NAME builds
    in ``build_root/NAME``.  ``timeout`` bounds each make call, in seconds.
    The objects asked for are compiled afresh, so each result (and its
    warnings) reflects the tree as it is now; with ``fresh=False`` make
    alone decides what is out of date (a boot only needs the image current).
    """
    if jobs < 1:
        raise MigratorError(f"jobs must be at least 1, got {jobs}")
    tree = require_build_tree(tree, targets)
    root = Path(build_root).expanduser() if build_root is not None else default_build_root()
    root = root.resolve()
    if root == tree or root.is_relative_to(tree):
        raise MigratorError(f"build root {root} is inside the kernel tree {tree}")
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise MigratorError(f"cannot create build root {root}: {exc.strerror or exc}") from None
    names = [t.name for t in targets]
    if len(set(names)) != len(names):
        raise MigratorError("two targets share a name; each needs its own build directory")
    return [_compile_one(tree, t, root, jobs, timeout, fresh) for t in targets]


def _compile_one(
    tree: Path, target: Target, root: Path, jobs: int, timeout: float | None, fresh: bool = True
) -> CompileResult:
    start = time.monotonic()
    out = root / target.name

    def result(outcome: Outcome, configured: bool, reason: str = "", output: str = "",
               warnings: tuple[str, ...] = ()) -> CompileResult:
        return CompileResult(
            target=target.name,
            objects=target.objects,
            outcome=outcome,
            seconds=round(time.monotonic() - start, 2),
            configured=configured,
            reason=reason,
            log_tail=_tail(output) if outcome is not Outcome.BUILT else "",
            warnings=warnings,
            build_dir=out,
        )

    for tool in ("make", "bash", target.compiler):
        if shutil.which(tool) is None:
            what = "compiler" if tool == target.compiler else "tool"
            log.info("%s: %s %s not found", target.name, what, tool)
            return result(Outcome.UNAVAILABLE, False, f"{what} {tool} not found on PATH")

    runner = _Runner(tree, target, out, timeout)
    configured = False
    try:
        with _locked(root / f".{target.name}.lock"):
            if not _stamp_matches(out, tree, target):
                configured = True
                error = _configure(runner, tree, target, out)
                if error:
                    return result(Outcome.FAILED, True, error, runner.output)
            log.info("%s: building %s", target.name, " ".join(target.objects))
            for obj in target.objects if fresh else ():
                # Force the compile, so that the result describes this call.
                (out / _product(obj)).unlink(missing_ok=True)
            ok = runner.make(f"-j{jobs}", *target.objects)
            warnings = _warnings(runner.relative(runner.last_output))
            missing = [o for o in target.objects if not (out / _product(o)).is_file()]
    except OSError as exc:
        where = f" {exc.filename}:" if exc.filename else ""
        reason = f"build directory unusable:{where} {exc.strerror or exc}"
        return result(Outcome.FAILED, configured, reason, runner.output)
    if not ok:
        return result(Outcome.FAILED, configured, runner.failure, runner.output, warnings)
    if missing:
        reason = f"make succeeded but did not produce {missing[0]}"
        return result(Outcome.FAILED, configured, reason, runner.output, warnings)
    return result(Outcome.BUILT, configured, warnings=warnings)


def _configure(runner: _Runner, tree: Path, target: Target, out: Path) -> str:
    """Configure ``out`` afresh; return a one-line error, or "" on success."""
    stamp = _read_stamp(out)
    if stamp is not None and stamp.get("tree") != str(tree):
        # Objects built from another tree would look up to date: start over.
        # Only a directory carrying our stamp is removed.
        log.info("%s: %s was built from another tree; emptying it", target.name, out)
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / STAMP_NAME).unlink(missing_ok=True)
    log.info("%s: configuring %s with %s", target.name, out, target.defconfig)
    if not runner.make(target.defconfig):
        return f"configure: {runner.failure}"
    if target.config:
        args = [arg for edit in target.config for arg in edit.script_args()]
        if not runner.run([str(tree / "scripts" / "config"), "--file", str(out / ".config"), *args]):
            return f"configure: scripts/config: {runner.failure}"
    if not runner.make("olddefconfig"):
        return f"configure: {runner.failure}"
    values = _read_config(out / ".config")
    for edit in target.config:
        wanted = edit.wanted()
        got = values.get(edit.symbol, "n")
        if wanted is not None and got != wanted:
            shown = "not set" if got == "n" else got
            return (
                f"configure: '{edit}' did not stick: olddefconfig left "
                f"CONFIG_{edit.symbol} {shown} (unmet dependency?)"
            )
    stamp_text = json.dumps(_stamp(tree, target), indent=2, sort_keys=True) + "\n"
    (out / STAMP_NAME).write_text(stamp_text, encoding="utf-8")
    return ""


class _Runner:
    """Runs the commands of one target, collecting their output."""

    def __init__(self, tree: Path, target: Target, out: Path, timeout: float | None):
        self.tree = tree
        self.target = target
        self.out = out
        self.timeout = timeout
        self.output = ""  # everything run so far, for the log tail
        self.last_output = ""
        self.failure = ""
        self.env = kbuild_env()
        self._log_started = False

    def make(self, *goals: str) -> bool:
        cmd = [
            "make",
            "-C", str(self.tree),
            f"O={self.out}",
            f"ARCH={self.target.arch}",
            f"CROSS_COMPILE={self.target.cross_compile}",
            *goals,
        ]
        return self.run(cmd, "make " + " ".join(goals))

    def run(self, cmd: list[str], label: str = "") -> bool:
        label = label or Path(cmd[0]).name
        log.debug("%s: running %s", self.target.name, " ".join(cmd))
        try:
            proc = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                env=self.env,
                cwd=self.out,
                start_new_session=True,  # a timeout can stop make and its children
            )
        except OSError as exc:
            self.failure = f"{label} could not start: {exc.strerror or exc}"
            self.last_output = ""
            self.output += f"$ {' '.join(cmd)}\n{self.failure}\n"
            return False
        timed_out = False
        try:
            raw, _ = proc.communicate(timeout=self.timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            os.killpg(proc.pid, signal.SIGKILL)
            raw, _ = proc.communicate()
        text = raw.decode("utf-8", errors="replace")
        self.last_output = text
        self.output += f"$ {' '.join(cmd)}\n{text}"
        self._append_log(cmd, text)
        if timed_out:
            self.failure = f"{label} timed out after {self.timeout:g} s"
            return False
        if proc.returncode != 0:
            self.failure = _first_error(self.relative(text)) or f"{label} exited with status {proc.returncode}"
            return False
        return True

    def relative(self, text: str) -> str:
        """``text`` with the tree's paths made relative, as in the tree's own terms."""
        return text.replace(f"{self.tree}/", "")

    def _append_log(self, cmd: list[str], text: str) -> None:
        mode = "a" if self._log_started else "w"
        self._log_started = True
        try:
            with open(self.out / LOG_NAME, mode, encoding="utf-8") as fh:
                fh.write(f"$ {' '.join(cmd)}\n{text}")
        except OSError as exc:
            log.warning("%s: cannot write build log: %s", self.target.name, exc)


def _stamp(tree: Path, target: Target) -> dict[str, object]:
    return {"scheme": _STAMP_SCHEME, "tree": str(tree), **target.config_inputs()}


def _read_stamp(out: Path) -> dict | None:
    try:
        data = json.loads((out / STAMP_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _stamp_matches(out: Path, tree: Path, target: Target) -> bool:
    return (out / ".config").is_file() and _read_stamp(out) == _stamp(tree, target)


_CONFIG_SET = re.compile(r"CONFIG_([A-Za-z0-9_]+)=(.*)")
_CONFIG_UNSET = re.compile(r"# CONFIG_([A-Za-z0-9_]+) is not set")


def _read_config(path: Path) -> dict[str, str]:
    """The symbols of a .config: value text, or "n" when not set."""
    values: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        if m := _CONFIG_SET.fullmatch(line):
            values[m.group(1)] = m.group(2)
        elif m := _CONFIG_UNSET.fullmatch(line):
            values[m.group(1)] = "n"
    return values


def kbuild_env() -> dict[str, str]:
    """The environment for make: none of the caller's kbuild variables, C messages."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in _ENV_DROP and not k.startswith(_ENV_DROP_PREFIXES)
    }
    # Plain ASCII messages.  kbuild unexports LC_ALL, so LANG says it too.
    env["LANG"] = env["LC_ALL"] = "C"
    return env


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock, so two runs never share a build directory."""
    with open(path, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


_MAKE_PREFIX = re.compile(r"^(make(\[\d+\])?: )?(\*\*\* ?)*")
_ERROR_RE = re.compile(r"(error:|\*\*\* |No rule to make target|not found|Error \d)")


def _first_error(text: str) -> str:
    for line in text.splitlines():
        if _ERROR_RE.search(line):
            return _shorten(_MAKE_PREFIX.sub("", line.strip()))
    return ""


def _warnings(text: str) -> tuple[str, ...]:
    return tuple(line.strip() for line in text.splitlines() if ": warning: " in line)


def _tail(text: str) -> str:
    return "\n".join(text.rstrip("\n").splitlines()[-_TAIL_LINES:])


def _shorten(line: str, limit: int = 240) -> str:
    line = " ".join(line.split())
    return line if len(line) <= limit else line[: limit - 3] + "..."
