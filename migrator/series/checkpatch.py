"""Run the tree's own scripts/checkpatch.pl on a patch and read its verdict.

checkpatch writes `.checkpatch-camelcase.*` files into its working
directory, so it runs in a temporary one.  A missing perl or script is a
result with a reason, never an exception: the series is still worth having.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

SCRIPT = "scripts/checkpatch.pl"
_TOTAL_RE = re.compile(r"^total: (\d+) errors?, (\d+) warnings?, (?:(\d+) checks?, )?(\d+) lines? checked", re.M)
_HEAD_RE = re.compile(r"^(ERROR|WARNING|CHECK):(?:([A-Z0-9_]+):)? ?(.*)$")
_WHERE_RE = re.compile(r"^#\d+: FILE: (.*?):?$")


@dataclass(frozen=True)
class Message:
    level: str  # ERROR, WARNING or CHECK
    type: str  # checkpatch's type name, e.g. LONG_LINE
    text: str
    where: str  # FILE:LINE in the patched tree, or "" for the commit message

    def line(self) -> str:
        at = f" ({self.where})" if self.where else ""
        return f"{self.level}: {self.text}{at}"


@dataclass(frozen=True)
class CheckpatchResult:
    ran: bool
    reason: str = ""  # why it did not run, or how it failed
    errors: int = 0
    warnings: int = 0
    checks: int = 0
    messages: tuple[Message, ...] = ()
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.ran and self.errors == 0

    def summary(self) -> str:
        if not self.ran:
            return f"not run: {self.reason}"
        return f"{self.errors} errors, {self.warnings} warnings"


def available(tree: str | os.PathLike) -> str:
    """"" when checkpatch can run on tree's patches, else why not."""
    if shutil.which("perl") is None:
        return "perl not found on PATH"
    if not (Path(tree) / SCRIPT).is_file():
        return f"no {SCRIPT} in the tree"
    return ""


def parse_output(text: str) -> tuple[int, int, int, tuple[Message, ...]] | None:
    total = _TOTAL_RE.search(text)
    if total is None:
        return None
    messages = []
    for block in text.split("\n\n"):
        lines = block.strip("\n").splitlines()
        if not lines:
            continue
        head = _HEAD_RE.match(lines[0])
        if head is None:
            continue
        where = ""
        for line in lines[1:]:
            w = _WHERE_RE.match(line)
            if w:
                where = w.group(1)
                break
        messages.append(Message(head.group(1), head.group(2) or "", head.group(3).strip(), where))
    errors, warnings, checks = int(total.group(1)), int(total.group(2)), int(total.group(3) or 0)
    return errors, warnings, checks, tuple(messages)


def run_checkpatch(tree: str | os.PathLike, patch: str | os.PathLike, timeout: float = 600) -> CheckpatchResult:
    """checkpatch.pl of tree on one patch file."""
    import time

    why = available(tree)
    if why:
        return CheckpatchResult(False, why)
    start = time.monotonic()
    script = str(Path(tree).resolve() / SCRIPT)
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env["LANG"] = env["LC_ALL"] = "C"
    with tempfile.TemporaryDirectory(prefix="migrator-checkpatch-") as cwd:
        try:
            run = subprocess.run(
                ["perl", script, "--color=never", "--show-types", str(Path(patch).resolve())],
                cwd=cwd, capture_output=True, env=env, timeout=timeout, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            return CheckpatchResult(False, f"timed out after {timeout:g} s")
    seconds = round(time.monotonic() - start, 2)
    text = run.stdout.decode("utf-8", errors="replace")
    parsed = parse_output(text)
    if parsed is None:
        last = (run.stderr.decode("utf-8", errors="replace").strip().splitlines() or ["no summary line"])[-1]
        return CheckpatchResult(False, f"checkpatch failed: {last}", seconds=seconds)
    errors, warnings, checks, messages = parsed
    return CheckpatchResult(True, "", errors, warnings, checks, messages, seconds)
