"""rag_ingest's progress bar: redrawn per document, with lines printed above it (issue 18, item 9)."""

from __future__ import annotations

import io
import logging

import pytest
from django.core.management import call_command

from django_rag.management.progress import ProgressBar


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def screen(output: str) -> list[str]:
    """What a terminal shows: each line as the last \\r and erase-line left it."""
    return [line.split("\r")[-1].replace("\x1b[2K", "") for line in output.split("\n")]


@pytest.fixture
def files(tmp_path, settings):
    settings.MEDIA_ROOT = tmp_path / "media"
    folder = tmp_path / "docs"
    folder.mkdir()
    for n in range(5):
        (folder / f"doc-{n}.md").write_text(f"# Doc {n}\n\nParental leave rule number {n} is twenty days.\n")
    (folder / "broken.pdf").write_bytes(b"%PDF-1.4 not really")
    return folder


@pytest.mark.django_db
def test_lines_and_logs_appear_above_the_bar_on_a_terminal(files):
    terminal = Terminal()
    handler = logging.StreamHandler(terminal)
    logger = logging.getLogger("django_rag")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        call_command("rag_ingest", str(files), "--sync", stdout=io.StringIO(), stderr=terminal)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(logging.NOTSET)
    shown = screen(terminal.getvalue())
    # The bar was drawn once per document (6), each time with the next count.
    counts = [part.split("] ", 1)[1].split(" ", 1)[0] for part in terminal.getvalue().split("\r") if "] " in part]
    assert [c for c in dict.fromkeys(counts)] == [f"{n}/6" for n in range(1, 7)]
    # Every document's line, and every log line, is a line of its own: none glued to a bar.
    ingested = [line for line in shown if line.startswith("ingested  ")]
    assert len(ingested) == 5 and all(line.endswith(" s") and "[" not in line for line in ingested)
    assert any(line.startswith("failed    broken.pdf: The PDF could not be read") for line in shown)
    logged = [line for line in shown if line.startswith("Ingested document")]
    assert len(logged) == 5 and not any("[#" in line for line in logged)
    # The bar stays one line on screen, below all of them, and ends full.
    bars = [n for n, line in enumerate(shown) if line.startswith("Ingesting [")]
    assert len(bars) == 1 and "6/6" in shown[bars[0]]
    assert all(not line.startswith(("ingested", "Ingested")) for line in shown[bars[0]:])


def test_off_a_terminal_each_item_gets_a_line_until_there_are_many():
    log = io.StringIO()
    bar = ProgressBar(7, stream=log)
    for _ in range(7):
        bar.advance()
    assert [line.split("] ")[1].split(" ")[0] for line in log.getvalue().splitlines()] == [f"{n}/7" for n in range(1, 8)]
    log = io.StringIO()
    bar = ProgressBar(5000, stream=log)
    for _ in range(5000):
        bar.advance()
    assert len(log.getvalue().splitlines()) == 1000
