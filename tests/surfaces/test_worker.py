"""A real django-q2 worker (``manage.py qcluster``) ingests what the admin uploaded."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from urllib.parse import quote

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.urls import reverse

from django_rag.models import Chunk, Document

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_database_url() -> str:
    """A DATABASE_URL for the test database (tests/settings.py reads it in the worker)."""
    db = connection.settings_dict
    credentials = f"{quote(db['USER'] or '')}:{quote(db['PASSWORD'] or '')}@"
    if (db["HOST"] or "").startswith("/"):  # the embedded server's Unix socket
        return f"postgresql://{credentials}/{quote(db['NAME'])}?host={quote(db['HOST'])}"
    return f"postgresql://{credentials}{db['HOST'] or 'localhost'}:{db['PORT'] or 5432}/{quote(db['NAME'])}"


test_database_url.__test__ = False  # a helper, not a test


@pytest.fixture
def worker(tmp_path):
    """``manage.py qcluster`` on the test database, stopped with SIGINT (see ENVIRONMENT.md)."""
    log = (tmp_path / "qcluster.log").open("w+")
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": test_database_url(),
        "DJANGO_RAG_TEST_MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "PYTHONPATH": str(settings.REPO_DIR),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "django", "qcluster"], env=env, stdout=log, stderr=subprocess.STDOUT,
        cwd=settings.REPO_DIR,
    )
    yield process, log
    process.send_signal(signal.SIGINT)  # the main pid only: SIGTERM to the group can hang it
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    log.close()


def test_a_worker_ingests_a_document_uploaded_in_the_admin(admin_client, collection, on_save, worker):
    on_save("django_q")
    process, log = worker
    upload = SimpleUploadedFile("leave.md", b"# Leave\n\nParental leave is twenty days.", content_type="text/markdown")
    response = admin_client.post(
        reverse("admin:django_rag_document_add"),
        {"collection": collection.pk, "title": "Leave", "file": upload, "text": "", "source_url": "",
         "language": "", "metadata": "{}", "visibility": "inherit"},
    )
    assert response.status_code == 302
    document = Document.objects.get()
    # Nobody here calls ingest(): only the worker process can make it ready.
    deadline = time.monotonic() + 60
    while document.status != Document.Status.READY and time.monotonic() < deadline:
        assert process.poll() is None, "qcluster exited early"
        time.sleep(0.2)
        document.refresh_from_db()
    log.seek(0)
    assert document.status == Document.Status.READY, log.read()[-3000:]
    assert Chunk.objects.filter(document=document, content__contains="twenty days").exists()
    from django_q.models import Success

    # The cluster's monitor records the result after the task's own commit: wait for it.
    while not Success.objects.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert list(Success.objects.values_list("func", "args")) == [
        ("django_rag.tasks.run", ("django_rag.tasks.ingest_document", [document.pk], {}))
    ]
