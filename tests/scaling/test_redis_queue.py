"""django-q2 on a real Redis broker, with two clusters standing for two worker machines."""

from __future__ import annotations

import collections
import json
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

    def start(count: int = 2, **overrides):
        """``overrides``: DJANGO_RAG settings of these clusters (tests/settings.py reads them)."""
        env = {**site_env, "DJANGO_RAG_TEST_OVERRIDES": json.dumps(overrides)} if overrides else site_env
        for _ in range(count):
            log = (tmp_path / f"qcluster-{len(started)}.log").open("w+")
            process = subprocess.Popen(
                [sys.executable, str(SCRIPT), "qcluster"], env=env, cwd=settings.REPO_DIR,
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
        try:  # the workers of a cluster whose main process was SIGKILLed
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
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


def ingested_events(redis_client) -> list[tuple[int, int]]:
    """``(cluster pid, document id)`` of every ingestion the clusters recorded."""
    return [tuple(map(int, item.decode().split(":"))) for item in redis_client.lrange("ingested_by", 0, -1)]


def wait_for(condition, what: str, started, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while not (result := condition()):
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}\n{logs(started)}")
        time.sleep(0.05)
    return result


def test_one_cluster_killed_mid_run_the_other_finishes_every_upload_once(collection, site_env, clusters, redis_client):
    """A machine dies mid-run (SIGKILL to its whole cluster): no upload is lost or done twice.

    The dead cluster had taken tasks from Redis that no one else will ever see: the one
    its worker was running (the document stays ``processing`` until its lease expires:
    ``stuck()``) and the ones its pusher had fetched ahead (the documents stay
    ``pending``, with no lease: ``waiting()``). ``rag_ingest --stale --pending-for``
    queues both kinds again, and the surviving cluster ingests them.
    """
    output = run_script(site_env, "site_process.py", "upload", str(collection.pk), "200")
    ids = [int(line) for line in output.split()]
    assert len(ids) == 200 and redis_client.llen(QUEUE_KEY) == 200

    # Same embedder (same identity) on both; the doomed one takes a second an embedding
    # call, so that the kill lands inside an ingestion, between its lease and its commit.
    common = {"INGEST_LEASE_SECONDS": 2, "EMBEDDERS": {"default": {
        "BACKEND": "django_rag.embedders.testing.Embedder", "OPTIONS": {"dimensions": 64}}}}
    slow = {**common, "EMBEDDERS": {"default": {
        "BACKEND": "django_rag.embedders.testing.Embedder", "OPTIONS": {"dimensions": 64, "delay": 1.0}}}}
    doomed = clusters(1, **slow)[-1][0]
    started = clusters(1, **common)
    survivor = started[-1][0]

    def doomed_lease():
        # lease_owner is "host:pid:token", the pid of one of the doomed cluster's workers.
        for pk, owner in Document.objects.filter(status=Document.Status.PROCESSING).values_list("pk", "lease_owner"):
            try:
                if owner and os.getpgid(int(owner.split(":")[-2])) == doomed.pid:
                    return pk
            except ProcessLookupError:
                continue
        return None

    wait_for(lambda: any(pid == doomed.pid for pid, _ in ingested_events(redis_client)),
             "the doomed cluster to ingest a document", started)
    in_flight = wait_for(doomed_lease, "the doomed cluster to start another one", started)
    os.killpg(doomed.pid, signal.SIGKILL)  # the whole cluster, as a machine dying would
    doomed.wait(timeout=10)
    assert redis_client.llen(QUEUE_KEY) > 0, "the kill must land while work is still queued"

    # The survivor empties the queue; what the dead cluster held is all that is left.
    wait_for(lambda: redis_client.llen(QUEUE_KEY) == 0, "the queue to drain", started)
    # The survivor may still hold a task or two it took from Redis (its worker's and its
    # pusher's): settled once no document has changed for a while (one takes it ~50 ms).
    def settled():
        ready = Document.objects.filter(status=Document.Status.READY).count()
        time.sleep(1.5)
        return ready == Document.objects.filter(status=Document.Status.READY).count() and not (
            Document.objects.filter(status=Document.Status.PROCESSING).exclude(pk=in_flight).exists()
        )

    wait_for(settled, "the survivor to finish what it took", started)
    wait_for(lambda: Document.objects.stuck().filter(pk=in_flight).exists(), "the dead worker's lease to expire", started)
    assert list(Document.objects.stuck().values_list("pk", flat=True)) == [in_flight]
    lost = set(Document.objects.filter(status=Document.Status.PENDING).values_list("pk", flat=True))
    assert lost, "the dead cluster's pusher had fetched tasks ahead of its worker"
    assert set(Document.objects.waiting(1).values_list("pk", flat=True)) == lost
    assert not Document.objects.waiting(3600).exists()

    # The sweep an operator (or a schedule) runs, from another process of the site.
    env = {**site_env, "DJANGO_RAG_TEST_OVERRIDES": json.dumps({"QUEUE": "django_q"})}
    sweep = subprocess.run([sys.executable, "-m", "django", "rag_ingest", "--stale", "--pending-for", "1"],
                           env=env, cwd=settings.REPO_DIR, capture_output=True, text=True, timeout=60)
    assert sweep.returncode == 0, sweep.stderr[-3000:]
    assert "1 documents were left processing" in sweep.stdout
    assert f"{len(lost)} documents were pending for more than 1 s" in sweep.stdout
    assert f"{len(lost) + 1} documents queued" in sweep.stdout

    wait_until_ready(ids, started, timeout=60)
    deadline = time.monotonic() + 10
    while redis_client.llen("ingested_by") < 200 and time.monotonic() < deadline:
        time.sleep(0.1)
    events = ingested_events(redis_client)
    per_document = collections.Counter(document for _pid, document in events)
    per_cluster = collections.Counter(pid for pid, _document in events)
    assert sorted(per_document) == sorted(ids), "every upload is ingested"
    assert set(per_document.values()) == {1}, "and exactly once"
    assert set(per_cluster) == {doomed.pid, survivor.pid}, per_cluster
    assert all(pid == survivor.pid for pid, document in events if document in lost | {in_flight})
    assert collections.Counter(Chunk.objects.values_list("document_id", flat=True)) == {pk: 1 for pk in ids}
    assert not Document.objects.stuck().exists() and redis_client.llen(QUEUE_KEY) == 0
