"""A dependency-free progress bar for management commands."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class ProgressBar:
    """``[#####.....] 12/40 30% 3.1/s`` on a TTY; one line every 10% elsewhere (CI logs)."""

    def __init__(self, total: int, *, stream: TextIO | None = None, label: str = "", width: int = 30) -> None:
        self.total, self.label, self.width = max(total, 0), label, width
        self.stream = stream or sys.stderr
        self.done = 0
        self.started = time.monotonic()
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self._last_decile = -1

    def advance(self, n: int = 1, note: str = "") -> None:
        self.done += n
        self.render(note)

    def render(self, note: str = "") -> None:
        fraction = self.done / self.total if self.total else 1.0
        rate = self.done / max(time.monotonic() - self.started, 1e-9)
        filled = int(self.width * fraction)
        line = (
            f"{self.label}[{'#' * filled}{'.' * (self.width - filled)}] "
            f"{self.done}/{self.total} {fraction:4.0%} {rate:.1f}/s {note}"
        )
        if self.tty:
            self.stream.write("\r" + line[:200].ljust(100))
            self.stream.flush()
        elif int(fraction * 10) != self._last_decile:
            self._last_decile = int(fraction * 10)
            self.stream.write(line.rstrip() + "\n")

    def close(self) -> None:
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()
