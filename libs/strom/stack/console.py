"""What ``ops/stack`` prints: progress on stdout, problems (with log tails) on stderr."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

PROG = "ops/stack"


class StackError(Exception):
    """A command failed; the message (already explained above it, if it has log tails) goes to stderr."""


def seconds(since: float) -> str:
    """Time since ``since`` (``time.monotonic()``) as ``12.34`` s, truncated like the bash tool did."""
    ms = int((time.monotonic() - since) * 1000)
    return f"{ms // 1000}.{ms % 1000 // 10:02d}"


class Console:
    """``say`` prints progress (stdout); ``warn`` problems (stderr). Both can be silenced or
    redirected by passing other callables (the drills run the stack in-process, quietly)."""

    def __init__(self, say: Callable[[str], None] | None = None, warn: Callable[[str], None] | None = None) -> None:
        self.say = say or (lambda line: print(line, flush=True))
        self.warn = warn or (lambda line: print(line, file=sys.stderr, flush=True))

    def tail(self, path: Path, lines: int = 30) -> None:
        """The last ``lines`` lines of ``path`` on the warning stream, framed."""
        try:
            text = path.read_text(errors="replace")
        except OSError:
            text = ""
        if not text:
            self.warn(f"({path} is empty or missing)")
            return
        self.warn(f"---- last {lines} lines of {path} ----")
        for line in text.splitlines()[-lines:]:
            self.warn(line)
        self.warn("----")
