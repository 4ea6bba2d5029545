"""Leases: a lost worker is noticed, a document is ingested again, never twice at once."""

from __future__ import annotations

import json
import math
import os
import signal
import time
from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

import django_rag
from django_rag.embedders.hashing import Embedder as HashingEmbedder
from django_rag.models import Chunk, Document
from django_rag.tasks import requeue_stale
from tests.ingestion.test_concurrency import other_session

from .conftest import POLICY, assert_one_copy, python, qcluster, stop_cluster, wait_for

NEW_POLICY = POLICY.replace("receipts", "invoices")


class HookedEmbedder(HashingEmbedder):
    """The hashing embedder, calling ``hook()`` before each batch (to act mid-ingestion)."""

    def __init__(self, hook, **options):
        super().__init__(alias="default", dimensions=64, **options)
        self.hook = hook

    def embed_documents(self, texts):
        self.hook()
        return super().embed_documents(texts)


def lease_of(document):
    return Document.objects.filter(pk=document.pk).values_list("status", "lease_owner", "lease_expires_at").get()


def new_version(document, text=NEW_POLICY):
    document.file.save("policy.md", ContentFile(text.encode()), save=False)
    document.save(update_fields=["file"])


@pytest.mark.django_db
def test_an_ingestion_holds_a_lease_while_it_embeds_and_clears_it_at_the_end(make_document):
    document = make_document(POLICY, name="policy.md")
    seen = []
    result = django_rag.ingest(document, embedder=HookedEmbedder(lambda: seen.append(lease_of(document))))
    assert result.status == "ingested"
    status, owner, expires = seen[0]
    assert status == "processing" and owner.split(":")[1] == str(os.getpid())
    assert timedelta(seconds=290) < expires - timezone.now() <= timedelta(seconds=300)  # INGEST_LEASE_SECONDS
    assert lease_of(document) == ("ready", "", None)


@pytest.mark.django_db(transaction=True)
def test_a_worker_whose_document_was_taken_over_writes_nothing(make_document):
    """The fence: a worker that lost its lease (its session was cut and another worker
    took over) finds another owner at commit and leaves that worker's result alone."""
    document = make_document(POLICY, name="policy.md")
    django_rag.ingest(document)
    before = list(Chunk.objects.filter(document=document).values_list("pk", "content"))
    new_version(document)

    def take_over():
        with other_session() as other:
            other.execute(
                "UPDATE django_rag_document SET lease_owner = 'other-host:1:cafe', lease_expires_at = now() + interval '1 hour'"
                " WHERE id = %s", [document.pk],
            )

    result = django_rag.ingest(document, embedder=HookedEmbedder(take_over))
    assert (result.status, result.error_code) == ("busy", "lease_lost")
    assert list(Chunk.objects.filter(document=document).values_list("pk", "content")) == before
    status, owner, _expires = lease_of(document)
    assert (status, owner) == ("processing", "other-host:1:cafe")  # the other worker's state, untouched


@pytest.mark.django_db(transaction=True)
def test_ingest_many_skips_only_the_documents_taken_over(make_document):
    first, second = make_document(POLICY, name="a.md"), make_document(NEW_POLICY, name="b.md")

    def take_over_second():
        with other_session() as other:
            other.execute("UPDATE django_rag_document SET lease_owner = 'other:1:x' WHERE id = %s", [second.pk])

    results = django_rag.ingest_many([first, second], embedder=HookedEmbedder(take_over_second))
    by_id = {r.document_id: (r.status, r.error_code) for r in results}
    assert by_id == {first.pk: ("ingested", ""), second.pk: ("busy", "lease_lost")}
    assert Chunk.objects.filter(document=first).count() > 0
    assert not Chunk.objects.filter(document=second).exists()


def leave_processing(document, *, expired: bool, owner="dead-host:4242:beef"):
    """What a worker killed mid-ingestion leaves behind: processing, with its lease."""
    expires = timezone.now() + timedelta(seconds=-5 if expired else 300)
    Document.objects.filter(pk=document.pk).update(status="processing", lease_owner=owner, lease_expires_at=expires)


