"""django-q2 on a real Redis broker, with two clusters standing for two worker machines."""

from __future__ import annotations

import collections
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings

from django_rag.models import Chunk, Document

from .conftest import run_script

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

SCRIPT = Path(__file__).with_name("site_process.py")
QUEUE_KEY = "django_q:django_rag_tests_redis:q"  # django-q2's Redis list for the cluster name


@pytest.fixture
def clusters(site_env, tmp_path):
    """Start ``qcluster`` processes on the Redis broker; stop them cleanly afterwards."""
    started = []

    def start(count: int = 2):
        for n in range(count):
            log = (tmp_path / f"qcluster-{n}.log").open("w+")
            process = subprocess.Popen(
                [sys.executable, str(SCRIPT), "qcluster"], env=site_env, cwd=settings.REPO_DIR,
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )
            started.append((process, log))
        return started

    yield start
    for process, log in started:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)  # the main pid only (ENVIRONMENT.md)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        log.close()


def logs(started) -> str:
    text = []
    for _process, log in started:
        log.seek(0)
        text.append(log.read()[-2000:])
    return "\n---\n".join(text)


def wait_until_ready(ids: list[int], started, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if Document.objects.filter(pk__in=ids, status=Document.Status.READY).count() == len(ids):
            return
        time.sleep(0.25)
    statuses = collections.Counter(Document.objects.filter(pk__in=ids).values_list("status", flat=True))
    pytest.fail(f"not every document became ready: {dict(statuses)}\n{logs(started)}")


def test_two_clusters_share_200_uploads_each_ingested_once(collection, site_env, clusters, redis_client):
    output = run_script(site_env, "site_process.py", "upload", str(collection.pk), "200")
    ids = [int(line) for line in output.split()]
    assert len(ids) == 200 and Document.objects.count() == 200
    # The web process's saves put one task each on Redis; no worker has run yet.
    assert redis_client.llen(QUEUE_KEY) == 200
    assert set(Document.objects.values_list("status", flat=True)) == {Document.Status.PENDING}

    started = clusters(2)

    wait_until_ready(ids, started)
    # The monitor may record the last events a moment after the status commit.
    deadline = time.monotonic() + 10
    while redis_client.llen("ingested_by") < 200 and time.monotonic() < deadline:
        time.sleep(0.1)
    events = [item.decode().split(":") for item in redis_client.lrange("ingested_by", 0, -1)]
    per_document = collections.Counter(int(document) for _pid, document in events)
    per_cluster = collections.Counter(int(pid) for pid, _document in events)

    assert sorted(per_document) == sorted(ids), "every upload is ingested"
    assert set(per_document.values()) == {1}, "and exactly once"
    assert set(per_cluster) == {process.pid for process, _log in started}, f"both clusters worked: {per_cluster}"
    # One copy of every document's chunks: each memo is one short chunk.
    per_document_chunks = collections.Counter(Chunk.objects.values_list("document_id", flat=True))
    assert per_document_chunks == {pk: 1 for pk in ids}
    assert redis_client.llen(QUEUE_KEY) == 0, "nothing is left on the queue"
