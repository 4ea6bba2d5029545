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
