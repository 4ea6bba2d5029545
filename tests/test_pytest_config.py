"""The suite's own configuration says why tests are skipped (issue 18, item 14)."""

from __future__ import annotations

import subprocess
import sys

from tests.settings import REPO_DIR


def test_skipped_tests_say_why_in_the_summary(tmp_path):
    (tmp_path / "test_skipping.py").write_text(
        "import pytest\n\n@pytest.mark.skip(reason='no Chromium found')\ndef test_x():\n    pass\n"
    )
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:django", "--rootdir", str(REPO_DIR), "-c",
         str(REPO_DIR / "pyproject.toml"), str(tmp_path / "test_skipping.py")],
        capture_output=True, text=True, timeout=120, cwd=REPO_DIR,
    )
    assert "SKIPPED [1]" in done.stdout and "no Chromium found" in done.stdout, done.stdout
