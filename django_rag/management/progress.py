"""A dependency-free progress bar for management commands."""

from __future__ import annotations

import contextlib
import logging
import sys
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, TextIO, cast

if TYPE_CHECKING:
    from django.core.management.base import OutputWrapper

#: Off a terminal (CI logs, a pipe), at most this many progress lines for a whole run.
MAX_LOG_LINES = 1000


def raw_stream(output: OutputWrapper) -> TextIO:
    """The stream under a command's ``self.stderr``: a bar redraws its line with "\\r",
    and the wrapper's ``write()`` would end every piece with a newline."""
    # OutputWrapper._out is not in django-stubs, whose __getattr__ makes any name a method.
    return cast("TextIO", output._out)


class ProgressBar:
    """``[#####.....] 12/40 30% 3.1/s`` on a TTY, redrawn after every item.

    Lines written with :meth:`write` (and, inside :meth:`lines_above`, what loggers print
    to the same stream) appear above the bar instead of breaking it. Elsewhere (CI logs,
    a pipe) each item gets a line of its own, or every ``total / MAX_LOG_LINES`` items.
    """

    def __init__(self, total: int, *, stream: TextIO | None = None, label: str = "", width: int = 30) -> None:
        self.total, self.label, self.width = max(total, 0), label, width
        self.stream = stream or sys.stderr
        self.done = 0
        self.started = time.monotonic()
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.every = max(1, -(-self.total // MAX_LOG_LINES))  # ceil: one line per this many items
        self._shown = False  # the bar is on the screen's last line

    def advance(self, n: int = 1, note: str = "") -> None:
        self.done += n
        self.render(note)

    def line(self, note: str = "") -> str:
        fraction = self.done / self.total if self.total else 1.0
        rate = self.done / max(time.monotonic() - self.started, 1e-9)
        filled = int(self.width * fraction)
        return (
            f"{self.label}[{'#' * filled}{'.' * (self.width - filled)}] "
            f"{self.done}/{self.total} {fraction:4.0%} {rate:.1f}/s {note}"
        ).rstrip()

    def render(self, note: str = "") -> None:
        self._note = note
        if self.tty:
            # \r and "erase line": a shorter line leaves nothing of the longer one before it.
            self.stream.write("\r\x1b[2K" + self.line(note)[:200])
            self.stream.flush()
            self._shown = True
        elif self.done % self.every == 0 or self.done == self.total:
            self.stream.write(self.line(note) + "\n")

    def write(self, text: str) -> None:
        """Print ``text`` on lines of its own above the bar."""
        if self.tty and self._shown:
            self.stream.write("\r\x1b[2K")
        self.stream.write(text.rstrip("\n") + "\n")
        if self.tty and self._shown:
            self.stream.write(self.line(getattr(self, "_note", ""))[:200])
        self.stream.flush()

    @contextlib.contextmanager
    def lines_above(self) -> Iterator[None]:
        """While it runs, log handlers printing to this bar's stream print above the bar."""
        if not self.tty:
            yield
            return
        above = _Above(self)
        loggers = [logging.getLogger()] + [
            logger for logger in logging.Logger.manager.loggerDict.values() if isinstance(logger, logging.Logger)
        ]
        moved = []
        for logger in loggers:
            for handler in logger.handlers:
                if type(handler) is logging.StreamHandler and handler.stream in (self.stream, sys.stderr):
                    moved.append((handler, handler.setStream(above)))
        try:
            yield
        finally:
            for handler, stream in moved:
                handler.setStream(stream)

    def close(self) -> None:
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()


class _Above:
    """A stream for log handlers: whole lines go above the bar."""

    def __init__(self, bar: ProgressBar) -> None:
        self.bar, self.pending = bar, ""

    def write(self, text: str) -> int:
        self.pending += text
        *lines, self.pending = self.pending.split("\n")
        for line in lines:
            self.bar.write(line)
        return len(text)

    def flush(self) -> None:
        pass