@pytest.mark.django_db
def test_an_expired_lease_makes_a_document_stuck_and_rag_ingest_stale_ingests_it_again(make_document, capsys):
    dead, alive = make_document(POLICY, name="dead.md"), make_document(NEW_POLICY, name="alive.md")
    django_rag.ingest_many([dead, alive])
    new_version(dead, NEW_POLICY + "\n\nA late addition.")
    leave_processing(dead, expired=True)
    leave_processing(alive, expired=False, owner="live-host:1:feed")

    assert list(Document.objects.stuck()) == [dead]
    call_command("rag_ingest", "--stale", "--sync")
    assert "1 documents: 1 ingested" in capsys.readouterr().out
    assert lease_of(dead) == ("ready", "", None)
    assert Chunk.objects.filter(document=dead, content__contains="late addition").exists()
    assert_one_copy(dead)
    assert lease_of(alive)[:2] == ("processing", "live-host:1:feed")  # a live lease is left alone


@pytest.mark.django_db
def test_a_stale_document_whose_chunks_are_current_is_made_ready_and_its_dead_lease_cleared(make_document):
    document = make_document(POLICY, name="policy.md")
    django_rag.ingest(document)
    leave_processing(document, expired=True)  # killed before it changed anything
    call_command("rag_ingest", "--stale", "--sync")
    assert lease_of(document) == ("ready", "", None)
    assert_one_copy(document)


@pytest.mark.django_db
def test_the_periodic_sweep_queues_stale_documents_again(make_document):
    document = make_document(POLICY, name="policy.md")
    leave_processing(document, expired=True)
    # On the "sync" queue of the tests the queued task runs at once, after the commit.
    from django.test import TestCase

    with TestCase.captureOnCommitCallbacks(execute=True):
        assert requeue_stale() == 1
    assert lease_of(document) == ("ready", "", None)
    assert_one_copy(document)
    assert requeue_stale() == 0


def backdate(document, seconds: float) -> None:
    Document.objects.filter(pk=document.pk).update(updated_at=timezone.now() - timedelta(seconds=seconds))


@pytest.mark.django_db
def test_documents_pending_too_long_are_waiting_whatever_their_task_became(make_document):
    # Saved with ingestion on save off (the tests' setting): pending, as a document
    # whose task a killed worker took from the broker stays.
    lost, fresh = make_document(POLICY, name="lost.md"), make_document(POLICY, name="fresh.md")
    empty, busy = make_document(name="empty"), make_document(POLICY, name="busy.md")
    for document in (lost, empty, busy):
        backdate(document, 120)
    leave_processing(busy, expired=False)
    assert list(Document.objects.waiting(60)) == [lost]  # not fresh, empty (nothing to ingest), busy
    assert set(Document.objects.waiting(0)) == {lost, fresh}
    assert not Document.objects.waiting(600).exists()
    for bad in (-1, math.nan, "60", None, True):
        with pytest.raises(ValueError, match="pending_for"):
            Document.objects.waiting(bad)


@pytest.mark.django_db
def test_the_sweep_queues_waiting_documents_only_when_asked_and_stamps_them_queued(make_document):
    from django.test import TestCase

    lost = make_document(POLICY, name="lost.md")
    backdate(lost, 120)
    assert requeue_stale() == 0, "without pending_for, pending documents are left alone"
    with TestCase.captureOnCommitCallbacks(execute=False) as queued:
        assert requeue_stale(pending_for=60) == 1
    # Queued again now: a second sweep before the task runs does not queue it twice.
    assert not Document.objects.waiting(60).exists()
    for callback in queued:
        callback()
    assert lease_of(lost) == ("ready", "", None)
    assert_one_copy(lost)


