"""The documentation site builds with ``mkdocs build --strict``, and its examples parse."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PAGES = sorted((REPO / "docs").rglob("*.md"))
FENCE = re.compile(r"^(?P<indent>[ \t]*)```(?P<lang>[\w+-]*)[^\n]*\n(?P<body>.*?)^(?P=indent)```[ \t]*$", re.M | re.S)


def python_examples():
    for page in PAGES:
        for match in FENCE.finditer(page.read_text()):
            if match["lang"] == "python":
                line = page.read_text().count("\n", 0, match.start()) + 1
                body = "\n".join(l[len(match["indent"]):] for l in match["body"].splitlines())
                yield pytest.param(body, id=f"{page.relative_to(REPO)}:{line}")


@pytest.mark.slow
def test_the_site_builds_strictly(tmp_path):
    """No broken link, no missing anchor, no page left out of the navigation."""
    completed = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=REPO, capture_output=True, text=True, timeout=300, env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert completed.returncode == 0, completed.stderr[-4000:]
    assert (tmp_path / "site" / "reference" / "python-api" / "index.html").exists()
    api = (tmp_path / "site" / "reference" / "python-api" / "index.html").read_text()
    assert "django_rag.ask" in api and "read_from_primary" in api, "the API reference is generated from the code"


@pytest.mark.parametrize("source", list(python_examples()))
def test_every_python_example_is_valid_python(source):
    ast.parse(source)


IMAGE = re.compile(r"!\[[^\]]*\]\((?P<path>[^)\s]+)(?:\s+\"[^\"]*\")?\)|<img\s[^>]*src=\"(?P<src>[^\"]+)\"")
IMAGES = REPO / "docs" / "images"
BROWSER_TESTS = REPO / "tests" / "surfaces" / "test_browser.py"
# A screenshot 1200 pixels wide, reduced to 256 colours, is 30 to 120 KB.
MAX_IMAGE_BYTES = 250_000


def shown_images() -> dict[Path, list[str]]:
    """Every image file the pages show, with the pages showing it."""
    shown: dict[Path, list[str]] = {}
    for page in PAGES:
        for match in IMAGE.finditer(page.read_text()):
            target = match["path"] or match["src"]
            assert "://" not in target, f"{page.relative_to(REPO)}: {target} is not in docs/ (the site asks no third party)"
            shown.setdefault((page.parent / target).resolve(), []).append(str(page.relative_to(REPO)))
    return shown


def png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n" and header[12:16] == b"IHDR", f"{path.name} is not a PNG"
    return int.from_bytes(header[16:20], "big"), int.from_bytes(header[20:24], "big")


def test_every_image_a_page_shows_exists():
    shown = shown_images()
    assert len(shown) >= 7
    missing = {str(path.relative_to(REPO)): pages for path, pages in shown.items() if not path.is_file()}
    assert not missing, f"pages show images that are not there: {missing}"


def test_every_image_in_docs_is_shown_small_and_taken_by_the_browser_tests():
    """No image is left over, none is large, and each is one the browser tests retake
    (``doc_screenshot(page, NAME)`` in tests/surfaces/test_browser.py), so none goes stale by hand."""
    shown = shown_images()
    taken = set(re.findall(r"doc_screenshot\(page, \"([\w-]+)\"", BROWSER_TESTS.read_text()))
    for image in sorted(IMAGES.iterdir()):
        assert image.resolve() in shown, f"docs/images/{image.name} is shown by no page"
        assert image.stat().st_size <= MAX_IMAGE_BYTES, f"docs/images/{image.name}: {image.stat().st_size} bytes"
        assert png_size(image)[0] <= 1200, f"docs/images/{image.name} is {png_size(image)[0]} px wide"
        assert image.stem in taken, f"docs/images/{image.name} is not taken by the browser tests"
