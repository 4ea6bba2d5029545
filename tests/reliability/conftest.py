"""Faults caused for real: worker processes, killed connections, failing providers.

Each test causes one fault and then checks the rows: chunk counts, statuses, no
orphans, no duplicates, the previous version still searchable where there was one.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.db.models import Count

from django_rag.models import Chunk, Document
from tests.api.conftest import bearer, client, key_for, user  # noqa: F401 (the REST API's fixtures)
from tests.surfaces.test_worker import test_database_url

#: A document of five or so chunks at the tests' CHUNK_SIZE=400.
POLICY = "\n\n".join(
    f"# Rule {n}\n\n" + f"Rule {n} of the travel policy says receipts are kept for {n} years. " * 6
    for n in range(1, 6)
)


def worker_env(**overrides) -> dict[str, str]:
    """The environment of a Django process on the test database, with DJANGO_RAG ``overrides``."""
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": test_database_url(),
        "DJANGO_RAG_TEST_MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "DJANGO_RAG_TEST_OVERRIDES": json.dumps(overrides),
        "PYTHONPATH": str(settings.REPO_DIR),
    }


def python(code: str, log: Path, **overrides) -> subprocess.Popen:
    """Run ``code`` in a new Python process with Django set up on the test database."""
    script = "import django; django.setup()\n" + code
    return subprocess.Popen(
        [sys.executable, "-c", script], env=worker_env(**overrides), stdout=log.open("w"),
        stderr=subprocess.STDOUT, cwd=settings.REPO_DIR,
    )


def qcluster(log: Path, **overrides) -> subprocess.Popen:
    """``manage.py qcluster`` in a process group of its own (so a test can SIGKILL all of it)."""
    return subprocess.Popen(
        [sys.executable, "-m", "django", "qcluster"], env=worker_env(**overrides), stdout=log.open("w"),
        stderr=subprocess.STDOUT, cwd=settings.REPO_DIR, start_new_session=True,
    )


def stop_cluster(process: subprocess.Popen) -> None:
    """Stop a qcluster cleanly (SIGINT to the main pid, see ENVIRONMENT.md), or kill its group."""
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    try:  # children a SIGKILLed main process left behind
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def wait_for(condition, what: str, timeout: float = 30.0, interval: float = 0.05):
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(interval)


def assert_one_copy(document: Document) -> None:
    """The document's chunks are exactly one set: indexes 0..n-1, once each, n = chunk_count."""
    document.refresh_from_db()
    indexes = list(Chunk.objects.filter(document=document).order_by("index").values_list("index", flat=True))
    assert indexes == list(range(document.chunk_count)), indexes
    assert not Chunk.objects.values("document_id", "index").annotate(n=Count("id")).filter(n__gt=1).exists()
    # No orphans: every chunk belongs to a document that exists.
    assert not Chunk.objects.exclude(document_id__in=Document.objects.values("pk")).exists()


@pytest.fixture
def logs(tmp_path):
    """Paths for subprocess logs; their tails are shown when a test fails."""
    made: list[Path] = []

    def new(name: str) -> Path:
        path = tmp_path / name
        made.append(path)
        return path

    new.tails = lambda: "\n".join(f"--- {p.name}\n{p.read_text()[-3000:]}" for p in made if p.exists())
    yield new