@pytest.mark.django_db
def test_rag_ingest_stale_pending_for(make_document, capsys):
    lost, dead = make_document(POLICY, name="lost.md"), make_document(NEW_POLICY, name="dead.md")
    backdate(lost, 120)
    leave_processing(dead, expired=True)
    call_command("rag_ingest", "--stale", "--pending-for", "60", "--sync")
    out = capsys.readouterr().out
    assert "1 documents were left processing" in out and "1 documents were pending for more than 60 s" in out
    assert lease_of(lost)[0] == lease_of(dead)[0] == "ready"
    with pytest.raises(CommandError, match="--pending-for goes with --stale"):
        call_command("rag_ingest", "--pending-for", "60")
    with pytest.raises(CommandError, match="pending_for must be a finite number"):
        call_command("rag_ingest", "--stale", "--pending-for", "-5")


def worker_overrides(**extra):
    # Slow enough that the two workers overlap: one embedding call per chunk, 0.3 s each.
    return {
        "EMBEDDERS": {"default": {"BACKEND": "django_rag.embedders.testing.Embedder",
                                  "OPTIONS": {"dimensions": 64, "delay": 0.3}}},
        "EMBED_BATCH_SIZE": 1, **extra,
    }


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_two_worker_processes_pick_the_same_document_one_ingests_it(make_document, logs, rag_settings):
    rag_settings(**worker_overrides())  # this process searches the same vectors
    document = make_document(POLICY, name="policy.md")
    start_at = time.time() + 3  # both start the task at the same moment, imports done
    code = (
        "import json, time\n"
        "from django_rag.embedders import embedders\n"
        "from django_rag.tasks import ingest_document\n"
        f"time.sleep(max(0, {start_at} - time.time()))\n"
        f"status = ingest_document({document.pk})\n"
        "print(json.dumps({'status': status, 'calls': len(embedders['default'].calls)}))\n"
    )
    paths = [logs("worker-a.log"), logs("worker-b.log")]
    workers = [python(code, path, **worker_overrides()) for path in paths]
    for worker in workers:
        assert worker.wait(timeout=60) == 0, logs.tails()  # no deadlock: both end
    outcomes = [json.loads(path.read_text().strip().splitlines()[-1]) for path in paths]
    document.refresh_from_db()
    # One worker embedded every chunk once; the other waited for the lock, then found
    # the chunks current and embedded nothing.
    assert sorted(o["status"] for o in outcomes) == ["ingested", "unchanged"], outcomes
    assert sorted(o["calls"] for o in outcomes) == [0, document.chunk_count], outcomes
    assert document.status == "ready" and document.chunk_count >= 4
    assert_one_copy(document)
    assert django_rag.search("receipts kept for 3 years", k=1)[0].document_id == document.pk


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_qcluster_killed_mid_task_leaves_the_document_to_be_ingested_again_once(
    make_document, logs, rag_settings
):
    rag_settings(QUEUE="django_q", **worker_overrides(INGEST_LEASE_SECONDS=2))
    document = make_document(POLICY, name="policy.md")
    slow = qcluster(logs("qcluster-killed.log"), **worker_overrides(INGEST_LEASE_SECONDS=2))
    try:
        from django_rag.tasks import enqueue

        enqueue("django_rag.tasks.ingest_document", document.pk)
        wait_for(lambda: lease_of(document)[1], "the worker to take the lease", timeout=60)
        time.sleep(0.5)  # mid-embedding: a chunk or two done, nothing written
        os.killpg(slow.pid, signal.SIGKILL)  # the whole cluster, as a machine dying would
        slow.wait(timeout=10)
    finally:
        stop_cluster(slow)
    status, owner, _expires = lease_of(document)
    assert status == "processing" and owner and not Chunk.objects.filter(document=document).exists()

    wait_for(lambda: Document.objects.stuck().filter(pk=document.pk).exists(), "the lease to expire", timeout=10)
    fresh = qcluster(logs("qcluster-fresh.log"), **worker_overrides(INGEST_LEASE_SECONDS=2))
    try:
        call_command("rag_ingest", "--stale")  # queues it on django-q2
        wait_for(lambda: lease_of(document)[0] == "ready", "the fresh worker to ingest it", timeout=60)
    except AssertionError:
        raise AssertionError(logs.tails()) from None
    finally:
        stop_cluster(fresh)
    assert lease_of(document) == ("ready", "", None)
    assert_one_copy(document)
    assert document.chunk_count >= 4
